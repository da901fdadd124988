// Package wire is the stream's payload format (docs/CONTRACT.md, The
// stream): NDJSON of trackskills.Event, one or many events a message,
// S2-compressed when large, versioned by a header. It owns both halves:
// ingest's publisher writes messages with AppendEvent and NewMsg, the
// consumer and the live feed read them with Decode, and none of them names
// a header or compresses anything itself. It lives apart from the root
// package so that the root stays stdlib-only for the light clients (the
// hook).
package wire

import (
	"bytes"
	"fmt"

	// The stream payload is our own format, written and read at every
	// event's pace: segmentio's drop-in encoding/json decodes it about 4x
	// faster. Client input keeps encoding/json for its exact errors.
	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	fastjson "github.com/segmentio/encoding/json"

	"github.com/trackskills/trackskills"
)

// The headers of a stream message and their values.
const (
	// SchemaHeader names the payload schema version of a message; a
	// message without it is read as SchemaV1.
	SchemaHeader = "Trackskills-Schema"
	// SchemaV1 is the current payload schema: NDJSON, one Event a line.
	SchemaV1 = "1"
	// EncodingHeader names how the payload is compressed; absent means not.
	EncodingHeader = "Trackskills-Encoding"
	// EncodingS2 is S2 block compression (github.com/klauspost/compress/s2).
	EncodingS2 = "s2"
)

// CompressMin is the payload size, in bytes, from which NewMsg compresses.
const CompressMin = 2048

// AppendEvent appends ev to buf as one NDJSON line of the SchemaV1 payload.
// HTML is not escaped, so metadata is stored byte for byte as received
// (compacted).
func AppendEvent(buf []byte, ev *trackskills.Event) ([]byte, error) {
	out, err := fastjson.Append(buf, ev, 0) // flags 0: no HTML escaping
	if err != nil {
		return buf, fmt.Errorf("encode event: %w", err)
	}
	return append(out, '\n'), nil
}

// NewMsg returns the message to publish on subject for payload, NDJSON
// lines made by AppendEvent. It carries SchemaHeader and, from CompressMin
// bytes on, the payload S2-compressed with EncodingHeader saying so; the
// caller may add headers of its own (such as Nats-Msg-Id).
func NewMsg(subject string, payload []byte) *nats.Msg {
	msg := &nats.Msg{Subject: subject, Data: payload, Header: make(nats.Header, 3)}
	msg.Header.Set(SchemaHeader, SchemaV1)
	if len(payload) >= CompressMin {
		// NDJSON of many events repeats its keys: S2 shrinks it several
		// times over at memory speed, and JetStream caches (and keeps
		// for 90 days) what we publish.
		msg.Data = s2.Encode(nil, payload)
		msg.Header.Set(EncodingHeader, EncodingS2)
	}
	return msg
}

// Payload returns the NDJSON payload of a message from its header h and
// data, decompressed as its EncodingHeader says. An error means the payload
// cannot be read.
func Payload(h nats.Header, data []byte) ([]byte, error) {
	switch enc := h.Get(EncodingHeader); enc {
	case "":
		return data, nil
	case EncodingS2:
		out, err := s2.Decode(nil, data)
		if err != nil {
			return nil, fmt.Errorf("decompress s2 payload: %w", err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unknown payload encoding %q", enc)
	}
}

// Decode calls fn with each event of a message, from its header h (nil is
// a message without headers) and data. It stops at fn's first error and
// returns it as is; any other error means the message can never be decoded
// (a poison message).
func Decode(h nats.Header, data []byte, fn func(trackskills.Event) error) error {
	payload, err := Payload(h, data)
	if err != nil {
		return err
	}
	return decodePayload(h.Get(SchemaHeader), payload, fn)
}

// decodePayload reads the events of an NDJSON payload of the given schema
// ("" is SchemaV1).
func decodePayload(schema string, data []byte, fn func(trackskills.Event) error) error {
	switch schema {
	case SchemaV1, "":
	default:
		return fmt.Errorf("unknown payload schema %q", schema)
	}
	n := 0
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var ev trackskills.Event
		if err := fastjson.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		if err := checkStored(&ev); err != nil {
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		if err := fn(ev); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("payload holds no event")
	}
	return nil
}

// checkStored checks the fields that every stored event must have.
func checkStored(ev *trackskills.Event) error {
	switch {
	case trackskills.CheckEventID(ev.EventID) != nil:
		return fmt.Errorf("bad event_id %q", trackskills.Clip(ev.EventID))
	case ev.ToolName == "":
		return fmt.Errorf("event %s has no tool_name", ev.EventID)
	case ev.Status != trackskills.StatusSuccess && ev.Status != trackskills.StatusError && ev.Status != trackskills.StatusTimeout:
		return fmt.Errorf("event %s has bad status %q", ev.EventID, trackskills.Clip(ev.Status))
	case ev.Timestamp <= 0:
		return fmt.Errorf("event %s has no timestamp", ev.EventID)
	case ev.Timestamp > lastStorableMs:
		// Ingest refuses such a time; only a message published straight
		// to the stream carries one. SQLite's dates end with year 9999:
		// stored, it would fail its batch for ever.
		return fmt.Errorf("event %s has a timestamp beyond year 9999", ev.EventID)
	}
	return nil
}

// lastStorableMs is the last millisecond of year 9999 UTC, the last that
// SQLite's date functions read.
const lastStorableMs = 253402300799999
