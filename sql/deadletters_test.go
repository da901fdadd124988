package sql_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// mustDeadLetters stores dead letters with stream sequences 1..n, the
// first stored at t0 and each next one a minute later.
func mustDeadLetters(t *testing.T, db *sql.DB, t0 time.Time, n int) {
	t.Helper()
	for i := range n {
		db.Now = func() time.Time { return t0.Add(time.Duration(i) * time.Minute) }
		dl := sql.DeadLetter{StreamSeq: uint64(i + 1), Subject: "events.x", Reason: "bad", Headers: `{"A":["b"]}`, Payload: []byte{0xff, byte(i)}}
		if _, err := db.WriteBatch(context.Background(), nil, []sql.DeadLetter{dl}); err != nil {
			t.Fatal(err)
		}
	}
	db.Now = time.Now
}

func TestDB_ListDeadLetters(t *testing.T) {
	db := testkit.MustOpenDB(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mustDeadLetters(t, db, t0, 3)
	for _, tc := range []struct {
		limit int
		want  []uint64 // stream seqs, newest first
	}{
		{0, []uint64{3, 2, 1}},
		{-1, []uint64{3, 2, 1}},
		{2, []uint64{3, 2}},
		{10, []uint64{3, 2, 1}},
	} {
		got, err := db.ListDeadLetters(context.Background(), tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []uint64
		for _, dl := range got {
			seqs = append(seqs, dl.StreamSeq)
		}
		if len(seqs) != len(tc.want) {
			t.Fatalf("limit %d: seqs %v, want %v", tc.limit, seqs, tc.want)
		}
		for i := range seqs {
			if seqs[i] != tc.want[i] {
				t.Fatalf("limit %d: seqs %v, want %v", tc.limit, seqs, tc.want)
			}
		}
	}
	ro := testkit.MustOpenReadOnly(t, db.Path())
	got, err := ro.ListDeadLetters(context.Background(), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("read-only list: %v %v", got, err)
	}
	if want := t0.Add(2 * time.Minute); !got[0].StoredAt.Equal(want) {
		t.Fatalf("stored_at %v, want %v", got[0].StoredAt, want)
	}
}

func TestDB_GetDeadLetter(t *testing.T) {
	db := testkit.MustOpenDB(t)
	mustDeadLetters(t, db, time.Now(), 2)
	list, err := db.ListDeadLetters(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		id      int64
		wantSeq uint64
		wantErr error
	}{
		{"newest", list[0].ID, 2, nil},
		{"oldest", list[1].ID, 1, nil},
		{"missing", list[0].ID + 100, 0, sql.ErrNoDeadLetter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dl, err := db.GetDeadLetter(context.Background(), tc.id)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if dl.ID != tc.id || dl.StreamSeq != tc.wantSeq || dl.Subject != "events.x" || dl.Reason != "bad" ||
				dl.Headers != `{"A":["b"]}` || len(dl.Payload) != 2 || dl.Payload[0] != 0xff {
				t.Fatalf("got %+v", dl)
			}
		})
	}
}

func TestDB_RetryDeadLetter(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	mustDeadLetters(t, db, time.Now(), 2)
	list, _ := db.ListDeadLetters(ctx, 0)
	present := newEvent("present")
	testkit.MustWriteBatch(t, db, []trackskills.Event{present})

	for _, tc := range []struct {
		name         string
		id           int64
		events       []trackskills.Event
		want         sql.BatchResult
		wantErr      error
		wantDead     int
		wantEventsDB int64
	}{
		{"decoded", list[0].ID, []trackskills.Event{newEvent("new"), present}, sql.BatchResult{Inserted: 1, Ignored: 1}, nil, 1, 2},
		{"gone", list[0].ID, []trackskills.Event{newEvent("never")}, sql.BatchResult{Inserted: 1}, sql.ErrNoDeadLetter, 1, 2},
		{"empty payload", list[1].ID, nil, sql.BatchResult{}, nil, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := db.RetryDeadLetter(ctx, tc.id, tc.events)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err == nil && res != tc.want {
				t.Fatalf("result %+v, want %+v", res, tc.want)
			}
			if n, _ := db.CountDeadLetters(ctx, time.Time{}); n != int64(tc.wantDead) {
				t.Fatalf("%d dead letters, want %d", n, tc.wantDead)
			}
			if n := mustCount(t, db); n != tc.wantEventsDB { // a failed retry writes nothing
				t.Fatalf("%d events, want %d", n, tc.wantEventsDB)
			}
		})
	}
}

func TestDB_SetDeadLetterReason(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	mustDeadLetters(t, db, time.Now(), 1)
	list, _ := db.ListDeadLetters(ctx, 0)
	if err := db.SetDeadLetterReason(ctx, list[0].ID, "still bad"); err != nil {
		t.Fatal(err)
	}
	if dl, _ := db.GetDeadLetter(ctx, list[0].ID); dl.Reason != "still bad" {
		t.Fatalf("reason %q", dl.Reason)
	}
	if err := db.SetDeadLetterReason(ctx, list[0].ID+1, "x"); !errors.Is(err, sql.ErrNoDeadLetter) {
		t.Fatalf("missing id: %v", err)
	}
}

func TestDB_PurgeDeadLetters(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		before     time.Time
		wantPurged int64
		wantLeft   []uint64
	}{
		{"all", time.Time{}, 3, nil},
		{"before the second", t0.Add(time.Minute), 1, []uint64{3, 2}},
		{"before the first", t0, 0, []uint64{3, 2, 1}},
		{"after the last", t0.Add(time.Hour), 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := testkit.MustOpenDB(t)
			mustDeadLetters(t, db, t0, 3)
			if n, err := db.CountDeadLetters(ctx, tc.before); err != nil || n != tc.wantPurged {
				t.Fatalf("count %d %v, want %d", n, err, tc.wantPurged)
			}
			n, err := db.PurgeDeadLetters(ctx, tc.before)
			if err != nil || n != tc.wantPurged {
				t.Fatalf("purged %d %v, want %d", n, err, tc.wantPurged)
			}
			left, _ := db.ListDeadLetters(ctx, 0)
			if len(left) != len(tc.wantLeft) {
				t.Fatalf("left %+v, want seqs %v", left, tc.wantLeft)
			}
			for i := range left {
				if left[i].StreamSeq != tc.wantLeft[i] {
					t.Fatalf("left %+v, want seqs %v", left, tc.wantLeft)
				}
			}
		})
	}
	ro := testkit.MustOpenReadOnly(t, testkit.MustOpenDB(t).Path())
	if _, err := ro.PurgeDeadLetters(context.Background(), time.Time{}); err == nil {
		t.Fatal("purge on a read-only database succeeded")
	}
}
