package claudecode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of arrays and objects a payload may have,
// as encoding/json allows.
const maxDepth = 10000

// maxKeyBytes bounds the bytes of an object key that are kept to compare it
// with the names the mapping reads; a longer key is none of them.
const maxKeyBytes = 256

// nestedNames are the members of tool_input and tool_response the mapping
// reads (case-insensitively, as encoding/json matches struct fields).
var nestedNames = []string{"skill", "command", "args", "subagent_type", "commandName"}

// ParseReader decodes a hook payload from r as Parse decodes it, reading it
// once without holding it: tool_input and tool_response, which carry the
// tool's whole input and output (a file's content, a command's output),
// are walked through, and only their members the mapping reads are kept.
// The whole payload is still checked to be one JSON object, as Parse
// checks it. An error reading r is returned wrapped, not as ErrMalformed.
func ParseReader(r io.Reader) (Payload, error) {
	s := &scanner{r: bufio.NewReaderSize(r, 32<<10)}
	fields, err := s.payload()
	if err != nil {
		return Payload{}, err
	}
	return payloadOf(fields), nil
}

// keptFields are the top-level members whose value is kept whole.
var keptFields = map[string]bool{
	"hook_event_name": true, "session_id": true, "prompt_id": true, "permission_mode": true,
	"agent_id": true, "agent_type": true, "tool_name": true, "tool_use_id": true,
	"expansion_type": true, "command_name": true, "command_args": true, "command_source": true,
	"duration_ms": true, "error": true, "is_interrupt": true, "effort": true,
	"source": true, "reason": true, "model": true,
}

// readError is an error of the reader, as opposed to the payload's.
type readError struct{ err error }

func (e *readError) Error() string { return "read hook payload: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// scanner walks JSON from r, checking its syntax, and copies to keep what
// it reads while keeping is set.
type scanner struct {
	r       *bufio.Reader
	keeping bool
	keep    []byte
}

func malformed(format string, v ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, v...))
}

var errUnexpectedEnd = malformed("unexpected end of JSON input")

// read returns the next byte.
func (s *scanner) read() (byte, error) {
	c, err := s.r.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, errUnexpectedEnd
		}
		return 0, &readError{err}
	}
	if s.keeping {
		s.keep = append(s.keep, c)
	}
	return c, nil
}

// peek returns the next byte without reading it; ok is false at the end.
func (s *scanner) peek() (c byte, ok bool, err error) {
	b, err := s.r.Peek(1)
	if len(b) == 1 {
		return b[0], true, nil
	}
	if errors.Is(err, io.EOF) {
		return 0, false, nil
	}
	return 0, false, &readError{err}
}

// space reads JSON white space and returns the byte after it.
func (s *scanner) space() (byte, error) {
	for {
		c, err := s.read()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

// payload reads the top-level object and returns the raw values of the
// members kept (keptFields whole, tool_input and tool_response reduced to
// the members the mapping reads); as in a map, the last of a repeated
// member wins.
func (s *scanner) payload() (map[string]json.RawMessage, error) {
	// Unicode white space around the object is allowed, as
	// bytes.TrimSpace allows it.
	for {
		c, ok, err := s.peek()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errNotObject
		}
		if c < utf8.RuneSelf {
			if !unicode.IsSpace(rune(c)) {
				if c != '{' {
					return nil, errNotObject
				}
				break
			}
			_, _ = s.r.ReadByte() // peeked
			continue
		}
		r, _, err := s.r.ReadRune()
		if err != nil {
			return nil, &readError{err}
		}
		if !unicode.IsSpace(r) {
			return nil, errNotObject
		}
	}
	_, _ = s.r.ReadByte() // the '{' peeked
	fields := map[string]json.RawMessage{}
	err := s.members(1, func(key string) error {
		c, err := s.space()
		if err != nil {
			return err
		}
		switch {
		case keptFields[key]:
			raw, err := s.kept(c)
			if err != nil {
				return err
			}
			fields[key] = raw
		case key == "tool_input" || key == "tool_response":
			raw, err := s.reduced(c)
			if err != nil {
				return err
			}
			fields[key] = raw
		default:
			return s.value(c, 1)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for {
		r, _, err := s.r.ReadRune()
		if errors.Is(err, io.EOF) {
			return fields, nil
		}
		if err != nil {
			return nil, &readError{err}
		}
		if !unicode.IsSpace(r) {
			return nil, malformed("invalid character %q after top-level value", r)
		}
	}
}

var errNotObject = fmt.Errorf("%w: the body must be the JSON object that Claude Code sends to hooks", ErrMalformed)

// kept reads the value that starts with c and returns a copy of it.
func (s *scanner) kept(c byte) (json.RawMessage, error) {
	s.keeping, s.keep = true, append(s.keep[:0], c)
	err := s.value(c, 1)
	s.keeping = false
	if err != nil {
		return nil, err
	}
	return bytes.Clone(s.keep), nil
}

// reduced reads the value that starts with c: an object becomes one that
// holds only its members named in nestedNames, in their order; any other
// value, of which the mapping reads nothing, becomes null.
func (s *scanner) reduced(c byte) (json.RawMessage, error) {
	if c != '{' {
		if err := s.value(c, 1); err != nil {
			return nil, err
		}
		return json.RawMessage("null"), nil
	}
	out := []byte{'{'}
	var rawKey []byte
	err := s.membersRaw(2, &rawKey, func(key string) error {
		c, err := s.space()
		if err != nil {
			return err
		}
		if !nestedName(key) {
			return s.value(c, 2)
		}
		raw, err := s.kept(c)
		if err != nil {
			return err
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, rawKey...)
		out = append(out, ':')
		out = append(out, raw...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(out, '}'), nil
}

func nestedName(key string) bool {
	for _, n := range nestedNames {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

// members reads the members of an object whose '{' has been read, calling
// member with each key; member reads the ':' 's value.
func (s *scanner) members(depth int, member func(key string) error) error {
	var rawKey []byte
	return s.membersRaw(depth, &rawKey, member)
}

// membersRaw is members that also leaves the quoted key, as it was
// written, in rawKey (empty when longer than maxKeyBytes).
func (s *scanner) membersRaw(depth int, rawKey *[]byte, member func(key string) error) error {
	if depth > maxDepth {
		return malformed("exceeded max depth")
	}
	c, err := s.space()
	if err != nil {
		return err
	}
	if c == '}' {
		return nil
	}
	for {
		if c != '"' {
			return malformed("invalid character %q looking for beginning of object key string", c)
		}
		key, err := s.key(rawKey)
		if err != nil {
			return err
		}
		if c, err = s.space(); err != nil {
			return err
		}
		if c != ':' {
			return malformed("invalid character %q after object key", c)
		}
		if err := member(key); err != nil {
			return err
		}
		if c, err = s.space(); err != nil {
			return err
		}
		switch c {
		case '}':
			return nil
		case ',':
		default:
			return malformed("invalid character %q after object key:value pair", c)
		}
		if c, err = s.space(); err != nil {
			return err
		}
	}
}

// key reads a string whose '"' has been read and returns its decoded
// value, or "" when it is longer than maxKeyBytes; rawKey gets it quoted.
func (s *scanner) key(rawKey *[]byte) (string, error) {
	wasKeeping := s.keeping
	saved := len(s.keep)
	if wasKeeping {
		saved-- // the opening '"', kept when it was read
	} else {
		s.keeping = true
		s.keep = append(s.keep, '"')
	}
	err := s.stringBody()
	raw := s.keep[saved:]
	*rawKey = append((*rawKey)[:0], raw...)
	s.keeping = wasKeeping
	if !wasKeeping {
		s.keep = s.keep[:saved]
	}
	if err != nil {
		return "", err
	}
	if len(*rawKey) > maxKeyBytes {
		*rawKey = (*rawKey)[:0]
		return "", nil
	}
	var key string
	if err := json.Unmarshal(*rawKey, &key); err != nil {
		return "", malformed("%v", err)
	}
	return key, nil
}

// value reads the value that starts with c, already read.
func (s *scanner) value(c byte, depth int) error {
	switch c {
	case '{':
		return s.members(depth+1, func(string) error {
			c, err := s.space()
			if err != nil {
				return err
			}
			return s.value(c, depth+1)
		})
	case '[':
		return s.array(depth + 1)
	case '"':
		return s.stringBody()
	case 't':
		return s.literal("rue")
	case 'f':
		return s.literal("alse")
	case 'n':
		return s.literal("ull")
	}
	if c == '-' || (c >= '0' && c <= '9') {
		return s.number(c)
	}
	return malformed("invalid character %q looking for beginning of value", c)
}

func (s *scanner) array(depth int) error {
	if depth > maxDepth {
		return malformed("exceeded max depth")
	}
	c, err := s.space()
	if err != nil {
		return err
	}
	if c == ']' {
		return nil
	}
	for {
		if err := s.value(c, depth); err != nil {
			return err
		}
		if c, err = s.space(); err != nil {
			return err
		}
		switch c {
		case ']':
			return nil
		case ',':
		default:
			return malformed("invalid character %q after array element", c)
		}
		if c, err = s.space(); err != nil {
			return err
		}
	}
}

func (s *scanner) literal(rest string) error {
	for i := range len(rest) {
		c, err := s.read()
		if err != nil {
			return err
		}
		if c != rest[i] {
			return malformed("invalid character %q in literal", c)
		}
	}
	return nil
}

// number reads a number that starts with c, already read, up to the byte
// after it, which it leaves unread.
func (s *scanner) number(c byte) error {
	digits := func(atLeastOne bool) error {
		n := 0
		for {
			d, ok, err := s.peek()
			if err != nil {
				return err
			}
			if !ok || d < '0' || d > '9' {
				break
			}
			if _, err := s.read(); err != nil {
				return err
			}
			n++
		}
		if atLeastOne && n == 0 {
			return malformed("invalid number: a digit is missing")
		}
		return nil
	}
	if c == '-' {
		var err error
		if c, err = s.read(); err != nil {
			return err
		}
		if c < '0' || c > '9' {
			return malformed("invalid character %q in numeric literal", c)
		}
	}
	if c != '0' {
		if err := digits(false); err != nil {
			return err
		}
	}
	if d, ok, err := s.peek(); err != nil {
		return err
	} else if ok && d == '.' {
		if _, err := s.read(); err != nil {
			return err
		}
		if err := digits(true); err != nil {
			return err
		}
	}
	d, ok, err := s.peek()
	if err != nil || !ok || (d != 'e' && d != 'E') {
		return err
	}
	if _, err := s.read(); err != nil {
		return err
	}
	if d, ok, err := s.peek(); err != nil {
		return err
	} else if ok && (d == '+' || d == '-') {
		if _, err := s.read(); err != nil {
			return err
		}
	}
	return digits(true)
}

// stringBody reads a string whose '"' has been read, up to its closing
// '"'. A long run of plain characters is skipped from the reader's buffer
// at once.
func (s *scanner) stringBody() error {
	for {
		buf, err := s.r.Peek(max(s.r.Buffered(), 1))
		if len(buf) == 0 {
			if errors.Is(err, io.EOF) {
				return errUnexpectedEnd
			}
			return &readError{err}
		}
		i := 0
		for i < len(buf) && buf[i] != '"' && buf[i] != '\\' && buf[i] >= 0x20 {
			i++
		}
		if s.keeping {
			s.keep = append(s.keep, buf[:i]...)
		}
		_, _ = s.r.Discard(i) // buffered
		if i == len(buf) {
			continue
		}
		c, err := s.read()
		if err != nil {
			return err
		}
		switch {
		case c == '"':
			return nil
		case c < 0x20:
			return malformed("invalid character %q in string literal", c)
		}
		// A backslash.
		if c, err = s.read(); err != nil {
			return err
		}
		switch c {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			for range 4 {
				h, err := s.read()
				if err != nil {
					return err
				}
				if !isHex(h) {
					return malformed("invalid character %q in \\u hexadecimal character escape", h)
				}
			}
		default:
			return malformed("invalid character %q in string escape code", c)
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// payloadOf maps the members of a payload object to a Payload: the
// strings it reads (a member that is not a string stays empty) and the raw
// values it keeps.
func payloadOf(fields map[string]json.RawMessage) Payload {
	var p Payload
	str := func(name string, dst *string) {
		if raw, ok := fields[name]; ok {
			_ = json.Unmarshal(raw, dst) // a non-string stays empty
		}
	}
	str("hook_event_name", &p.HookEventName)
	str("session_id", &p.SessionID)
	str("prompt_id", &p.PromptID)
	str("permission_mode", &p.PermissionMode)
	str("agent_id", &p.AgentID)
	str("agent_type", &p.AgentType)
	str("tool_name", &p.ToolName)
	str("tool_use_id", &p.ToolUseID)
	str("expansion_type", &p.ExpansionType)
	str("command_name", &p.CommandName)
	str("command_args", &p.CommandArgs)
	str("command_source", &p.CommandSource)
	str("source", &p.Source)
	str("reason", &p.Reason)
	str("model", &p.Model)
	p.ToolInput = fields["tool_input"]
	p.ToolResponse = fields["tool_response"]
	p.DurationMs = fields["duration_ms"]
	p.Error = fields["error"]
	p.IsInterrupt = fields["is_interrupt"]
	p.Effort = fields["effort"]
	return p
}
