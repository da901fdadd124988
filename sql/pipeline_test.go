package sql_test

import (
	"context"
	"testing"
	"time"

	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

func TestDB_PipelineStats(t *testing.T) {
	ctx := context.Background()
	since := testNow.Add(-time.Minute)

	t.Run("Empty", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		got, err := db.PipelineStats(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		if want := (sql.PipelineStats{RecentSince: since.UnixMilli()}); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})

	t.Run("OK", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		db.Now = func() time.Time { return testNow.Add(-time.Hour) }
		evs := newEvents("p", 5)
		for i, ago := range []time.Duration{2 * time.Hour, 61 * time.Second, 59 * time.Second, time.Second, 30 * time.Second} {
			evs[i].ReceivedAt = testNow.Add(-ago).UnixMilli()
		}
		dead := []sql.DeadLetter{{StreamSeq: 90, Subject: "s", Reason: "r"}}
		if _, err := db.WriteBatch(ctx, evs[:4], dead); err != nil {
			t.Fatal(err)
		}
		db.Now = func() time.Time { return testNow }
		dead = []sql.DeadLetter{{StreamSeq: 91, Subject: "s", Reason: "r"}}
		if _, err := db.WriteBatch(ctx, evs[4:], dead); err != nil {
			t.Fatal(err)
		}
		got, err := db.PipelineStats(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		want := sql.PipelineStats{
			// The newest row is the last written, not the latest received.
			LastReceivedAt: evs[4].ReceivedAt,
			Recent:         3, RecentSince: since.UnixMilli(),
			DeadLetters: 2, LastDeadLetterAt: testNow.UnixMilli(),
		}
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})

	// More recent rows than PipelineScanRows: the rate is counted over the
	// span of the newest rows, which are all recent.
	t.Run("Capped", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		raw := mustOpenRaw(t, db.Path())
		const n = sql.PipelineScanRows + 1000
		start := since.UnixMilli() + 1000 // the first 1000 rows are 1 ms apart
		if _, err := raw.ExecContext(ctx, `
			WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)
			INSERT INTO skill_usage_events (event_id, user_id_hash, tool_name, timestamp, status, received_at, stream_seq)
			SELECT 'c-' || i, x'0102030405060708', 't', ?, 'success', ? + i, i FROM k`, n, start, start); err != nil {
			t.Fatal(err)
		}
		got, err := db.PipelineStats(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		want := sql.PipelineStats{LastReceivedAt: start + n, Recent: sql.PipelineScanRows, RecentSince: start + 1001}
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}
