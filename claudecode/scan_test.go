package claudecode_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/trackskills/trackskills/claudecode"
)

// parseWhole is the way payloads were decoded before ParseReader: the
// whole body in a map by encoding/json, then each field (the mapping of
// fields is shared). ParseReader must map every payload as it does.
func parseWhole(data []byte) (claudecode.Payload, error) {
	var p claudecode.Payload
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return p, claudecode.ErrMalformed
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return p, fmt.Errorf("%w: %v", claudecode.ErrMalformed, err)
	}
	return claudecode.PayloadOf(fields), nil
}

// sameMapping fails when data maps differently through Parse (streaming)
// and parseWhole, or is accepted by one and refused by the other.
func sameMapping(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := parseWhole(data)
	got, err := claudecode.ParseReader(iotest.HalfReader(bytes.NewReader(data)))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: err=%v, want %v", data, err, wantErr)
	}
	if err != nil {
		if !errors.Is(err, claudecode.ErrMalformed) {
			t.Fatalf("%q: err=%v, want ErrMalformed", data, err)
		}
		return
	}
	for _, opt := range []claudecode.Options{{}, {StoreSkillArgs: true}} {
		if g, w := claudecode.Map(got, opt), claudecode.Map(want, opt); !reflect.DeepEqual(g, w) {
			t.Fatalf("%q with %+v:\n got %+v\nwant %+v", data, opt, g, w)
		}
	}
}

// Ensure the streaming parse maps every fixture, and payloads of odd
// shapes, as decoding the whole body does, and refuses what it refuses.
func TestParseReader_SameAsWholeBody(t *testing.T) {
	files, err := filepath.Glob("testdata/hooks/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, ".want.json") {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(file), func(t *testing.T) { sameMapping(t, data) })
	}
	tests := []struct{ name, body string }{
		{"DuplicateKeys", `{"hook_event_name":"PostToolUse","tool_name":"Bash","tool_name":"Skill","tool_input":{"skill":"a"},"tool_input":{"skill":"b","SKILL":"c"}}`},
		{"EscapedKey", `{"hook_event_name":"PostToolUse","tool_\u006eame":"Skill","tool_input":{"sk\u0069ll":"x"}}`},
		{"NonObjectInput", `{"hook_event_name":"PostToolUse","tool_name":"Skill","tool_input":"x","tool_response":[1,2]}`},
		{"NullInput", `{"hook_event_name":"PostToolUse","tool_name":"Agent","tool_input":null}`},
		{"NestedValues", `{"hook_event_name":"PostToolUse","tool_name":"Skill","tool_input":{"skill":{"a":[1,{"b":null}]},"command":"/c","x":{"skill":"no"}},"tool_response":{"commandName":"r"}}`},
		{"WrongTypes", `{"hook_event_name":1,"tool_name":"Skill","tool_input":{"skill":5,"args":true},"duration_ms":"12","error":{"a":1}}`},
		{"ArgsWrongTypeKeepsOthers", `{"hook_event_name":"PostToolUse","tool_name":"Skill","tool_input":{"args":5,"skill":"s"}}`},
		{"Numbers", `{"hook_event_name":"PostToolUse","tool_name":"Bash","duration_ms":-0.5e+3,"x":[0,1.25,-7E2]}`},
		{"UnicodeSpace", "\u00a0 {\"hook_event_name\":\"PostToolUse\",\"tool_name\":\"Bash\"}\u2003\n"},
		{"BadUTF8InString", "{\"hook_event_name\":\"PostToolUse\",\"tool_name\":\"Ba\xffsh\"}"},
		{"Empty", ``},
		{"Array", `[]`},
		{"Truncated", `{"hook_event_name":"PostToolUse","tool_input":{"skill":"a`},
		{"TrailingGarbage", `{"hook_event_name":"PostToolUse"} x`},
		{"TwoObjects", `{} {}`},
		{"TrailingComma", `{"a":1,}`},
		{"LeadingZero", `{"a":01}`},
		{"BadEscape", `{"a":"\x"}`},
		{"ControlInString", "{\"a\":\"\x01\"}"},
		{"BadLiteral", `{"a":tru}`},
		{"MissingColon", `{"a" 1}`},
		{"BareMinus", `{"a":-}`},
		{"BadExponent", `{"a":1e}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { sameMapping(t, []byte(tc.body)) })
	}
}

// Ensure an error of the reader is reported as such, not as a malformed
// payload.
func TestParseReader_ReadError(t *testing.T) {
	boom := errors.New("boom")
	r := iotest.DataErrReader(iotest.ErrReader(boom))
	_, err := claudecode.ParseReader(io.MultiReader(strings.NewReader(`{"tool_input":"abc`), r))
	if !errors.Is(err, boom) || errors.Is(err, claudecode.ErrMalformed) {
		t.Fatalf("err=%v, want the reader's error", err)
	}
}

func FuzzParseReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/hooks/*.json")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil && !strings.HasSuffix(file, ".want.json") {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"tool_input":{"Skill":"a","skill":{"x":[1,2e5,"\u00e9"]}},"tool_name":"Skill","hook_event_name":"PostToolUse"}`))
	f.Fuzz(func(t *testing.T, data []byte) { sameMapping(t, data) })
}
