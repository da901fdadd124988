package wire_test

import (
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// The seed corpus on disk is testdata/fuzz/<FuzzName>/; these f.Add seeds
// cover the same ground in a readable form.

func FuzzDecodePayload(f *testing.F) {
	f.Add("1", []byte(`{"event_id":"e1","tool_name":"x","status":"success","timestamp":1770668130123}`))
	f.Add("", []byte("\n{\"event_id\":\"e1\",\"tool_name\":\"x\",\"status\":\"error\",\"timestamp\":1,\"metadata\":{\"a\":1}}\r\n\n{\"event_id\":\"e2\",\"tool_name\":\"y\",\"status\":\"timeout\",\"timestamp\":2,\"duration_ms\":0}"))
	f.Add("2", []byte(`{"event_id":"e1","tool_name":"x","status":"success","timestamp":1}`))
	f.Add("1", []byte(`{"event_id":"e1","tool_name":"x","status":"success","timestamp":1}`+"\n{garbage"))
	f.Add("1", []byte(`{"event_id":"a b","tool_name":"","status":"ok","timestamp":-1}`))
	f.Add("1", []byte(``))
	f.Add("1", []byte(`null`))
	f.Fuzz(func(t *testing.T, schema string, data []byte) {
		evs, err := decodeAll(schema, data)
		if err != nil {
			return
		}
		if len(evs) == 0 {
			t.Fatal("Decode returned nil without an event")
		}
		if schema != wire.SchemaV1 && schema != "" {
			t.Fatalf("schema %q accepted", schema)
		}
		for i, ev := range evs {
			if err := trackskills.CheckEventID(ev.EventID); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if ev.ToolName == "" {
				t.Fatalf("event %d has no tool_name", i)
			}
			if !testkit.ValidStatus(ev.Status) {
				t.Fatalf("event %d has status %q", i, ev.Status)
			}
			if ev.Timestamp <= 0 {
				t.Fatalf("event %d has timestamp %d", i, ev.Timestamp)
			}
			if ev.StreamSeq != 0 {
				t.Fatalf("event %d has stream_seq %d from the payload", i, ev.StreamSeq)
			}
		}

		// A replay that re-encodes what it read must read it back the same,
		// compressed or not.
		var buf []byte
		for i := range evs {
			if buf, err = wire.AppendEvent(buf, &evs[i]); err != nil {
				t.Fatalf("re-encode event %d: %v", i, err)
			}
		}
		msg := wire.NewMsg(trackskills.SubjectIngest, buf)
		again, err := decodeMsg(msg.Header, msg.Data)
		if err != nil {
			t.Fatalf("decode re-encoded payload: %v", err)
		}
		if len(again) != len(evs) {
			t.Fatalf("re-encoded payload has %d events, want %d", len(again), len(evs))
		}
		for i := range evs {
			testkit.AssertSameEvent(t, again[i], evs[i])
		}
	})
}
