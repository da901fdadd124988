package consumer_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/wire"
)

func TestDecodeDeadLetter(t *testing.T) {
	evs := makeEvents(3, "dl")
	data := payload(t, evs...)
	hdr := func(h nats.Header) string {
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	plain := hdr(nats.Header{wire.SchemaHeader: {wire.SchemaV1}})
	s2hdr := hdr(nats.Header{wire.SchemaHeader: {wire.SchemaV1}, wire.EncodingHeader: {wire.EncodingS2}})
	for _, tc := range []struct {
		name       string
		dl         sql.DeadLetter
		wantEvents int
		wantReason string // a substring; empty when it decodes
	}{
		{"plain", sql.DeadLetter{StreamSeq: 7, Headers: plain, Payload: data}, 3, ""},
		{"no headers", sql.DeadLetter{StreamSeq: 7, Payload: data}, 3, ""},
		{"s2", sql.DeadLetter{StreamSeq: 7, Headers: s2hdr, Payload: s2.Encode(nil, data)}, 3, ""},
		{"garbage", sql.DeadLetter{StreamSeq: 7, Headers: plain, Payload: []byte("not json\n")}, 0, "undecodable message: "},
		{"bad encoding", sql.DeadLetter{StreamSeq: 7, Headers: s2hdr, Payload: data}, 0, "decompress"},
		{"bad headers", sql.DeadLetter{StreamSeq: 7, Headers: "{", Payload: data}, 0, "undecodable message: headers: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, err := consumer.DecodeDeadLetter(tc.dl)
			if tc.wantReason == "" {
				if err != nil || reason != "" {
					t.Fatalf("err %v, reason %q", err, reason)
				}
			} else if err == nil || !strings.Contains(reason, tc.wantReason) {
				t.Fatalf("err %v, reason %q, want it to hold %q", err, reason, tc.wantReason)
			}
			if len(got) != tc.wantEvents {
				t.Fatalf("%d events, want %d", len(got), tc.wantEvents)
			}
			for i, ev := range got {
				if ev.StreamSeq != 7 || ev.EventID != evs[i].EventID {
					t.Fatalf("event %d: %+v", i, ev)
				}
			}
		})
	}
}
