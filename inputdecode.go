package trackskills

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/trackskills/trackskills/jsonscan"
)

// The one-pass decoder of DecodeInput, for the plain events most clients
// send; encoding/json (decodeInputJSON) stays the reference for the rest.

// The fields of Input, in the order of inputNames.
const (
	fToolName = iota
	fToolCategory
	fStatus
	fDurationMs
	fErrorType
	fErrorMessage
	fMetadata
	fRequestSizeBytes
	fResponseSizeBytes
	fEventID
	fTimestamp
	fUserID
	fSessionID
	fSource
	fKind
	fAgentID
	numInputFields
)

// inputNames are the JSON names of Input's fields, as its tags spell them.
var inputNames = [numInputFields]string{
	"tool_name", "tool_category", "status", "duration_ms", "error_type",
	"error_message", "metadata", "request_size_bytes", "response_size_bytes",
	"event_id", "timestamp", "user_id", "session_id", "source", "kind", "agent_id",
}

// inputRaw tells the json.RawMessage fields of Input from its strings.
var inputRaw = [numInputFields]bool{
	fDurationMs: true, fMetadata: true, fRequestSizeBytes: true,
	fResponseSizeBytes: true, fTimestamp: true,
}

// maxFastDepth bounds the nesting the fast path follows; deeper values go
// to encoding/json, whose own limit then decides.
const maxFastDepth = 64

// decodeInputFast decodes data, a trimmed JSON object, into in in one
// pass, as json.Unmarshal would: keys matched exactly or ASCII
// case-insensitively, the last of duplicate keys winning, null leaving a
// string field alone, unknown keys skipped. It returns false, leaving in
// alone, for anything else: invalid JSON, a value of the wrong type, keys
// with escapes or non-ASCII bytes (encoding/json folds them with Unicode
// rules) and string values that need unquoting (escapes, invalid UTF-8).
func decodeInputFast(data []byte, in *Input) bool {
	type span struct{ start, end int }
	var (
		spans [numInputFields]span // string contents, raw values
		set   [numInputFields]bool
	)
	i := jsonscan.Space(data, 1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return false
			}
			ks := i + 1
			j := ks
			for j < len(data) && data[j] != '"' {
				if c := data[j]; c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
					return false
				}
				j++
			}
			if j >= len(data) {
				return false
			}
			f := inputField(data[ks:j])
			i = jsonscan.Space(data, j+1)
			if i >= len(data) || data[i] != ':' {
				return false
			}
			i = jsonscan.Space(data, i+1)
			if i >= len(data) {
				return false
			}
			switch {
			case f >= 0 && !inputRaw[f]:
				if bytes.HasPrefix(data[i:], []byte("null")) {
					i += 4 // null leaves a string as it is
					break
				}
				if data[i] != '"' {
					return false
				}
				end, ok := jsonscan.PlainString(data, i+1)
				if !ok {
					return false
				}
				spans[f], set[f] = span{i + 1, end}, true
				i = end + 1
			default:
				end, ok := jsonscan.Value(data, i, maxFastDepth)
				if !ok {
					return false
				}
				if f >= 0 {
					spans[f], set[f] = span{i, end}, true
				}
				i = end
			}
			i = jsonscan.Space(data, i)
			if i >= len(data) {
				return false
			}
			if data[i] == ',' {
				i = jsonscan.Space(data, i+1)
				continue
			}
			if data[i] != '}' {
				return false
			}
			i++
			break
		}
	}
	if i != len(data) {
		return false
	}

	// One string holds every string field and one buffer every raw one.
	var str string
	rawLen := 0
	for f := range numInputFields {
		if set[f] && inputRaw[f] {
			rawLen += spans[f].end - spans[f].start
		} else if set[f] && str == "" {
			str = string(data)
		}
	}
	var buf []byte
	if rawLen > 0 {
		buf = make([]byte, 0, rawLen)
	}
	var out Input
	for f := range numInputFields {
		if !set[f] {
			continue
		}
		sp := spans[f]
		if inputRaw[f] {
			n := len(buf)
			buf = append(buf, data[sp.start:sp.end]...)
			raw := json.RawMessage(buf[n:len(buf):len(buf)])
			switch f {
			case fDurationMs:
				out.DurationMs = raw
			case fMetadata:
				out.Metadata = raw
			case fRequestSizeBytes:
				out.RequestSizeBytes = raw
			case fResponseSizeBytes:
				out.ResponseSizeBytes = raw
			case fTimestamp:
				out.Timestamp = raw
			}
			continue
		}
		s := str[sp.start:sp.end]
		switch f {
		case fToolName:
			out.ToolName = s
		case fToolCategory:
			out.ToolCategory = s
		case fStatus:
			out.Status = s
		case fErrorType:
			out.ErrorType = s
		case fErrorMessage:
			out.ErrorMessage = s
		case fEventID:
			out.EventID = s
		case fUserID:
			out.UserID = s
		case fSessionID:
			out.SessionID = s
		case fSource:
			out.Source = s
		case fKind:
			out.Kind = s
		case fAgentID:
			out.AgentID = s
		}
	}
	*in = out
	return true
}

// inputField returns the field of Input an ASCII key names, -1 for none.
// Like encoding/json it prefers an exact match, then ignores case.
func inputField(key []byte) int {
	for f, name := range inputNames {
		if string(key) == name {
			return f
		}
	}
	for f, name := range inputNames {
		if len(key) == len(name) && asciiEqualFold(key, name) {
			return f
		}
	}
	return -1
}

// asciiEqualFold reports whether the ASCII key equals name, a lower-case
// name, ignoring the case of letters.
func asciiEqualFold(key []byte, name string) bool {
	for i := range len(key) {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}
