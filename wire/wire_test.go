package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/wire"
)

// now is the fixed clock of these tests.
var now = time.Date(2026, 2, 9, 21, 30, 0, 0, time.UTC)

func i64(n int64) *int64 { return &n }

// wireEvents returns events that use every field of the payload.
func wireEvents() []trackskills.Event {
	ts := now.Add(-90 * time.Minute).UnixMilli()
	return []trackskills.Event{
		{
			EventID: "01JKZ4W5Q2N8X7Y6V5T4S3R2Q1", ToolName: "pdf_extract", ToolCategory: "documents",
			Status: trackskills.StatusError, DurationMs: i64(1523), ErrorType: "TimeoutError",
			ErrorMessage:     "took too long:\n\t\"quoted\" ✗ " + trackskills.CutMarker,
			Metadata:         json.RawMessage(`{"model":"claude","tokens":120,"tags":["a","b"],"nested":{"x":null}}`),
			RequestSizeBytes: i64(0), ResponseSizeBytes: i64(1 << 40),
			Timestamp: ts, ReceivedAt: ts + 250,
			UserHash: "0123456789abcdef0123456789abcdef", SessionHash: "fedcba9876543210fedcba9876543210",
			Source: "hook",
		},
		{
			// Only the required fields: nil pointers and empty strings.
			EventID: "minimal", ToolName: "x", ToolCategory: trackskills.DefaultCategory,
			Status: trackskills.StatusSuccess, Timestamp: ts, ReceivedAt: ts,
			UserHash: "00000000000000000000000000000000", Source: trackskills.DefaultSource,
		},
		{
			// Zero values that are set, not absent.
			EventID: "zeroes_1", ToolName: "ünïcødé 🚀", ToolCategory: "mcp",
			Status: trackskills.StatusTimeout, DurationMs: i64(0), RequestSizeBytes: i64(12),
			Metadata: json.RawMessage(`{}`), Timestamp: 1, ReceivedAt: 0, Source: "go",
		},
	}
}

func appendAll(tb testing.TB, evs []trackskills.Event) []byte {
	tb.Helper()
	var buf []byte
	for i := range evs {
		var err error
		if buf, err = wire.AppendEvent(buf, &evs[i]); err != nil {
			tb.Fatalf("append event %d: %v", i, err)
		}
	}
	return buf
}

// header returns the header of a message of the given schema; "" is a
// message without headers.
func header(schema string) nats.Header {
	if schema == "" {
		return nil
	}
	return nats.Header{wire.SchemaHeader: []string{schema}}
}

// decodeAll decodes an uncompressed message of the given schema.
func decodeAll(schema string, data []byte) ([]trackskills.Event, error) {
	return decodeMsg(header(schema), data)
}

func decodeMsg(h nats.Header, data []byte) ([]trackskills.Event, error) {
	var out []trackskills.Event
	err := wire.Decode(h, data, func(ev trackskills.Event) error {
		out = append(out, ev)
		return nil
	})
	return out, err
}

func TestDecode(t *testing.T) {
	// Ensure every field survives AppendEvent + Decode, with or
	// without the schema header.
	for _, schema := range []string{wire.SchemaV1, ""} {
		t.Run("RoundTrip/schema="+schema, func(t *testing.T) {
			want := wireEvents()
			buf := appendAll(t, want)
			if got, want := strings.Count(string(buf), "\n"), len(want); got != want {
				t.Fatalf("payload has %d lines, want %d", got, want)
			}
			got, err := decodeAll(schema, buf)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("decoded %d events, want %d", len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
			if got[1].DurationMs != nil || got[1].RequestSizeBytes != nil || got[1].Metadata != nil {
				t.Errorf("unset fields came back set: %+v", got[1])
			}
			if got[2].DurationMs == nil || *got[2].DurationMs != 0 {
				t.Errorf("duration_ms=0 came back as %v", got[2].DurationMs)
			}
		})
	}

	// Ensure the stream sequence, set by the consumer, is not in the payload.
	t.Run("NoStreamSeq", func(t *testing.T) {
		ev := wireEvents()[0]
		ev.StreamSeq = 424242
		buf := appendAll(t, []trackskills.Event{ev})
		if strings.Contains(string(buf), "424242") || strings.Contains(string(buf), "stream") {
			t.Fatalf("payload %s carries the stream sequence", buf)
		}
		got, err := decodeAll(wire.SchemaV1, buf)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got, want := got[0].StreamSeq, uint64(0); got != want {
			t.Fatalf("stream_seq=%d, want %d", got, want)
		}
	})

	// Ensure blank lines, CRLF and a missing final newline are accepted.
	t.Run("NDJSONBlankLines", func(t *testing.T) {
		evs := wireEvents()
		a := appendAll(t, evs[:1])
		b := appendAll(t, evs[1:2])
		payload := "\n\n" + string(a) + "\r\n   \n" + strings.TrimSuffix(string(b), "\n") + "\r\n" + "\t\n" +
			strings.TrimSuffix(string(appendAll(t, evs[2:])), "\n")
		got, err := decodeAll(wire.SchemaV1, []byte(payload))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if len(got) != len(evs) {
			t.Fatalf("decoded %d events, want %d", len(got), len(evs))
		}
		for i := range evs {
			if !reflect.DeepEqual(got[i], evs[i]) {
				t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], evs[i])
			}
		}
	})

	// Ensure fields the reader does not know are ignored: a newer writer may
	// add some.
	t.Run("UnknownFields", func(t *testing.T) {
		payload := `{"event_id":"e1","tool_name":"x","status":"success","timestamp":1770668130123,"future_field":{"a":[1]}}`
		got, err := decodeAll(wire.SchemaV1, []byte(payload))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got, want := len(got), 1; got != want {
			t.Fatalf("decoded %d events, want %d", got, want)
		}
	})

	// Ensure the callback's error stops decoding and is returned as is.
	t.Run("CallbackError", func(t *testing.T) {
		errStop := errors.New("stop")
		calls := 0
		err := wire.Decode(header(wire.SchemaV1), appendAll(t, wireEvents()), func(trackskills.Event) error {
			calls++
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("err=%v, want %v", err, errStop)
		}
		if got, want := calls, 1; got != want {
			t.Fatalf("calls=%d, want %d", got, want)
		}
	})

	// Ensure every poison message is an error, never a panic or a silent
	// skip.
	const valid = `{"event_id":"e1","tool_name":"x","status":"success","timestamp":1770668130123}`
	for _, tt := range []struct {
		name     string
		schema   string
		encoding string
		payload  string
		errHas   string
	}{
		{name: "UnknownSchema", schema: "2", payload: valid, errHas: `unknown payload schema "2"`},
		{name: "UnknownSchemaName", schema: "v1", payload: valid, errHas: "unknown payload schema"},
		{name: "Garbage", schema: "1", payload: "\x00\x01garbage", errHas: "line 1"},
		{name: "GarbageSecondLine", schema: "1", payload: valid + "\n{not json}\n", errHas: "line 2"},
		{name: "ArrayLine", schema: "1", payload: "[" + valid + "]", errHas: "line 1"},
		{name: "NullLine", schema: "1", payload: "null", errHas: "bad event_id"},
		{name: "Empty", schema: "1", payload: "", errHas: "no event"},
		{name: "BlankOnly", schema: "", payload: "\n \r\n\t\n", errHas: "no event"},
		{name: "NoEventID", schema: "1", payload: `{"tool_name":"x","status":"success","timestamp":1770668130123}`, errHas: "event_id"},
		{name: "BadEventID", schema: "1", payload: `{"event_id":"a b","tool_name":"x","status":"success","timestamp":1770668130123}`, errHas: "event_id"},
		{name: "NoToolName", schema: "1", payload: `{"event_id":"e1","status":"success","timestamp":1770668130123}`, errHas: "tool_name"},
		{name: "NoStatus", schema: "1", payload: `{"event_id":"e1","tool_name":"x","timestamp":1770668130123}`, errHas: "status"},
		{name: "BadStatus", schema: "1", payload: `{"event_id":"e1","tool_name":"x","status":"ok","timestamp":1770668130123}`, errHas: "status"},
		{name: "NoTimestamp", schema: "1", payload: `{"event_id":"e1","tool_name":"x","status":"success"}`, errHas: "timestamp"},
		{name: "NegativeTimestamp", schema: "1", payload: `{"event_id":"e1","tool_name":"x","status":"success","timestamp":-5}`, errHas: "timestamp"},
		{name: "TimestampPastYear9999", schema: "1", payload: `{"event_id":"e1","tool_name":"x","status":"success","timestamp":253402300800000}`, errHas: "year 9999"},
		{name: "StringTimestamp", schema: "1", payload: `{"event_id":"e1","tool_name":"x","status":"success","timestamp":"2026-02-09T20:00:00Z"}`, errHas: "line 1"},
		{name: "BadMetadata", schema: "1", payload: `{"event_id":"e1","tool_name":"x","status":"success","timestamp":1,"metadata":{"a":}}`, errHas: "line 1"},
		{name: "BadS2", schema: "1", encoding: wire.EncodingS2, payload: valid, errHas: "decompress s2 payload"},
		{name: "UnknownEncoding", schema: "1", encoding: "zstd", payload: valid, errHas: `unknown payload encoding "zstd"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := nats.Header{wire.SchemaHeader: []string{tt.schema}}
			if tt.encoding != "" {
				h.Set(wire.EncodingHeader, tt.encoding)
			}
			_, err := decodeMsg(h, []byte(tt.payload))
			if err == nil {
				t.Fatal("err=nil, want an error")
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err=%q, want it to contain %q", err, tt.errHas)
			}
		})
	}
}

func TestAppendEvent(t *testing.T) {
	// Ensure an event whose metadata is not JSON is refused, and the buffer
	// is left as it was.
	t.Run("ErrBadMetadata", func(t *testing.T) {
		ev := wireEvents()[1]
		ev.Metadata = json.RawMessage(`{"a":`)
		buf := []byte("prefix\n")
		got, err := wire.AppendEvent(buf, &ev)
		if err == nil {
			t.Fatal("err=nil, want an error")
		}
		if string(got) != "prefix\n" {
			t.Fatalf("buf=%q, want it unchanged", got)
		}
	})
}

func TestNewMsg(t *testing.T) {
	one := appendAll(t, wireEvents()[:1])
	var many []byte
	var want []trackskills.Event
	for len(many) < wire.CompressMin {
		evs := wireEvents()
		many = append(many, appendAll(t, evs)...)
		want = append(want, evs...)
	}
	tests := []struct {
		name       string
		payload    []byte
		events     []trackskills.Event
		compressed bool
	}{
		{name: "Small", payload: one, events: wireEvents()[:1]},
		{name: "Large", payload: many, events: want, compressed: true},
	}
	for _, tt := range tests {
		// Ensure the message carries the schema, is compressed from
		// CompressMin bytes on (and says so), and reads back the same.
		t.Run(tt.name, func(t *testing.T) {
			msg := wire.NewMsg(trackskills.SubjectIngest, tt.payload)
			if got, want := msg.Subject, trackskills.SubjectIngest; got != want {
				t.Errorf("subject=%q, want %q", got, want)
			}
			if got, want := msg.Header.Get(wire.SchemaHeader), wire.SchemaV1; got != want {
				t.Errorf("schema header=%q, want %q", got, want)
			}
			enc := msg.Header.Get(wire.EncodingHeader)
			switch {
			case tt.compressed && (enc != wire.EncodingS2 || len(msg.Data) >= len(tt.payload)):
				t.Errorf("encoding header=%q, %d of %d bytes: want %q and smaller", enc, len(msg.Data), len(tt.payload), wire.EncodingS2)
			case !tt.compressed && (enc != "" || &msg.Data[0] != &tt.payload[0]):
				t.Errorf("encoding header=%q: want none, and the payload itself, not a copy", enc)
			}
			payload, err := wire.Payload(msg.Header, msg.Data)
			if err != nil {
				t.Fatalf("payload: %v", err)
			}
			if !bytes.Equal(payload, tt.payload) {
				t.Errorf("payload=%.80q, want %.80q", payload, tt.payload)
			}
			got, err := decodeMsg(msg.Header, msg.Data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.events) {
				t.Errorf("decoded %d events, want %d the same", len(got), len(tt.events))
			}
		})
	}
}
