package sql_test

import (
	"context"
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

func TestDB_SetBulkLoad(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	if err := db.SetBulkLoad(ctx, true); err != nil {
		t.Fatalf("bulk on: %v", err)
	}
	evs := aggEvents()
	testkit.MustWriteBatch(t, db, evs[:2])
	if err := db.SetBulkLoad(ctx, false); err != nil {
		t.Fatalf("bulk off: %v", err)
	}
	testkit.MustWriteBatch(t, db, evs[2:])
	// The settings change how commits reach the disk, never what they hold.
	diffDump(t, aggDump(t, mustOpenRaw(t, db.Path())), wantAggregates())
	ro := testkit.MustOpenReadOnly(t, db.Path())
	if err := ro.SetBulkLoad(ctx, true); err == nil {
		t.Fatal("bulk load on a read-only handle: no error")
	}
}
