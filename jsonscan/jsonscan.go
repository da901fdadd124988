// Package jsonscan finds where JSON values start and end without decoding
// them: the fast paths of the event decoders, which hand anything unusual
// to encoding/json.
package jsonscan

import (
	"bytes"
	"unicode/utf8"
)

// Space returns the index of the first byte at or after i that is not
// JSON whitespace.
func Space(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// PlainString returns the index of the quote that ends the string whose
// contents start at i, if those contents are what they decode to: no
// escape, no control character, valid UTF-8.
func PlainString(data []byte, i int) (int, bool) {
	start, ascii := i, true
	for ; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i, ascii || utf8.Valid(data[start:i])
		case c == '\\' || c < 0x20:
			return 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return 0, false
}

// Value returns the index just past the JSON value that starts at i, or
// false if it is not valid JSON or nests deeper than maxDepth.
func Value(data []byte, i, maxDepth int) (int, bool) {
	return value(data, i, 0, maxDepth)
}

func value(data []byte, i, depth, maxDepth int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch c := data[i]; {
	case c == '"':
		return skipString(data, i+1)
	case c == '{', c == '[':
		if depth >= maxDepth {
			return 0, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = Space(data, i+1)
		if i < len(data) && data[i] == closer {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(data) || data[i] != '"' {
					return 0, false
				}
				if i, ok = skipString(data, i+1); !ok {
					return 0, false
				}
				if i = Space(data, i); i >= len(data) || data[i] != ':' {
					return 0, false
				}
				i = Space(data, i+1)
			}
			if i, ok = value(data, i, depth+1, maxDepth); !ok {
				return 0, false
			}
			if i = Space(data, i); i >= len(data) {
				return 0, false
			}
			switch data[i] {
			case ',':
				i = Space(data, i+1)
			case closer:
				return i + 1, true
			default:
				return 0, false
			}
		}
	case c == 't':
		return skipLiteral(data, i, "true")
	case c == 'f':
		return skipLiteral(data, i, "false")
	case c == 'n':
		return skipLiteral(data, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(data, i)
	}
	return 0, false
}

// skipString returns the index just past the string whose contents start
// at i.
func skipString(data []byte, i int) (int, bool) {
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			if i+1 >= len(data) {
				return 0, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return 0, false
				}
				for _, h := range data[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return 0, false
					}
				}
				i += 6
			default:
				return 0, false
			}
		default:
			i++
		}
	}
	return 0, false
}

// skipLiteral returns the index just past lit, which must start at i.
func skipLiteral(data []byte, i int, lit string) (int, bool) {
	if !bytes.HasPrefix(data[i:], []byte(lit)) {
		return 0, false
	}
	return i + len(lit), true
}

// skipNumber returns the index just past the JSON number that starts at i.
func skipNumber(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = skipDigits(data, i)
	default:
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		j := skipDigits(data, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := skipDigits(data, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

// skipDigits returns the index of the first byte at or after i that is not
// a decimal digit.
func skipDigits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// SplitArray splits a trimmed JSON array into its values, going by quotes,
// brackets, commas and whitespace only: it does not validate the values.
// It returns false if the array is not laid out as one (unterminated, a
// missing or extra comma, trailing data), or nests deeper than maxDepth.
func SplitArray(body []byte, maxDepth int) ([][]byte, bool) {
	i := Space(body, 1)
	if i < len(body) && body[i] == ']' {
		return nil, i+1 == len(body)
	}
	out := make([][]byte, 0, 64)
	for {
		end, ok := valueEnd(body, i, maxDepth)
		if !ok {
			return nil, false
		}
		out = append(out, body[i:end])
		if i = Space(body, end); i >= len(body) {
			return nil, false
		}
		switch body[i] {
		case ',':
			i = Space(body, i+1)
		case ']':
			return out, i+1 == len(body)
		default:
			return nil, false
		}
	}
}

// valueEnd returns the index just past the JSON value that starts at i,
// by its quotes and brackets alone.
func valueEnd(b []byte, i, maxDepth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i+1)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, ok := stringEnd(b, i+1)
				if !ok {
					return 0, false
				}
				i = end - 1
			case '{', '[':
				if depth++; depth > maxDepth {
					return 0, false
				}
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	case ',', ']':
		return 0, false
	}
	// A number or a literal runs up to the next delimiter.
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ' ', '\t', '\n', '\r', ',', ']':
			return j, true
		}
	}
	return 0, false
}

// stringEnd returns the index just past the closing quote of the string
// whose contents start at i.
func stringEnd(b []byte, i int) (int, bool) {
	for i < len(b) {
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return 0, false
}
