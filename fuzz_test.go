package trackskills_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// The seed corpus on disk is testdata/fuzz/<FuzzName>/; these f.Add seeds
// cover the same ground in a readable form.

func FuzzDecodeInput(f *testing.F) {
	for _, s := range []string{
		`{"tool_name":"my_skill","status":"success"}`,
		`{"tool_name":"pdf","tool_category":"skills","status":"error","duration_ms":12.7,"error_type":"E","error_message":"boom","metadata":"{\"a\":1}","request_size_bytes":10,"response_size_bytes":0,"event_id":"01JKZ4W5Q2N8X7Y6V5T4S3R2Q1","timestamp":"2026-02-09T20:00:00Z","user_id":"u","session_id":"s","source":"hook"}`,
		`{"tool_name":"x","status":"timeout","timestamp":1770668130123,"metadata":{"k":[1,{"z":null}]}}`,
		`{"TOOL_NAME":"x","Status":"success","unknown":true}`,
		`{"tool_name":"a\u0085b","status":"success"}`,
		`{"tool_name":5}`,
		`[]`,
		``,
		`{"tool_name":"a","Tool_Name":null,"duration_ms":-1.5e3,"x":{"y":[true,"\u00e9"]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSameAsStd(t, data)
		in, err := trackskills.DecodeInput(data)
		if err != nil {
			checkFieldError(t, err, true)
			return
		}
		ev, err := in.Validate(now)
		if err != nil {
			checkFieldError(t, err, false)
			return
		}
		checkValidated(t, in, ev)

		// What ingest publishes must be readable by the consumer.
		if ev.EventID == "" {
			ev.EventID = "01JKZ4W5Q2N8X7Y6V5T4S3R2Q1"
		}
		ev.UserHash = "0123456789abcdef0123456789abcdef"
		buf, err := wire.AppendEvent(nil, &ev)
		if err != nil {
			t.Fatalf("append valid event: %v", err)
		}
		msg := wire.NewMsg(trackskills.SubjectIngest, buf)
		var got []trackskills.Event
		err = wire.Decode(msg.Header, msg.Data, func(ev trackskills.Event) error {
			got = append(got, ev)
			return nil
		})
		if err != nil {
			t.Fatalf("decode valid event %s: %v", buf, err)
		}
		if len(got) != 1 {
			t.Fatalf("decoded %d events, want 1", len(got))
		}
		testkit.AssertSameEvent(t, got[0], ev)
	})
}

// checkFieldError fails unless err is a *FieldError matching ErrInvalid;
// only a decoding error may be about the whole body.
func checkFieldError(t *testing.T, err error, decoding bool) {
	t.Helper()
	var fe *trackskills.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err=%v (%T), want *trackskills.FieldError", err, err)
	}
	if !errors.Is(err, trackskills.ErrInvalid) {
		t.Fatalf("errors.Is(%v, ErrInvalid)=false", err)
	}
	if fe.Field == "" && !decoding {
		t.Fatalf("Validate error %q names no field", err)
	}
	if !utf8.ValidString(fe.Message) {
		t.Fatalf("error message %q is not valid UTF-8", fe.Message)
	}
}

// checkValidated fails unless ev keeps every limit of docs/CONTRACT.md,
// The event.
func checkValidated(t *testing.T, in trackskills.Input, ev trackskills.Event) {
	t.Helper()
	checkText(t, "tool_name", ev.ToolName, 1, trackskills.MaxToolName)
	checkText(t, "tool_category", ev.ToolCategory, 1, trackskills.MaxCategory)
	if ev.ErrorType != "" {
		checkText(t, "error_type", ev.ErrorType, 1, trackskills.MaxErrorType)
	}
	if !testkit.ValidStatus(ev.Status) {
		t.Fatalf("status %q accepted", ev.Status)
	}
	if !slices.Contains(trackskills.Sources, ev.Source) {
		t.Fatalf("source %q accepted", ev.Source)
	}
	if n := len(ev.ErrorMessage); n > trackskills.MaxErrorMessage {
		t.Fatalf("error_message is %d bytes", n)
	}
	if len(in.ErrorMessage) > trackskills.MaxErrorMessage {
		if !strings.HasSuffix(ev.ErrorMessage, trackskills.CutMarker) {
			t.Fatal("long error_message not marked as cut")
		}
	} else if ev.ErrorMessage != in.ErrorMessage {
		t.Fatalf("short error_message changed: %q -> %q", in.ErrorMessage, ev.ErrorMessage)
	}
	if !utf8.ValidString(ev.ErrorMessage) {
		t.Fatalf("error_message %q is not valid UTF-8", ev.ErrorMessage)
	}
	if ev.Metadata != nil {
		if n := len(ev.Metadata); n == 0 || n > trackskills.MaxMetadata {
			t.Fatalf("metadata is %d bytes", n)
		}
		if !json.Valid(ev.Metadata) || !utf8.Valid(ev.Metadata) {
			t.Fatalf("metadata %q is not valid UTF-8 JSON", ev.Metadata)
		}
		var obj map[string]any
		if err := json.Unmarshal(ev.Metadata, &obj); err != nil || obj == nil {
			t.Fatalf("metadata %q is not a JSON object: %v", ev.Metadata, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, ev.Metadata); err != nil || compact.Len() != len(ev.Metadata) {
			t.Fatalf("metadata %q is not compact", ev.Metadata)
		}
	}
	if p := ev.DurationMs; p != nil && (*p < 0 || *p > trackskills.MaxDurationMs) {
		t.Fatalf("duration_ms %d accepted", *p)
	}
	for name, p := range map[string]*int64{"request_size_bytes": ev.RequestSizeBytes, "response_size_bytes": ev.ResponseSizeBytes} {
		if p != nil && *p < 0 {
			t.Fatalf("%s %d accepted", name, *p)
		}
	}
	if ev.EventID != "" {
		if err := trackskills.CheckEventID(ev.EventID); err != nil {
			t.Fatalf("event_id %q accepted: %v", ev.EventID, err)
		}
	}
	if lo, hi := now.Add(-trackskills.MaxPast).UnixMilli(), now.Add(trackskills.MaxFuture).UnixMilli(); ev.Timestamp < lo || ev.Timestamp > hi {
		t.Fatalf("timestamp %d outside [%d, %d]", ev.Timestamp, lo, hi)
	}
	if got, want := ev.ReceivedAt, now.UnixMilli(); got != want {
		t.Fatalf("received_at=%d, want %d", got, want)
	}
	if utf8.RuneCountInString(in.UserID) > trackskills.MaxIdentity || utf8.RuneCountInString(in.SessionID) > trackskills.MaxIdentity {
		t.Fatal("identity longer than the limit accepted")
	}
	if ev.UserHash != "" || ev.SessionHash != "" {
		t.Fatal("Validate filled in a hash")
	}
}

func checkText(t *testing.T, field, s string, lo, hi int) {
	t.Helper()
	if n := utf8.RuneCountInString(s); n < lo || n > hi {
		t.Fatalf("%s %q has %d characters, want %d-%d", field, s, n, lo, hi)
	}
	if !utf8.ValidString(s) {
		t.Fatalf("%s %q is not valid UTF-8", field, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			t.Fatalf("%s %q holds control character U+%04X", field, s, r)
		}
	}
}
