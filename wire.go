package trackskills

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// AppendEvent appends ev to buf as one NDJSON line of the SchemaV1 payload.
// HTML is not escaped, so metadata is stored byte for byte as received
// (compacted).
func AppendEvent(buf []byte, ev *Event) ([]byte, error) {
	w := bytes.NewBuffer(buf)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil { // Encode ends the line with \n
		return buf, fmt.Errorf("encode event: %w", err)
	}
	return w.Bytes(), nil
}

// DecodePayload reads the events of one stream message. schema is the value
// of its SchemaHeader; a message without the header is read as SchemaV1. An
// error means the message can never be decoded (a poison message).
func DecodePayload(schema string, data []byte, fn func(Event) error) error {
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
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		if err := ev.checkStored(); err != nil {
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
func (ev *Event) checkStored() error {
	switch {
	case CheckEventID(ev.EventID) != nil:
		return fmt.Errorf("bad event_id %q", clip(ev.EventID))
	case ev.ToolName == "":
		return fmt.Errorf("event %s has no tool_name", ev.EventID)
	case ev.Status != StatusSuccess && ev.Status != StatusError && ev.Status != StatusTimeout:
		return fmt.Errorf("event %s has bad status %q", ev.EventID, clip(ev.Status))
	case ev.Timestamp <= 0:
		return fmt.Errorf("event %s has no timestamp", ev.EventID)
	}
	return nil
}
