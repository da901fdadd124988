package sql_test

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// aggEvent is an event of the aggregate tests.
func aggEvent(id string, ts time.Time, tool, category, status string, dur *int64, user string) trackskills.Event {
	ev := newEvent(id)
	ev.Timestamp, ev.ToolName, ev.ToolCategory, ev.Status, ev.DurationMs, ev.UserHash = ts.UnixMilli(), tool, category, status, dur, user
	if status != trackskills.StatusSuccess {
		ev.ErrorType, ev.ErrorMessage = "internal", "boom"
	}
	return ev
}

// aggEvents is a known set of events around two UTC days and hours.
func aggEvents() []trackskills.Event {
	day := time.Date(2026, 2, 9, 0, 0, 0, 0, time.UTC)
	const ok, fail, timeout = trackskills.StatusSuccess, trackskills.StatusError, trackskills.StatusTimeout
	return []trackskills.Event{
		aggEvent("e1", day.Add(21*time.Hour+30*time.Minute), "tool_a", "x", ok, i64(100), "u1"),
		aggEvent("e2", day.Add(21*time.Hour+45*time.Minute), "tool_a", "x", fail, i64(300), "u2"),
		aggEvent("e3", day.Add(22*time.Hour-time.Millisecond), "tool_a", "x", timeout, nil, "u1"),
		aggEvent("e4", day.Add(22*time.Hour), "tool_a", "x", ok, i64(50), "u1"),
		aggEvent("e5", day.Add(21*time.Hour+10*time.Minute), "tool_a", "y", ok, i64(10), "u3"),
		aggEvent("e6", day.Add(-time.Millisecond), "tool_b", "x", fail, nil, "u2"),
		aggEvent("e7", day, "tool_b", "x", ok, i64(0), "u2"),
	}
}

// histString describes an encoded histogram as bucket:count pairs; NULL
// and an empty histogram both read as "-".
func histString(tb testing.TB, b []byte) string {
	tb.Helper()
	var h trackskills.Histogram
	if err := trackskills.DecodeHistogram(b, &h); err != nil {
		tb.Fatalf("decode histogram %x: %v", b, err)
	}
	return histDesc(&h)
}

func histDesc(h *trackskills.Histogram) string {
	var parts []string
	for b := range trackskills.HistBuckets {
		if n := h.BucketCount(b); n > 0 {
			parts = append(parts, fmt.Sprintf("%d:%d", b, n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

func histOf(durs ...int64) string {
	var h trackskills.Histogram
	for _, d := range durs {
		h.Add(d)
	}
	return histDesc(&h)
}

// aggDump returns every row of the four aggregate tables as text, sorted by
// key.
func aggDump(tb testing.TB, raw *dbsql.DB) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	for _, tq := range []struct{ table, key string }{{"tool_hourly", "hour"}, {"tool_daily", "day"}} {
		rows, err := raw.Query(`SELECT ` + tq.key + `, tool_name, tool_category, invocations, successes, errors, timeouts,
			duration_count, duration_sum, duration_max, latency_hist FROM ` + tq.table + ` ORDER BY 1, 2, 3`)
		if err != nil {
			tb.Fatalf("query %s: %v", tq.table, err)
		}
		for rows.Next() {
			var key any
			var tool, cat string
			var inv, succ, errs, tos, dc, ds int64
			var dmax dbsql.NullInt64
			var hist []byte
			if err := rows.Scan(&key, &tool, &cat, &inv, &succ, &errs, &tos, &dc, &ds, &dmax, &hist); err != nil {
				tb.Fatalf("scan %s: %v", tq.table, err)
			}
			if ms, ok := key.(int64); ok {
				key = time.UnixMilli(ms).UTC().Format("2006-01-02T15")
			}
			mx := "NULL"
			if dmax.Valid {
				mx = fmt.Sprint(dmax.Int64)
			}
			out[tq.table] = append(out[tq.table], fmt.Sprintf("%s|%s|%s inv=%d ok=%d err=%d to=%d dur=%d/%d/%s hist=%s",
				key, tool, cat, inv, succ, errs, tos, dc, ds, mx, histString(tb, hist)))
		}
		if err := rows.Close(); err != nil {
			tb.Fatalf("close %s: %v", tq.table, err)
		}
	}
	// Users are stored as 8-byte keys (keys.go): show them by test label.
	label := map[string]string{}
	for i := range 100 {
		u := fmt.Sprintf("u%d", i)
		label[string(sql.HashKey(u))] = u
	}
	for _, tq := range []struct{ table, cols string }{
		{"user_daily", "day, user_id_hash"},
		{"tool_user_daily", "date(day * 86400, 'unixepoch') || '|' || tool_name, user_id_hash"},
	} {
		rows, err := raw.Query(`SELECT ` + tq.cols + ` FROM ` + tq.table)
		if err != nil {
			tb.Fatalf("query %s: %v", tq.table, err)
		}
		for rows.Next() {
			var key string
			var user []byte
			if err := rows.Scan(&key, &user); err != nil {
				tb.Fatalf("scan %s: %v", tq.table, err)
			}
			name, ok := label[string(user)]
			if !ok {
				name = fmt.Sprintf("%x", user)
			}
			out[tq.table] = append(out[tq.table], key+"|"+name)
		}
		if err := rows.Close(); err != nil {
			tb.Fatalf("close %s: %v", tq.table, err)
		}
		slices.Sort(out[tq.table])
	}
	return out
}

func wantAggregates() map[string][]string {
	return map[string][]string{
		"tool_hourly": {
			"2026-02-08T23|tool_b|x inv=1 ok=0 err=1 to=0 dur=0/0/NULL hist=-",
			"2026-02-09T00|tool_b|x inv=1 ok=1 err=0 to=0 dur=1/0/0 hist=" + histOf(0),
			"2026-02-09T21|tool_a|x inv=3 ok=1 err=1 to=1 dur=2/400/300 hist=" + histOf(100, 300),
			"2026-02-09T21|tool_a|y inv=1 ok=1 err=0 to=0 dur=1/10/10 hist=" + histOf(10),
			"2026-02-09T22|tool_a|x inv=1 ok=1 err=0 to=0 dur=1/50/50 hist=" + histOf(50),
		},
		"tool_daily": {
			"2026-02-08|tool_b|x inv=1 ok=0 err=1 to=0 dur=0/0/NULL hist=-",
			"2026-02-09|tool_a|x inv=4 ok=2 err=1 to=1 dur=3/450/300 hist=" + histOf(100, 300, 50),
			"2026-02-09|tool_a|y inv=1 ok=1 err=0 to=0 dur=1/10/10 hist=" + histOf(10),
			"2026-02-09|tool_b|x inv=1 ok=1 err=0 to=0 dur=1/0/0 hist=" + histOf(0),
		},
		"user_daily": {
			"2026-02-08|u2",
			"2026-02-09|u1",
			"2026-02-09|u2",
			"2026-02-09|u3",
		},
		"tool_user_daily": {
			"2026-02-08|tool_b|u2",
			"2026-02-09|tool_a|u1",
			"2026-02-09|tool_a|u2",
			"2026-02-09|tool_a|u3",
			"2026-02-09|tool_b|u2",
		},
	}
}

func diffDump(tb testing.TB, got, want map[string][]string) {
	tb.Helper()
	for _, table := range []string{"tool_hourly", "tool_daily", "user_daily", "tool_user_daily"} {
		if !reflect.DeepEqual(got[table], want[table]) {
			tb.Errorf("%s:\n got  %s\n want %s", table, strings.Join(got[table], "\n      "), strings.Join(want[table], "\n      "))
		}
	}
}

func TestDB_WriteBatchAggregates(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		evs := aggEvents()
		// Two batches, so that rows written by the first are updated by
		// the second (ON CONFLICT merge of counts, max and histogram).
		testkit.MustWriteBatch(t, db, evs[:2])
		testkit.MustWriteBatch(t, db, evs[2:])
		diffDump(t, aggDump(t, mustOpenRaw(t, db.Path())), wantAggregates())
	})

	t.Run("Redelivery", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		evs := aggEvents()
		testkit.MustWriteBatch(t, db, evs)
		raw := mustOpenRaw(t, db.Path())
		before := aggDump(t, raw)

		res := testkit.MustWriteBatch(t, db, evs)
		if got, want := res.Inserted, 0; got != want {
			t.Fatalf("inserted=%d, want %d", got, want)
		}
		if got, want := res.Ignored, len(evs); got != want {
			t.Fatalf("ignored=%d, want %d", got, want)
		}
		// A partial redelivery mixed with nothing new, in another order.
		testkit.MustWriteBatch(t, db, []trackskills.Event{evs[4], evs[1], evs[6]})
		diffDump(t, aggDump(t, raw), before)
		diffDump(t, before, wantAggregates())
	})

	t.Run("DuplicateInBatch", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		evs := aggEvents()
		batch := append([]trackskills.Event{}, evs[:3]...)
		dup := evs[1] // the same event_id twice in one batch
		batch = append(batch, dup)
		batch = append(batch, evs[3:]...)
		batch = append(batch, evs[0])
		res := testkit.MustWriteBatch(t, db, batch)
		if got, want := res.Inserted, len(evs); got != want {
			t.Fatalf("inserted=%d, want %d", got, want)
		}
		if got, want := res.Ignored, 2; got != want {
			t.Fatalf("ignored=%d, want %d", got, want)
		}
		diffDump(t, aggDump(t, mustOpenRaw(t, db.Path())), wantAggregates())
	})

	t.Run("NoDuration", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		ts := time.Date(2026, 2, 9, 10, 5, 0, 0, time.UTC)
		testkit.MustWriteBatch(t, db, []trackskills.Event{aggEvent("d1", ts, "t", "c", trackskills.StatusSuccess, i64(1234), "u1")})
		// Events without duration_ms, in the same rows, in a later batch.
		testkit.MustWriteBatch(t, db, []trackskills.Event{
			aggEvent("d2", ts.Add(time.Minute), "t", "c", trackskills.StatusSuccess, nil, "u1"),
			aggEvent("d3", ts.Add(2*time.Minute), "t", "c", trackskills.StatusTimeout, nil, "u2"),
		})
		got := aggDump(t, mustOpenRaw(t, db.Path()))
		want := map[string][]string{
			"tool_hourly":     {"2026-02-09T10|t|c inv=3 ok=2 err=0 to=1 dur=1/1234/1234 hist=" + histOf(1234)},
			"tool_daily":      {"2026-02-09|t|c inv=3 ok=2 err=0 to=1 dur=1/1234/1234 hist=" + histOf(1234)},
			"user_daily":      {"2026-02-09|u1", "2026-02-09|u2"},
			"tool_user_daily": {"2026-02-09|t|u1", "2026-02-09|t|u2"},
		}
		diffDump(t, got, want)
		// The histogram is byte for byte the one of the first batch, and a
		// row that never had a duration keeps duration_max and the
		// histogram NULL.
		var one trackskills.Histogram
		one.Add(1234)
		raw := mustOpenRaw(t, db.Path())
		var hist []byte
		if err := raw.QueryRow(`SELECT latency_hist FROM tool_hourly WHERE tool_name = 't'`).Scan(&hist); err != nil {
			t.Fatalf("query: %v", err)
		}
		if got, want := hist, one.AppendBinary(nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("latency_hist=%x, want %x", got, want)
		}
		testkit.MustWriteBatch(t, db, []trackskills.Event{aggEvent("d4", ts.Add(time.Hour), "t", "c", trackskills.StatusError, nil, "u1")})
		var n int
		if err := raw.QueryRow(`SELECT COUNT(*) FROM tool_hourly WHERE tool_name = 't' AND duration_count = 0
			AND duration_sum = 0 AND duration_max IS NULL AND latency_hist IS NULL`).Scan(&n); err != nil {
			t.Fatalf("query: %v", err)
		}
		if got, want := n, 1; got != want {
			t.Fatalf("hour rows without any duration=%d, want %d", got, want)
		}
	})
}

// TestOpen_Backfill simulates a database created before migration 0002:
// the 0001 schema with raw events and no aggregate tables. Opening it
// applies 0002, whose backfill must give the same aggregates as the
// consumer's write path.
func TestOpen_Backfill(t *testing.T) {
	ctx := context.Background()
	evs := aggEvents()

	oldPath := filepath.Join(t.TempDir(), "old.db")
	init, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatalf("read 0001: %v", err)
	}
	raw := mustOpenRaw(t, oldPath)
	if _, err := raw.Exec(`CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatalf("create migrations: %v", err)
	}
	if _, err := raw.Exec(string(init)); err != nil {
		t.Fatalf("apply 0001: %v", err)
	}
	if _, err := raw.Exec(`INSERT INTO migrations (name, applied_at) VALUES ('0001_init.sql', 1)`); err != nil {
		t.Fatalf("record 0001: %v", err)
	}
	for i, ev := range evs {
		if _, err := raw.Exec(`INSERT INTO skill_usage_events (event_id, user_id_hash, tool_name, tool_category,
			timestamp, duration_ms, status, error_type, error_message, source, received_at, stream_seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ev.EventID, ev.UserHash, ev.ToolName, ev.ToolCategory,
			ev.Timestamp, ev.DurationMs, ev.Status, ev.ErrorType, ev.ErrorMessage, ev.Source, ev.ReceivedAt, i+1); err != nil {
			t.Fatalf("insert %s: %v", ev.EventID, err)
		}
	}

	db, err := sql.Open(ctx, oldPath)
	if err != nil {
		t.Fatalf("open pre-0002 database: %v", err)
	}
	defer db.Close()
	diffDump(t, aggDump(t, raw), wantAggregates())

	// And the consumer keeps adding to backfilled rows.
	testkit.MustWriteBatch(t, db, evs) // all redeliveries: nothing changes
	diffDump(t, aggDump(t, raw), wantAggregates())
	extra := aggEvent("e8", time.Date(2026, 2, 9, 21, 0, 0, 0, time.UTC), "tool_a", "y", trackskills.StatusSuccess, i64(20), "u3")
	testkit.MustWriteBatch(t, db, []trackskills.Event{extra})
	got := aggDump(t, raw)
	if got, want := got["tool_hourly"][3], "2026-02-09T21|tool_a|y inv=2 ok=2 err=0 to=0 dur=2/30/20 hist="+histOf(10, 20); got != want {
		t.Fatalf("tool_hourly after backfill and write:\n got  %s\n want %s", got, want)
	}
}

// TestDB_WriteBatchAggregates_PartlyStored: a batch that mixes events
// stored by an earlier batch, new ones and repeats within itself counts
// exactly the new ones, as if they alone had been written.
func TestDB_WriteBatchAggregates_PartlyStored(t *testing.T) {
	evs := aggEvents()
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, []trackskills.Event{evs[1], evs[4]})
	batch := []trackskills.Event{evs[0], evs[1], evs[2], evs[0], evs[3], evs[4], evs[5], evs[6], evs[2]}
	res := testkit.MustWriteBatch(t, db, batch)
	if got, want := res.Inserted, 5; got != want {
		t.Fatalf("inserted=%d, want %d", got, want)
	}
	if got, want := res.Ignored, 4; got != want {
		t.Fatalf("ignored=%d, want %d", got, want)
	}
	diffDump(t, aggDump(t, mustOpenRaw(t, db.Path())), wantAggregates())
	got, err := db.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range got {
		ids = append(ids, ev.EventID)
	}
	if want := []string{"e2", "e5", "e1", "e3", "e4", "e6", "e7"}; !slices.Equal(ids, want) {
		t.Fatalf("events in insertion order %v, want %v", ids, want)
	}
}

// TestDB_WriteBatch_Chunks: a batch of more events than one insert
// statement carries, with ids stored before and repeated across its
// statements, stores and counts each id once.
func TestDB_WriteBatch_Chunks(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	evs := newEvents("c", 9000)
	testkit.MustWriteBatch(t, db, evs[100:200])
	batch := append(slices.Clone(evs), evs[50:150]...) // repeats in a later statement
	res := testkit.MustWriteBatch(t, db, batch)
	if got, want := res.Inserted, 8900; got != want {
		t.Fatalf("inserted=%d, want %d", got, want)
	}
	if got, want := res.Ignored, 200; got != want {
		t.Fatalf("ignored=%d, want %d", got, want)
	}
	var inv int64
	if err := mustOpenRaw(t, db.Path()).QueryRowContext(ctx, `SELECT SUM(invocations) FROM tool_daily`).Scan(&inv); err != nil {
		t.Fatal(err)
	}
	if got, want := inv, int64(9000); got != want {
		t.Fatalf("invocations=%d, want %d", got, want)
	}
}
