package sql_test

import (
	"context"
	"testing"

	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

func TestDB_WriteBatchAt(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	if pos, err := db.ReplayPosition(ctx); err != nil || pos != 0 {
		t.Fatalf("position of a new database: %d, %v; want 0, nil", pos, err)
	}
	evs := newEvents("at", 3)
	res, err := db.WriteBatchAt(ctx, evs[:2], []sql.DeadLetter{{StreamSeq: 7, Subject: "s", Reason: "r", Headers: "{}"}}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 2 || res.DeadLetters != 1 {
		t.Errorf("first batch: %+v, want 2 inserted and 1 dead letter", res)
	}
	if pos, err := db.ReplayPosition(ctx); err != nil || pos != 7 {
		t.Errorf("position: %d, %v; want 7", pos, err)
	}
	res, err = db.WriteBatchAt(ctx, evs, nil, 9)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 1 || res.Ignored != 2 {
		t.Errorf("second batch: %+v, want 1 inserted and 2 ignored", res)
	}
	if pos, err := db.ReplayPosition(ctx); err != nil || pos != 9 {
		t.Errorf("position: %d, %v; want 9", pos, err)
	}
	// The consumer's WriteBatch leaves the position alone.
	if _, err := db.WriteBatch(ctx, newEvents("plain", 1), nil); err != nil {
		t.Fatal(err)
	}
	if pos, err := db.ReplayPosition(ctx); err != nil || pos != 9 {
		t.Errorf("position after WriteBatch: %d, %v; want 9", pos, err)
	}
	if n := mustCount(t, db); n != 4 {
		t.Errorf("%d events stored, want 4", n)
	}
}
