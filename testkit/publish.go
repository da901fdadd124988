package testkit

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/wire"
)

// publishSeq makes the message ids of MustPublish unique in a test binary.
var publishSeq atomic.Int64

// MustPublish publishes events as one message of the current payload
// schema on the ingest subject, as ingest does, and waits for the stream's
// acknowledgement; it returns the message's stream sequence.
func MustPublish(tb testing.TB, js jetstream.JetStream, events ...trackskills.Event) uint64 {
	tb.Helper()
	var data []byte
	for i := range events {
		var err error
		if data, err = wire.AppendEvent(data, &events[i]); err != nil {
			tb.Fatalf("append event: %v", err)
		}
	}
	msg := nats.NewMsg(trackskills.SubjectIngest)
	msg.Data = data
	msg.Header.Set(wire.SchemaHeader, wire.SchemaV1)
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("testkit-%d", publishSeq.Add(1)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		tb.Fatalf("publish: %v", err)
	}
	if ack.Duplicate {
		tb.Fatalf("publish: message %d taken as a duplicate", ack.Sequence)
	}
	return ack.Sequence
}

// Events returns n valid events with ids prefix-000000000 onwards, spread
// over the last n minutes, over a few tools, users and statuses.
func Events(n int, prefix string) []trackskills.Event {
	now := time.Now()
	evs := make([]trackskills.Event, n)
	for i := range evs {
		evs[i] = trackskills.Event{
			EventID:      fmt.Sprintf("%s-%09d", prefix, i),
			ToolName:     fmt.Sprintf("tool_%d", i%5),
			ToolCategory: []string{"default", "mcp", "script"}[i%3],
			Status:       trackskills.StatusSuccess,
			Timestamp:    now.Add(-time.Duration(i) * time.Minute).UnixMilli(),
			UserHash:     fmt.Sprintf("%032x", i%7),
			Source:       "api",
			ReceivedAt:   now.UnixMilli(),
		}
		if i%10 == 9 {
			evs[i].Status, evs[i].ErrorType = trackskills.StatusError, "ToolError"
		}
	}
	return evs
}
