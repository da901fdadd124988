package testkit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/trackskills/trackskills"
)

// AssertSameEvent fails tb unless got equals want. Metadata is compared as
// JSON, since an encoder may escape characters such as < differently.
func AssertSameEvent(tb testing.TB, got, want trackskills.Event) {
	tb.Helper()
	if !SameJSON(got.Metadata, want.Metadata) {
		tb.Fatalf("metadata=%q, want %q", got.Metadata, want.Metadata)
	}
	got.Metadata, want.Metadata = nil, nil
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("event changed on the wire:\n got %+v\nwant %+v", got, want)
	}
}

// SameJSON reports whether a and b hold the same JSON value (numbers
// compared as written); two documents that do not parse are compared as
// bytes.
func SameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

// ValidStatus reports whether s is one of the three statuses of an event.
func ValidStatus(s string) bool {
	return s == trackskills.StatusSuccess || s == trackskills.StatusError || s == trackskills.StatusTimeout
}
