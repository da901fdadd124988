package testkit_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure only our handlers of the asked type are counted.
func TestCountOurHooks(t *testing.T) {
	var settings map[string]any
	if err := json.Unmarshal([]byte(`{"hooks":{
		"PostToolUse":[{"matcher":"*","hooks":[
			{"type":"command","command":"/bin/trackskills hook"},
			{"type":"command","command":"other-tool"},
			{"type":"http","url":"http://127.0.0.1:8080/api/hooks/claude-code"}]}],
		"PreToolUse":[{"hooks":[{"type":"command","command":"trackskills-hook hook"}]}]}}`), &settings); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		typ  string
		want map[string]int
	}{
		{"command", map[string]int{"PostToolUse": 1, "PreToolUse": 1}},
		{"http", map[string]int{"PostToolUse": 1}},
	} {
		if got := testkit.CountOurHooks(settings, tt.typ); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CountOurHooks(%s)=%v, want %v", tt.typ, got, tt.want)
		}
	}
}
