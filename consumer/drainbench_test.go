package consumer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/sql"
)

// BenchmarkConsumer_Prefilled drains a stream pre-filled with
// TRACKSKILLS_BENCH_EVENTS events (default 100,000; BENCHMARKS.md uses
// 1,000,000) into a fresh database, once per message shape: one event a
// message (the worst case) and 100 events a message (ingest's group commit
// under load). Only the drain is timed.
func BenchmarkConsumer_Prefilled(b *testing.B) {
	total := 100_000
	if s := os.Getenv("TRACKSKILLS_BENCH_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("TRACKSKILLS_BENCH_EVENTS: %v", err)
		}
		total = n
	}
	for _, perMsg := range []int{1, 100} {
		b.Run(fmt.Sprintf("events=%d/per_msg=%d", total, perMsg), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				drainOnce(b, total, perMsg)
			}
		})
	}
}

func drainOnce(b *testing.B, total, perMsg int) {
	b.StopTimer()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := b.TempDir()
	srv, err := embeddednats.Start(embeddednats.Config{StoreDir: filepath.Join(dir, "nats")}, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck // the benchmark is over
	nc, err := srv.Connect("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := ingest.EnsureStream(ctx, js, ingest.DefaultStreamConfig()); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixMilli()
	var buf []byte
	for i := 0; i < total; i++ {
		d := int64(50 + i%5000)
		ev := trackskills.Event{
			EventID: fmt.Sprintf("01KB%022d", i), ToolName: fmt.Sprintf("tool_%03d", i%50), ToolCategory: "skill",
			Status: "success", DurationMs: &d, Timestamp: now - int64(i%86400000), ReceivedAt: now,
			UserHash: fmt.Sprintf("%032x", i%2000), SessionHash: fmt.Sprintf("%032x", i%9000), Source: "api",
		}
		if i%20 == 0 {
			ev.Status, ev.ErrorType, ev.ErrorMessage = "error", "internal", "connection reset by peer"
		}
		if buf, err = trackskills.AppendEvent(buf, &ev); err != nil {
			b.Fatal(err)
		}
		if (i+1)%perMsg == 0 || i == total-1 {
			msg := &nats.Msg{Subject: trackskills.SubjectIngest, Data: buf, Header: nats.Header{}}
			msg.Header.Set(trackskills.SchemaHeader, trackskills.SchemaV1)
			if _, err := js.PublishMsgAsync(msg); err != nil {
				b.Fatal(err)
			}
			buf = nil
		}
	}
	<-js.PublishAsyncComplete()
	db, err := sql.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c, err := consumer.New(consumer.DefaultConfig(), js, db, logger)
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	b.StartTimer()
	start := time.Now()
	go func() { done <- c.Run(runCtx) }()
	for c.Stats().Inserted < int64(total) {
		select {
		case err := <-done:
			b.Fatalf("consumer stopped: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
}
