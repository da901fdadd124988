package testkit_test

import (
	"encoding/json"
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

func TestSameJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		want bool
	}{
		{"Equal", `{"a":1}`, `{"a":1}`, true},
		{"KeyOrder", `{"a":1,"b":"<"}`, `{"b":"\u003c","a":1}`, true},
		{"NumberAsWritten", `{"a":1.0}`, `{"a":1}`, false},
		{"Different", `{"a":1}`, `{"a":2}`, false},
		{"BothEmpty", ``, ``, true},
		{"OneEmpty", `{}`, ``, false},
		{"NotJSON", `{x`, `{x`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testkit.SameJSON(json.RawMessage(tc.a), json.RawMessage(tc.b)); got != tc.want {
				t.Fatalf("SameJSON(%s, %s)=%v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}
