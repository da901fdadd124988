package consumer_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/loadgen"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// benchShapes are the message shapes the stream benchmarks pre-fill: one
// event a message (the worst case), 8 (what group commit makes of
// concurrent single requests) and 500 (as /api/track/batch publishes).
var benchShapes = []struct {
	name   string
	perMsg int // events a message
}{
	{name: "single", perMsg: 1},
	{name: "grouped", perMsg: 8}, // near group commit under 64 concurrent single requests (5 on average)
	{name: "batched", perMsg: 500},
}

// benchTotal is TRACKSKILLS_BENCH_EVENTS, the number of events a stream
// benchmark pre-fills: 100,000 unless set (BENCHMARKS.md uses 1,000,000).
func benchTotal(b *testing.B) int {
	b.Helper()
	s := os.Getenv("TRACKSKILLS_BENCH_EVENTS")
	if s == "" {
		return 100_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("TRACKSKILLS_BENCH_EVENTS=%q: want a positive number of events", s)
	}
	return n
}

// benchHistoryDays is TRACKSKILLS_BENCH_HISTORY, a number of days followed
// by d ("90d"): the span of the loadgen history (benchHistory) a stream
// benchmark pre-fills. Unset, it is def: 90 for the replay, 0 for the
// drain, which then pre-fills its own day of events (benchEvents).
func benchHistoryDays(b *testing.B, def int) int {
	b.Helper()
	s := os.Getenv("TRACKSKILLS_BENCH_HISTORY")
	if s == "" {
		return def
	}
	days, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if err != nil || !strings.HasSuffix(s, "d") || days < 1 || days > 400 {
		b.Fatalf("TRACKSKILLS_BENCH_HISTORY=%q: want days such as 90d (1-400)", s)
	}
	return days
}

// benchHistoryEnd ends every history of the test binary, so that its
// benchmarks write the same events.
var benchHistoryEnd = time.Now()

// benchHistory returns n events of a history of the given days ending at
// benchHistoryEnd, in arrival order, from loadgen's generator with the
// tools, error rate and seed of `trackskills seed` and as many events a
// user as its defaults make (500: 2,000 users for a million events):
// users from occasional to heavy who come and go, their sessions,
// Zipf-like tool popularity, a daily and weekly rhythm. The sql benchmarks
// make the same history under TRACKSKILLS_BENCH_HISTORY.
func benchHistory(n, days int) []trackskills.Event {
	sc := loadgen.DefaultSeedConfig()
	return loadgen.NewGenerator(loadgen.GeneratorConfig{
		Seed: sc.Seed, Tools: sc.Tools, Users: max(1, int(int64(n)*int64(sc.Users)/sc.Events)), ErrorRate: sc.ErrorRate,
		Days: days, Events: int64(n), End: benchHistoryEnd,
	}).Batch(n)
}

// BenchmarkConsumer_Drain times a fresh consumer draining a stream that
// already holds TRACKSKILLS_BENCH_EVENTS events (default 100,000;
// BENCHMARKS.md uses 1,000,000) into a fresh database, for each of
// benchShapes: with the rollups held (10 s, or 50,000 events), as serve and consumer
// hold them by default (WithRollupDelay), with the rollups of each batch
// written in its transaction, and without aggregates. The events are one day of
// synthetic traffic (benchEvents) unless TRACKSKILLS_BENCH_HISTORY=90d asks
// for the history BenchmarkReplay reads (benchHistory), so that the two
// compare on the same events.
func BenchmarkConsumer_Drain(b *testing.B) {
	total := benchTotal(b)
	events := benchEvents
	if days := benchHistoryDays(b, 0); days > 0 {
		events = func(n int) []trackskills.Event { return benchHistory(n, days) }
	}
	for _, shape := range benchShapes {
		for _, v := range []struct {
			name  string
			delay time.Duration // of the rollups (WithRollupDelay)
			skip  bool          // no aggregates at all
		}{{"rollups=held", 10 * time.Second, false}, {"rollups=each-batch", 0, false}, {"aggregates=false", 0, true}} {
			b.Run(shape.name+"/"+v.name, func(b *testing.B) {
				js := testkit.MustRunStream(b)
				prefill(b, js, events(total), shape.perMsg)
				drainEach(b, js, total, func() *sql.DB {
					db := testkit.MustOpenDB(b, sql.WithRollupDelay(v.delay, 0))
					db.SkipAggregates = v.skip
					return db
				})
			})
		}
	}
}

// BenchmarkConsumer_DrainRuns measures what the skill runs cost the
// consumer: a fresh consumer drains a stream of TRACKSKILLS_BENCH_EVENTS
// tool calls (default 100,000) in the dense live shape of the runs'
// benchmarks (loadgen's sessions: 300 users at work at once, with
// prompts, Stop, subagents and skills around their calls, 8 events a
// message as group commit makes them), into a database with the runs and
// one opened WithoutRuns. events/s counts the tool calls; the consumer's
// batches grow while its writer is busy, as under any load it cannot
// follow.
func BenchmarkConsumer_DrainRuns(b *testing.B) {
	total := benchTotal(b)
	gen := loadgen.NewGenerator(loadgen.GeneratorConfig{
		Seed: 1, Tools: 50, Users: 300, ErrorRate: 0.05,
		Days: 30, Events: 100_000_000, End: benchHistoryEnd, Sessions: true,
	})
	var events []trackskills.Event
	for calls := 0; calls < total; {
		ev := gen.Batch(1)[0]
		if ev.Kind == "" {
			calls++
		}
		events = append(events, ev)
	}
	const perMsg = 8
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("runs=%v", on), func(b *testing.B) {
			js := testkit.MustRunStream(b)
			prefill(b, js, events, perMsg)
			var opts []sql.Option
			if !on {
				opts = append(opts, sql.WithoutRuns())
			}
			opts = append(opts, sql.WithRollupDelay(10*time.Second, 0)) // serve's default
			drainEach(b, js, total, func() *sql.DB { return testkit.MustOpenDB(b, opts...) })
		})
	}
}

// drainEach times, b.N times, a fresh consumer on a new durable draining
// the stream js into a fresh database from open, until it has inserted
// total tool calls and the rollups it holds are written, and reports the
// rate.
func drainEach(b *testing.B, js jetstream.JetStream, total int, open func() *sql.DB) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		db := open()
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
		if err := db.Flush(context.Background()); err != nil { // the rollups it holds count too
			b.Fatal(err)
		}
		b.StopTimer()
		if err := r.stop(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReplay times consumer.Replay of a stream that already holds
// TRACKSKILLS_BENCH_EVENTS events (default 100,000; BENCHMARKS.md uses
// 1,000,000) into a fresh database, raw rows and aggregates, for each of
// benchShapes. The events are a history of 90 days (benchHistory;
// TRACKSKILLS_BENCH_HISTORY changes the span), as a stream kept for its
// full retention holds; BenchmarkConsumer_Drain with
// TRACKSKILLS_BENCH_HISTORY=90d drains the same events.
func BenchmarkReplay(b *testing.B) {
	total := benchTotal(b)
	days := benchHistoryDays(b, 90)
	events := benchHistory(total, days)
	for _, shape := range benchShapes {
		b.Run(shape.name, func(b *testing.B) {
			js := testkit.MustRunStream(b)
			prefill(b, js, events, shape.perMsg)
			logger := testkit.Logger(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				db := testkit.MustOpenDB(b)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				b.StartTimer()
				st, err := consumer.Replay(ctx, js, db, consumer.ReplayConfig{}, logger)
				b.StopTimer()
				cancel()
				if err != nil {
					b.Fatalf("replay: %v", err)
				}
				if st.Inserted != int64(total) {
					b.Fatalf("replay inserted %d events, want %d: %+v", st.Inserted, total, st)
				}
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// prefillWindow is how many publishes prefill leaves unacknowledged at
// most: far below the client's limit on outstanding async publishes
// (4,000 by default), past which a publish fails rather than waits.
const prefillWindow = 1000

// prefill publishes events in messages of perMsg events, asynchronously,
// waiting for the stream's acks every prefillWindow messages, and waits
// until the stream has acknowledged them all.
func prefill(b *testing.B, js jetstream.JetStream, events []trackskills.Event, perMsg int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	acked := func() {
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			b.Fatalf("prefill: %d publishes still pending", js.PublishAsyncPending())
		}
	}
	for i, n := 0, 0; i < len(events); i, n = i+perMsg, n+1 {
		if n > 0 && n%prefillWindow == 0 {
			acked()
		}
		msg := newMsg(wire.SchemaV1, payload(b, events[i:min(i+perMsg, len(events))]...))
		if _, err := js.PublishMsgAsync(msg); err != nil {
			b.Fatalf("publish: %v", err)
		}
	}
	acked()
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
