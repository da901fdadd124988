package sql_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// TestDB_BackgroundCheckpoint shows that during a bulk load, once the log
// has gathered the background checkpoint's pages (here 1,000 instead of
// 65,536), they reach the database file itself without an explicit
// checkpoint, long before the writer's own automatic one (131,072 pages)
// would copy them: the background checkpoint does.
func TestDB_BackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	if err := db.SetBulkLoad(ctx, true); err != nil {
		t.Fatal(err)
	}
	sql.SetBulkCheckpointPages(db, 1000)
	first := newEvents("ckpt-first", 1)
	first[0].ToolName = "ckpt_first_tool"
	if _, err := db.WriteBatch(ctx, first, nil); err != nil {
		t.Fatalf("write batch: %v", err)
	}
	// Some 3,000 pages of log: past 1,000, below 8,192.
	for i := range 30 {
		if _, err := db.WriteBatch(ctx, newEvents(fmt.Sprintf("ckpt-%02d", i), 1000), nil); err != nil {
			t.Fatalf("write batch: %v", err)
		}
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(db.Path())
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte("ckpt_first_tool")) {
			return fmt.Errorf("the database file does not hold the first batch yet")
		}
		return nil
	})
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint beside the background one: %v", err)
	}
}

// TestWALPending_AgreesWithSQLite reads the log's length from the
// wal-index as the background checkpoint does, and checks it against what
// SQLite reports: some frames before a checkpoint, none after one that
// copied them all.
func TestWALPending_AgreesWithSQLite(t *testing.T) {
	db := testkit.MustOpenDB(t)
	if _, err := db.WriteBatch(context.Background(), newEvents("pending", 50), nil); err != nil {
		t.Fatalf("write batch: %v", err)
	}
	before, known, logFrames, copied, after, err := sql.WALPending(db)
	if err != nil {
		t.Fatal(err)
	}
	if !known || before == 0 || int(before) > logFrames {
		t.Errorf("before the checkpoint: pending=%d known=%v, want 1 to the log's %d frames", before, known, logFrames)
	}
	if copied != logFrames || after != 0 {
		t.Errorf("after a checkpoint that copied %d of %d frames: pending=%d, want 0", copied, logFrames, after)
	}
}
