package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// APIRequest describes a model request for APIRequestEvent.
type APIRequest struct {
	ID, Source                string // Source "" is otlp
	At                        int64  // Unix ms, also its received_at
	User                      int    // its user and session hashes are made from it
	Model, Skill, MCPServer   string
	CostMicros, Input, Output int64
	CacheRead, CacheCreation  int64
	Failed                    bool
}

// APIRequestEvent is the api_request event of r, as ingest publishes one.
func APIRequestEvent(r APIRequest) trackskills.Event {
	if r.Source == "" {
		r.Source = "otlp"
	}
	ev := trackskills.Event{
		EventID: r.ID, ToolName: r.Model, ToolCategory: "api", Status: trackskills.StatusSuccess, Kind: trackskills.KindAPIRequest,
		Metadata: fmt.Appendf(nil, `{"model":%q,"cost_usd_micros":%d,"input_tokens":%d,"output_tokens":%d,"cache_read_tokens":%d,`+
			`"cache_creation_tokens":%d,"skill":%q,"mcp_server":%q}`, r.Model, r.CostMicros, r.Input, r.Output, r.CacheRead,
			r.CacheCreation, r.Skill, r.MCPServer),
		Timestamp: r.At, ReceivedAt: r.At, UserHash: fmt.Sprintf("%016x%016x", r.User+1, r.User+1), SessionHash: fmt.Sprintf("%016x%016x", r.User+1001, r.User+1001),
		Source: r.Source,
	}
	if r.Failed {
		ev.Status, ev.ErrorType = trackskills.StatusError, "http_529"
	}
	return ev
}
