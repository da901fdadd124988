package sql_test

import (
	"context"
	"testing"
	"time"

	"github.com/trackskills/trackskills/sql"
)

// Ensure expired raw events go in chunks, newer ones stay, and expired
// aggregate rows go while the rest stay.
func TestDB_Retention(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	now := time.Now()
	old, fresh := newEvents("old", 2500), newEvents("fresh", 300)
	for i := range old {
		old[i].Timestamp = now.Add(-100*24*time.Hour - time.Duration(i)*time.Second).UnixMilli()
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
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ro, err := sql.OpenReadOnly(cctx, db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	users, err := ro.ActiveUsers(ctx, "2000-01-01", "2999-12-31", "")
	if err != nil {
		t.Fatal(err)
	}
	if users == 0 {
		t.Fatal("today's users were deleted")
	}
}
