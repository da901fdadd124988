package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/trackskills/trackskills/jsonscan"
)

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		end  int // -1: not valid
		deep int
	}{
		{`"a"`, 3, 8},
		{`"a\"b" rest`, 6, 8},
		{`"\u00e9"`, 8, 8},
		{`"\x"`, -1, 8},
		{"\"a\x01\"", -1, 8},
		{`{"a": [1, 2.5e-3, true, null]}`, 30, 8},
		{`{"a" 1}`, -1, 8},
		{`[1,]`, -1, 8},
		{`[[[1]]]`, 7, 3},
		{`[[[1]]]`, -1, 2},
		{`01`, 1, 8}, // a number ends at its first digit 0; the caller sees what follows
		{`-`, -1, 8},
		{`tru`, -1, 8},
		{``, -1, 8},
	} {
		end, ok := jsonscan.Value([]byte(tc.in), 0, tc.deep)
		if !ok {
			end = -1
		}
		if end != tc.end {
			t.Errorf("Value(%q, depth %d) = %d, want %d", tc.in, tc.deep, end, tc.end)
		}
	}
}

func TestPlainString(t *testing.T) {
	for _, tc := range []struct {
		in  string // contents after the opening quote
		end int    // index of the closing quote; -1: not plain
	}{
		{`abc"`, 3},
		{`é"`, 2},
		{`a\nb"`, -1},
		{"a\xffb\"", -1},
		{`abc`, -1},
	} {
		end, ok := jsonscan.PlainString([]byte(tc.in), 0)
		if !ok {
			end = -1
		}
		if end != tc.end {
			t.Errorf("PlainString(%q) = %d, want %d", tc.in, end, tc.end)
		}
	}
}

func TestSplitArray(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // nil: not split
	}{
		{`[]`, []string{}},
		{`[ {"a":"],"}, 2 ,"x\"]" ]`, []string{`{"a":"],"}`, `2`, `"x\"]"`}},
		{`[{"a":1}`, nil},
		{`[1,,2]`, nil},
		{`[1 2]`, nil},
		{`[1]x`, nil},
		{`[[[[[1]]]]]`, nil}, // a value nested deeper than 3
	} {
		got, ok := jsonscan.SplitArray([]byte(tc.in), 3)
		if tc.want == nil {
			if ok {
				t.Errorf("SplitArray(%q) = %q, want no split", tc.in, got)
			}
			continue
		}
		if !ok {
			t.Errorf("SplitArray(%q) did not split, want %q", tc.in, tc.want)
			continue
		}
		strs := make([]string, len(got))
		for i, v := range got {
			strs[i] = string(v)
		}
		if !slices.Equal(strs, tc.want) {
			t.Errorf("SplitArray(%q) = %q, want %q", tc.in, strs, tc.want)
		}
	}
}

// FuzzValue: Value accepts exactly what encoding/json calls valid, and
// SplitArray of a valid array gives the values encoding/json finds.
func FuzzValue(f *testing.F) {
	for _, s := range []string{`{"tool_name":"a","status":"success"}`, `[1, "2", {"3": [4]}]`, `"\u0041"`, `-0.5e+3`, `[`, `{"a":}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimSpace(data)
		end, ok := jsonscan.Value(data, 0, 10_000)
		if valid := ok && end == len(data); valid != json.Valid(data) {
			t.Fatalf("Value(%q) = %d, %v; json.Valid says %v", data, end, ok, json.Valid(data))
		}
		if len(data) == 0 || data[0] != '[' || !json.Valid(data) {
			return
		}
		var want []json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		got, ok := jsonscan.SplitArray(data, 10_000)
		if !ok {
			t.Fatalf("SplitArray(%q) did not split a valid array", data)
		}
		if len(got) != len(want) {
			t.Fatalf("SplitArray(%q): %d values, want %d", data, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("SplitArray(%q)[%d] = %q, want %q", data, i, got[i], want[i])
			}
		}
	})
}
