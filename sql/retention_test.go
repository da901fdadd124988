package sql_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure expired raw events go in chunks, newer ones stay, and expired
// aggregate rows go while the rest stay.
func TestDB_Retention(t *testing.T) {
	db := testkit.MustOpenDB(t)
	ctx := context.Background()
	now := time.Now()
	old, fresh := newEvents("old", 2500), newEvents("fresh", 300)
	for i := range old {
		old[i].Timestamp = now.Add(-100*24*time.Hour - time.Duration(i)*time.Second).UnixMilli()
		old[i].ReceivedAt = old[i].Timestamp
	}
	for i := range fresh {
		fresh[i].Timestamp = now.Add(-time.Duration(i) * time.Minute).UnixMilli()
	}
	if _, err := db.WriteBatch(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.WriteBatch(ctx, fresh, nil); err != nil {
		t.Fatal(err)
	}
	cutoff := now.Add(-90 * 24 * time.Hour).UnixMilli()
	n, err := db.DeleteEventsBefore(ctx, cutoff, 1000) // three chunks
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n, int64(len(old)); got != want {
		t.Fatalf("deleted %d, want %d", got, want)
	}
	if got, want := mustCount(t, db), int64(len(fresh)); got != want {
		t.Fatalf("rows left %d, want %d", got, want)
	}

	// Aggregates are kept longer: a 90-day cutoff leaves the old events'
	// rows in place, a 99-day one removes them and keeps today's.
	if n, err := db.DeleteAggregatesBefore(ctx, now.Add(-120*24*time.Hour).UnixMilli()); err != nil || n != 0 {
		t.Fatalf("deleted %d aggregate rows (err %v), want 0", n, err)
	}
	n, err = db.DeleteAggregatesBefore(ctx, now.Add(-99*24*time.Hour).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no aggregate row deleted")
	}
	ro := testkit.MustOpenReadOnly(t, db.Path())
	users, err := ro.ActiveUsers(ctx, sql.DayOfTime(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), sql.DayOfTime(time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC)), "")
	if err != nil {
		t.Fatal(err)
	}
	if users == 0 {
		t.Fatal("today's users were deleted")
	}
}

// Ensure an event sent late (received recently, happened long ago) keeps
// its row while its message can still be in the stream, so that a
// redelivery is ignored, not counted twice.
func TestDB_RetentionByReceivedAt(t *testing.T) {
	db := testkit.MustOpenDB(t)
	ctx := context.Background()
	now := time.Now()
	late := newEvents("late", 1)
	late[0].Timestamp = now.Add(-8 * 24 * time.Hour).UnixMilli() // happened 8 days ago
	late[0].ReceivedAt = now.Add(-time.Hour).UnixMilli()         // sent an hour ago
	if _, err := db.WriteBatch(ctx, late, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteEventsBefore(ctx, now.Add(-7*24*time.Hour).UnixMilli(), 100); err != nil || n != 0 {
		t.Fatalf("deleted %d (err %v), want 0: the message is still in the stream", n, err)
	}
	res, err := db.WriteBatch(ctx, late, nil) // the redelivery
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 0 || res.Ignored != 1 {
		t.Fatalf("redelivery inserted %d, ignored %d; want 0 and 1", res.Inserted, res.Ignored)
	}
}

// Expired aggregates go a day at a time, and every table ends up cut at the
// same day, whatever the span deleted.
func TestDB_DeleteAggregatesBeforeByDay(t *testing.T) {
	db := testkit.MustOpenDB(t)
	ctx := context.Background()
	first := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	evs := newEvents("d", 30)
	for i := range evs {
		evs[i].Timestamp = first.AddDate(0, 0, i).UnixMilli()
		evs[i].ReceivedAt = evs[i].Timestamp
		evs[i].UserHash = fmt.Sprintf("%016x%016x", i+1, 0)
	}
	if _, err := db.WriteBatch(ctx, evs, nil); err != nil {
		t.Fatal(err)
	}
	cutoff := first.AddDate(0, 0, 20) // 2026-01-21 10:00: days before the 21st go
	n, err := db.DeleteAggregatesBefore(ctx, cutoff.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("nothing deleted")
	}
	raw := mustOpenRaw(t, db.Path())
	for _, q := range []string{
		`SELECT MIN(day) || ' ' || COUNT(*) FROM tool_daily`,
		`SELECT MIN(day) || ' ' || COUNT(*) FROM user_daily`,
		`SELECT date(MIN(day) * 86400, 'unixepoch') || ' ' || COUNT(*) FROM tool_user_daily`,
		`SELECT MIN(day) || ' ' || COUNT(*) FROM user_last_seen`,
		`SELECT strftime('%Y-%m-%d', MIN(hour) / 1000, 'unixepoch') || ' ' || COUNT(*) FROM tool_hourly`,
	} {
		var got string
		if err := raw.QueryRow(q).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if want := "2026-01-21 10"; got != want {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}
	if n, err := db.DeleteAggregatesBefore(ctx, cutoff.UnixMilli()); err != nil || n != 0 {
		t.Errorf("a second run deleted %d (%v), want 0", n, err)
	}
}

// Ensure the retention deletes the runs' state and log of the sessions
// quiet since before the cutoff, all their chunks along their chains, and
// keeps every chunk of the other sessions.
func TestDB_RetentionOfRunState(t *testing.T) {
	db := testkit.MustOpenDB(t, sql.WithRunIdleTimeout(testIdleMs*time.Millisecond))
	raw := mustOpenRaw(t, db.Path())
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 22))
	now := time.Now()
	old := testkit.RandomSessions(r, testkit.SessionConfig{Sessions: 8, Events: 40,
		Start: now.Add(-120 * 24 * time.Hour).UnixMilli(), IdleMs: testIdleMs})
	fresh := testkit.RandomSessions(r, testkit.SessionConfig{Sessions: 8, Events: 40,
		Start: now.Add(-6 * time.Hour).UnixMilli(), IdleMs: testIdleMs})
	all := append(old, fresh...)
	for i := range all {
		all[i].ReceivedAt = all[i].Timestamp
	}
	deliver(t, db, r, all, 600_000) // many chunks a session
	if err := db.ExpireRuns(ctx, now.Add(-7*time.Hour)); err != nil {
		t.Fatal(err)
	}
	cutoff := now.Add(-90 * 24 * time.Hour).UnixMilli()
	kept := map[string]bool{}
	rows, err := raw.Query(`SELECT session FROM run_sessions WHERE last_ts >= ?`, cutoff-trackskills.MaxFuture.Milliseconds())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s []byte
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		kept[string(s)] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	before := sessionLog(t, raw)
	if len(kept) == 0 || len(kept) == len(before) {
		t.Fatalf("%d of %d sessions recent: the test needs both kinds", len(kept), len(before))
	}
	want := map[string][]sql.LogRow{}
	for s, evs := range before {
		if kept[s] {
			want[s] = evs
		}
	}

	if _, err := db.DeleteEventsBefore(ctx, cutoff, 1000); err != nil {
		t.Fatal(err)
	}
	if got := sessionLog(t, raw); !reflect.DeepEqual(got, want) {
		t.Errorf("the log after the retention holds %d sessions, want the %d recent ones, unchanged", len(got), len(want))
	}
	var sessions int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM run_sessions`).Scan(&sessions); err != nil {
		t.Fatal(err)
	}
	if sessions != len(kept) {
		t.Errorf("run_sessions holds %d sessions after the retention, want %d", sessions, len(kept))
	}
}

// Raw retention goes by receipt, whatever the rows' order: rows received
// before the cutoff go, in order or committed out of it, and an imported
// history (long ago, received now) stays.
func TestDB_RetentionImported(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	cutoff := now.Add(-90 * 24 * time.Hour)
	for _, tc := range []struct {
		name      string
		order     []string // batches, in commit order: old (received before the cutoff), imported, fresh
		wantGone  int
		wantStays int
	}{
		{"in receipt order", []string{"old", "imported", "fresh"}, 300, 400},
		{"old after newer", []string{"imported", "old", "fresh"}, 300, 400},
		{"only imported", []string{"imported"}, 0, 200},
		{"only old", []string{"old"}, 300, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testkit.MustOpenDB(t)
			for _, kind := range tc.order {
				var evs []trackskills.Event
				switch kind {
				case "old":
					evs = newEvents("old", 300)
					for i := range evs {
						evs[i].Timestamp = cutoff.Add(-time.Duration(i+1) * time.Hour).UnixMilli()
						evs[i].ReceivedAt = evs[i].Timestamp
					}
				case "imported":
					evs = newEvents("imported", 200)
					for i := range evs {
						evs[i].Timestamp = now.Add(-200 * 24 * time.Hour).Add(time.Duration(i) * time.Minute).UnixMilli()
						evs[i].ReceivedAt, evs[i].Source = now.UnixMilli(), trackskills.SourceImport
					}
				case "fresh":
					evs = newEvents("fresh", 200)
					for i := range evs {
						evs[i].Timestamp = now.Add(-time.Duration(i) * time.Minute).UnixMilli()
						evs[i].ReceivedAt = evs[i].Timestamp
					}
				}
				testkit.MustWriteBatch(t, db, evs)
			}
			n, err := db.DeleteEventsBefore(ctx, cutoff.UnixMilli(), 50)
			if err != nil || n != int64(tc.wantGone) {
				t.Fatalf("deleted %d (err %v), want %d", n, err, tc.wantGone)
			}
			if got := mustCount(t, db); got != int64(tc.wantStays) {
				t.Errorf("%d rows left, want %d", got, tc.wantStays)
			}
		})
	}
}
