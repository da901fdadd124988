// Package wire is the stream's payload format (SPEC §5): NDJSON of
// trackskills.Event, one or many events a message, S2-compressed when large,
// versioned by a header. Ingest writes it, the consumer and the live feed
// read it. It lives apart from the root package so that the root stays
// stdlib-only for the light clients (the hook).
package wire

import (
	"bytes"
	"fmt"

	// The stream payload is our own format, written and read at every
	// event's pace: segmentio's drop-in encoding/json decodes it about 4x
	// faster. Client input keeps encoding/json for its exact errors.
	"github.com/klauspost/compress/s2"
	fastjson "github.com/segmentio/encoding/json"

	"github.com/trackskills/trackskills"
)

// Decompress undoes the payload encoding named by a message's
// EncodingHeader ("" is none). An error means the payload cannot be read.
func Decompress(encoding string, data []byte) ([]byte, error) {
	switch encoding {
	case "":
		return data, nil
	case trackskills.EncodingS2:
		out, err := s2.Decode(nil, data)
		if err != nil {
			return nil, fmt.Errorf("decompress s2 payload: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown payload encoding %q", encoding)
}

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

// DecodePayload reads the events of one stream message. schema is the value
// of its SchemaHeader; a message without the header is read as SchemaV1. An
// error means the message can never be decoded (a poison message).
func DecodePayload(schema string, data []byte, fn func(trackskills.Event) error) error {
	switch schema {
	case trackskills.SchemaV1, "":
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
	}
	return nil
}
