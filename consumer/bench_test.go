package consumer_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// BenchmarkConsumer_Drain times a fresh consumer draining a stream that
// already holds TRACKSKILLS_BENCH_EVENTS events (default 100,000;
// BENCHMARKS.md uses 1,000,000) into a fresh database, for messages of one
// event (the worst case), of 8 (what group commit makes of concurrent
// single requests) and of 500 (as /api/track/batch publishes).
func BenchmarkConsumer_Drain(b *testing.B) {
	total := 100_000
	if s := os.Getenv("TRACKSKILLS_BENCH_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("TRACKSKILLS_BENCH_EVENTS: %v", err)
		}
		total = n
	}
	for _, shape := range []struct {
		name   string
		perMsg int // events a message
	}{
		{name: "single", perMsg: 1},
		{name: "grouped", perMsg: 8}, // near group commit under 64 concurrent single requests (5 on average)
		{name: "batched", perMsg: 500},
	} {
		for _, aggregates := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/aggregates=%v", shape.name, aggregates), func(b *testing.B) {
				js := testkit.MustRunStream(b)
				prefill(b, js, benchEvents(total), shape.perMsg)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					db := testkit.MustOpenDB(b)
					db.SkipAggregates = !aggregates
					cfg := consumer.DefaultConfig()
					cfg.Durable = fmt.Sprintf("bench-%d", i) // a new durable reads from the start
					c := newConsumer(b, cfg, js, db)
					b.StartTimer()
					r := start(b, c)
					deadline := time.Now().Add(5 * time.Minute)
					for c.Stats().Inserted < int64(total) {
						if time.Now().After(deadline) || !r.running() {
							b.Fatalf("drain stalled: stats=%+v, run err=%v", c.Stats(), r.err)
						}
						time.Sleep(time.Millisecond)
					}
					b.StopTimer()
					if err := r.stop(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// prefill publishes events in messages of perMsg events, asynchronously,
// and waits until the stream has acknowledged them all.
func prefill(b *testing.B, js jetstream.JetStream, events []trackskills.Event, perMsg int) {
	b.Helper()
	for i := 0; i < len(events); i += perMsg {
		msg := newMsg(wire.SchemaV1, payload(b, events[i:min(i+perMsg, len(events))]...))
		if _, err := js.PublishMsgAsync(msg); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		b.Fatalf("prefill: %d publishes still pending", js.PublishAsyncPending())
	}
	if got, want := testkit.MustStreamState(b, js).Msgs, uint64((len(events)+perMsg-1)/perMsg); got != want {
		b.Fatalf("stream holds %d messages, want %d", got, want)
	}
}

// benchEvents returns events shaped like production traffic, as the raw
// SQLite benchmark inserts them: 5% errors, 128-bit hashes, metadata on
// some, ids and times in arrival order over one day, 2,000 users.
func benchEvents(n int) []trackskills.Event {
	events := makeEvents(n, "bench")
	start := time.Now().Add(-24 * time.Hour).UnixMilli()
	for i := range events {
		ev := &events[i]
		// A day of traffic in arrival order, as the consumer sees it.
		ev.Timestamp = start + int64(i)*int64(24*time.Hour/time.Millisecond)/int64(n)
		ev.UserHash = fmt.Sprintf("%032x", i%2000)
		if ev.SessionHash != "" {
			ev.SessionHash = fmt.Sprintf("%032x", i%9000)
		}
		if i%20 == 0 {
			ev.Status, ev.ErrorType, ev.ErrorMessage = trackskills.StatusError, "ToolError", "connection reset by peer"
		} else {
			ev.Status, ev.ErrorType, ev.ErrorMessage = trackskills.StatusSuccess, "", ""
		}
	}
	return events
}
