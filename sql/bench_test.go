package sql_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// eventSeq makes event ids unique across every benchmark of the process.
var eventSeq atomic.Uint64

// eventGen makes realistic events: ULID-like ids, a few hundred users, ~50
// tools, 5% errors with a message and metadata on some.
type eventGen struct {
	rng   *rand.Rand
	users []string
	tools []string
	start time.Time
}

func newEventGen(seed uint64) *eventGen {
	g := &eventGen{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), start: testNow}
	for range 300 {
		g.users = append(g.users, fmt.Sprintf("%016x%016x", g.rng.Uint64(), g.rng.Uint64()))
	}
	prefixes := []string{"skill", "mcp__github", "mcp__slack", "script", "hook"}
	verbs := []string{"pdf_extract", "create_pr", "search", "deploy", "lint", "format", "summarize", "translate", "query", "upload"}
	for _, p := range prefixes {
		for _, v := range verbs {
			g.tools = append(g.tools, p+"_"+v)
		}
	}
	return g
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid returns a 26-character time-ordered id: 10 characters of time, 16 of
// a unique sequence.
func ulid(ms int64, seq uint64) string {
	var b [26]byte
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	for i := 25; i >= 10; i-- {
		b[i] = crockford[seq&31]
		seq >>= 5
	}
	return string(b[:])
}

// fill overwrites batch with fresh events that are not stored yet.
func (g *eventGen) fill(batch []trackskills.Event) {
	for i := range batch {
		// As in production: ingest makes ULIDs as events arrive, so ids
		// grow with insertion order, and a call happened a few seconds
		// before it was received.
		seq := eventSeq.Add(1)
		received := g.start.UnixMilli() + int64(seq)
		ts := received - int64(g.rng.IntN(5000))
		ev := trackskills.Event{
			EventID:      ulid(received, seq),
			ToolName:     g.tools[g.rng.IntN(len(g.tools))],
			ToolCategory: trackskills.DefaultCategory,
			Status:       trackskills.StatusSuccess,
			Timestamp:    ts,
			ReceivedAt:   received,
			UserHash:     g.users[g.rng.IntN(len(g.users))],
			Source:       trackskills.Sources[g.rng.IntN(len(trackskills.Sources))],
			StreamSeq:    seq,
		}
		if strings.HasPrefix(ev.ToolName, "mcp") {
			ev.ToolCategory = "mcp"
		}
		if g.rng.IntN(10) > 0 {
			d := int64(g.rng.ExpFloat64() * 800)
			ev.DurationMs = &d
		}
		if g.rng.IntN(2) == 0 {
			ev.SessionHash = g.users[g.rng.IntN(len(g.users))]
		}
		switch r := g.rng.IntN(100); {
		case r < 5:
			ev.Status = trackskills.StatusError
			ev.ErrorType = "ExitError"
			ev.ErrorMessage = fmt.Sprintf("exit status %d: %s failed after %d retries: permission denied on /srv/app/%d",
				1+g.rng.IntN(3), ev.ToolName, g.rng.IntN(4), g.rng.IntN(1000))
		case r < 6:
			ev.Status = trackskills.StatusTimeout
		}
		if g.rng.IntN(10) < 3 {
			ev.Metadata = fmt.Appendf(nil, `{"model":"claude","tokens":%d,"cwd":"/home/u/project-%d"}`, g.rng.IntN(4000), g.rng.IntN(20))
			n := int64(g.rng.IntN(1 << 16))
			ev.RequestSizeBytes, ev.ResponseSizeBytes = &n, &n
		}
		batch[i] = ev
	}
}

func BenchmarkDB_WriteBatch(b *testing.B) {
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			ctx := context.Background()
			db := testkit.MustOpenDB(b)
			gen := newEventGen(1)
			batch := make([]trackskills.Event, size)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				gen.fill(batch)
				b.StartTimer()
				res, err := db.WriteBatch(ctx, batch, nil)
				if err != nil {
					b.Fatalf("write batch: %v", err)
				}
				if res.Inserted != size {
					b.Fatalf("inserted=%d, want %d", res.Inserted, size)
				}
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "events/s")
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

		gen := newEventGen(1)
		batch := make([]trackskills.Event, size)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			gen.fill(batch)
			b.StartTimer()
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
	})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
