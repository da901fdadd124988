package sql

import (
	"errors"
	"reflect"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/runs"
)

// chunkEvents are events of every kind and flag a log code keeps.
func chunkEvents() []runs.Event {
	ok, failed := trackskills.StatusSuccess, trackskills.StatusError
	return []runs.Event{
		{TS: 1_770_000_000_000, ID: []byte("01J0000000000001"), Kind: trackskills.KindSessionStart, Name: "SessionStart", Status: ok},
		{TS: 1_770_000_000_000, ID: []byte("01J0000000000002"), Kind: trackskills.KindPrompt, Name: "UserPromptSubmit", Status: ok},
		{TS: 1_770_000_000_005, ID: []byte("01J0000000000003"), Name: "deploy", Category: "skill", Status: ok, UserSlash: true},
		{TS: 1_770_000_001_000, ID: []byte("tool-use-id-4"), Name: "mcp__github__create_issue", Status: failed, Interrupt: true},
		{TS: 1_770_000_002_000, ID: []byte("01J0000000000005"), Name: "Agent", Category: "subagent", Status: ok},
		{TS: 1_770_000_002_001, ID: []byte("01J0000000000006"), Name: "Read", Status: ok, Agent: "\x01\x02\x03\x04\x05\x06\x07\x08"},
		{TS: 1_770_000_900_000, ID: []byte("01J0000000000007"), Kind: trackskills.KindStop, Name: "Stop", Status: ok},
	}
}

func TestChunk_RoundTrip(t *testing.T) {
	evs := chunkEvents()
	got, err := decodeChunk(encodeChunk(evs), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, evs) {
		t.Fatalf("decoded\n %+v\nwant\n %+v", got, evs)
	}
	// Appends to what it is given.
	two, err := decodeChunk(encodeChunk(evs[:2]), got[:1:1])
	if err != nil || len(two) != 3 {
		t.Fatalf("append: %d events, err %v", len(two), err)
	}
}

func TestChunk_Corrupt(t *testing.T) {
	good := encodeChunk(chunkEvents())
	backwards := encodeChunk([]runs.Event{chunkEvents()[1], chunkEvents()[0]})
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated", good[:len(good)-3]},
		{"trailing byte", append(append([]byte{}, good...), 0x05)},
		{"out of order", backwards},
		{"field too long", []byte{0x02, 0xff, 0xff, 0x01}},
		{"bad time", []byte{0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := chunkEvents()[:1]
			out, err := decodeChunk(tc.data, prefix)
			if !errors.Is(err, errCorruptChunk) {
				t.Fatalf("err = %v, want errCorruptChunk", err)
			}
			if len(out) != 1 {
				t.Fatalf("out has %d events after an error, want the 1 it had", len(out))
			}
		})
	}
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add([]byte(nil))
	f.Add(encodeChunk(chunkEvents()))
	f.Add(encodeChunk(chunkEvents()[:1]))
	f.Add([]byte{0x02, 0x10, 0x41})
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := decodeChunk(data, nil)
		if err != nil {
			if !errors.Is(err, errCorruptChunk) {
				t.Fatalf("error %v does not match errCorruptChunk", err)
			}
			return
		}
		for i := 1; i < len(evs); i++ {
			if !runs.Less(&evs[i-1], &evs[i]) {
				t.Fatalf("events %d and %d out of order", i-1, i)
			}
		}
		again, err := decodeChunk(encodeChunk(evs), nil)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(again, evs) {
			t.Fatalf("re-decode differs:\n %+v\n %+v", again, evs)
		}
	})
}
