package sql_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/loadgen"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// benchEnd ends the history the benchmarks write by default.
var benchEnd = testNow

// benchGen is the source of a benchmark's events: loadgen's generator and
// the end of its history.
type benchGen struct {
	*loadgen.Generator
	end time.Time
}

// newBenchGen returns loadgen's generator of stored events (the one the
// seeder uses): realistic fields, and ULID ids in time order, as ingest
// makes them on arrival, so that the unique index is appended to as in
// production. Its history is far longer than a benchmark writes (10^8
// events over 30 days, ~40 a second): a million events span a few hours, and
// ids rarely share a millisecond, within which their order is random.
//
// TRACKSKILLS_BENCH_HISTORY=90d asks instead for the history the consumer's
// drain and replay benchmarks read (consumer/bench_test.go, benchHistory):
// TRACKSKILLS_BENCH_EVENTS events (default 100,000) over 90 days ending
// now, with the tools, error rate and seed of `trackskills seed` and 500
// events a user. Its events run out after TRACKSKILLS_BENCH_EVENTS, so it
// wants a -benchtime of at most that many events in iterations (1000x for
// a million events in batches of 1,000).
func newBenchGen(b testing.TB) benchGen {
	b.Helper()
	h := os.Getenv("TRACKSKILLS_BENCH_HISTORY")
	if h == "" {
		return benchGen{loadgen.NewGenerator(loadgen.GeneratorConfig{
			Seed: 1, Tools: 50, Users: 300, ErrorRate: 0.05,
			Days: 30, Events: 100_000_000, End: benchEnd,
		}), benchEnd}
	}
	days, err := strconv.Atoi(strings.TrimSuffix(h, "d"))
	if err != nil || !strings.HasSuffix(h, "d") || days < 1 || days > 400 {
		b.Fatalf("TRACKSKILLS_BENCH_HISTORY=%q: want days such as 90d (1-400)", h)
	}
	n := int64(100_000)
	if s := os.Getenv("TRACKSKILLS_BENCH_EVENTS"); s != "" {
		if n, err = strconv.ParseInt(s, 10, 64); err != nil || n < 1 {
			b.Fatalf("TRACKSKILLS_BENCH_EVENTS=%q: want a positive number of events", s)
		}
	}
	sc, end := loadgen.DefaultSeedConfig(), time.Now()
	return benchGen{loadgen.NewGenerator(loadgen.GeneratorConfig{
		Seed: sc.Seed, Tools: sc.Tools, Users: max(1, int(n*int64(sc.Users)/sc.Events)), ErrorRate: sc.ErrorRate,
		Days: days, Events: n, End: end,
	}), end}
}

// newSessionsBenchGen is newBenchGen's generator with sessions: 300 users
// at work at once, their calls in sessions with skill runs, subagents and
// marks, the dense live shape of the runs' benchmarks.
func newSessionsBenchGen() benchGen {
	return benchGen{loadgen.NewGenerator(loadgen.GeneratorConfig{
		Seed: 1, Tools: 50, Users: 300, ErrorRate: 0.05,
		Days: 30, Events: 100_000_000, End: benchEnd, Sessions: true,
	}), benchEnd}
}

// nextBatch returns the next n events of gen, none stored yet, with b's
// timer stopped while it makes them. It fails b if the history ran out: the
// events past its end share one millisecond, and their ids would no longer
// be in insertion order.
func nextBatch(b *testing.B, gen benchGen, n int) []trackskills.Event {
	b.StopTimer()
	defer b.StartTimer()
	batch := gen.Batch(n)
	if batch[n-1].Timestamp >= gen.end.UnixMilli() {
		b.Fatalf("the generator's history ran out after %d events", batch[n-1].StreamSeq)
	}
	return batch
}

// BenchmarkDB_WriteBatch writes batches of 1, 100 and 1,000 events with
// their rollups in each batch, and batches of 1,000 whose rollups the
// writer holds (WithRollupDelay, as serve and consumer do by default): then
// it writes those of many batches at once, and the timer includes the
// last of them (Flush).
func BenchmarkDB_WriteBatch(b *testing.B) {
	for _, c := range []struct {
		size  int
		delay time.Duration
	}{{1, 0}, {100, 0}, {1000, 0}, {1000, 10 * time.Second}} {
		size := c.size
		name := fmt.Sprintf("size=%d", size)
		if c.delay > 0 {
			name += fmt.Sprintf("/rollup-delay=%v", c.delay)
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			db := testkit.MustOpenDB(b, sql.WithRollupDelay(c.delay, 0))
			gen := newBenchGen(b)
			b.ReportAllocs()
			written := loadgen.ProcessWriteBytes()
			b.ResetTimer()
			for range b.N { // not b.Loop: the timer goes on over the Flush below
				batch := nextBatch(b, gen, size)
				res, err := db.WriteBatch(ctx, batch, nil)
				if err != nil {
					b.Fatalf("write batch: %v", err)
				}
				if res.Inserted != size {
					b.Fatalf("inserted=%d, want %d", res.Inserted, size)
				}
			}
			if err := db.Flush(ctx); err != nil {
				b.Fatalf("flush: %v", err)
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "events/s")
			reportDiskBytes(b, written, size*b.N)
		})
	}
}

// BenchmarkDB_WriteBatch_Runs measures what the skill runs cost the
// writer: batches of 1,000 tool calls (and of 8,000, the consumer's batch
// while it is behind) in sessions shaped as hooks send them (GeneratorConfig.Sessions: prompts, Stop, subagents around the
// calls, a third of the turns starting with a skill), with the runs and
// without (WithoutRuns). events/s counts the tool calls; marks/s the
// session marks written besides them.
func BenchmarkDB_WriteBatch_Runs(b *testing.B) {
	for _, c := range []struct {
		size int
		on   bool
	}{{1000, true}, {1000, false}, {8000, true}, {8000, false}} {
		size, on := c.size, c.on
		b.Run(fmt.Sprintf("size=%d/runs=%v", size, on), func(b *testing.B) {
			ctx := context.Background()
			var opts []sql.Option
			if !on {
				opts = append(opts, sql.WithoutRuns())
			}
			db := testkit.MustOpenDB(b, opts...)
			gen := newSessionsBenchGen()
			b.ReportAllocs()
			var calls, marks int
			written := loadgen.ProcessWriteBytes()
			for b.Loop() {
				res, err := db.WriteBatch(ctx, nextBatch(b, gen, size), nil)
				if err != nil {
					b.Fatalf("write batch: %v", err)
				}
				calls, marks = calls+res.Inserted, marks+res.Marks
			}
			b.ReportMetric(float64(calls)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(marks)/b.Elapsed().Seconds(), "marks/s")
			reportDiskBytes(b, written, calls+marks)
		})
	}
}

// BenchmarkRawSQLiteInsert is the baseline for BenchmarkDB_WriteBatch: the
// raw SQLite batch insert rate into the same schema, with the same pragmas,
// through database/sql and one prepared INSERT, without the sql package.
func BenchmarkRawSQLiteInsert(b *testing.B) {
	const size = 1000
	b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
		ctx := context.Background()
		path := filepath.Join(b.TempDir(), "raw.db")
		migrated, err := sql.Open(ctx, path)
		if err != nil {
			b.Fatalf("migrate: %v", err)
		}
		if err := migrated.Close(); err != nil {
			b.Fatalf("close migrated database: %v", err)
		}
		raw := mustOpenRaw(b, path)
		stmt, err := raw.PrepareContext(ctx, `INSERT OR IGNORE INTO skill_usage_events (
			event_id, user_id_hash, session_hash, tool_name, tool_category, timestamp,
			duration_ms, status, error_type, error_message, request_size_bytes,
			response_size_bytes, metadata, source, received_at, stream_seq
		) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			b.Fatalf("prepare insert: %v", err)
		}
		b.Cleanup(func() { stmt.Close() })

		gen := newBenchGen(b)
		b.ReportAllocs()
		written := loadgen.ProcessWriteBytes()
		for b.Loop() {
			batch := nextBatch(b, gen, size)
			tx, err := raw.BeginTx(ctx, nil)
			if err != nil {
				b.Fatalf("begin: %v", err)
			}
			ins := tx.StmtContext(ctx, stmt)
			for i := range batch {
				ev := &batch[i]
				if _, err := ins.ExecContext(ctx,
					ev.EventID, ev.UserHash, nullable(ev.SessionHash), ev.ToolName, ev.ToolCategory, ev.Timestamp,
					ev.DurationMs, ev.Status, nullable(ev.ErrorType), nullable(ev.ErrorMessage),
					ev.RequestSizeBytes, ev.ResponseSizeBytes, nullable(string(ev.Metadata)),
					ev.Source, ev.ReceivedAt, int64(ev.StreamSeq)); err != nil {
					b.Fatalf("insert: %v", err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatalf("commit: %v", err)
			}
		}
		b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "events/s")
		reportDiskBytes(b, written, size*b.N)
	})
}

// reportDiskBytes reports the bytes the process has written to storage
// since before (loadgen.ProcessWriteBytes) per event of events, where
// the kernel says. The page cache counts a page once per time it is
// dirtied, as the database's pages and its log are written.
func reportDiskBytes(b *testing.B, before int64, events int) {
	after := loadgen.ProcessWriteBytes()
	if before < 0 || after < 0 || events == 0 {
		return
	}
	b.ReportMetric(float64(after-before)/float64(events), "disk-B/event")
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// BenchmarkDB_DeleteEventsBefore_Imported is the raw retention of 50,000
// rows received before the cutoff beside 200,000 imported ones (happened
// 200 days ago, received now), in chunks of 5,000: the walk by row id
// finds each chunk at the start of the table, where the timestamp index
// would pass the imported rows on every chunk. One op is one retention.
func BenchmarkDB_DeleteEventsBefore_Imported(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	cutoff := now.Add(-90 * 24 * time.Hour)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := testkit.MustOpenDB(b)
		for batch := 0; batch < 250; batch++ {
			evs := newEvents(fmt.Sprintf("b%d-%03d-", i, batch), 1000)
			for j := range evs {
				n := time.Duration(batch*1000+j) * time.Second
				if batch < 50 {
					evs[j].Timestamp = cutoff.Add(-n - time.Second).UnixMilli()
					evs[j].ReceivedAt = evs[j].Timestamp
				} else {
					evs[j].Timestamp = now.Add(-200*24*time.Hour + n).UnixMilli()
					evs[j].ReceivedAt, evs[j].Source = now.UnixMilli(), trackskills.SourceImport
				}
			}
			testkit.MustWriteBatch(b, db, evs)
		}
		b.StartTimer()
		n, err := db.DeleteEventsBefore(ctx, cutoff.UnixMilli(), 5000)
		if err != nil || n != 50_000 {
			b.Fatalf("deleted %d: %v", n, err)
		}
	}
}
