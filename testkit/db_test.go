package testkit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure MustOpenDB gives a migrated database in a file of its own, that a
// read-only reader sees, and that both are closed when the test ends.
func TestMustOpenDB(t *testing.T) {
	ctx := context.Background()
	var db, ro *sql.DB
	t.Run("Open", func(t *testing.T) {
		db = testkit.MustOpenDB(t)
		if got, want := filepath.Base(db.Path()), "trackskills.db"; got != want {
			t.Errorf("file %q, want %q", got, want)
		}
		if n, err := db.CountEvents(ctx); err != nil || n != 0 {
			t.Fatalf("CountEvents()=%d, %v; want 0 on a fresh database", n, err)
		}
		ro = testkit.MustOpenReadOnly(t, db.Path())
		if err := ro.Ping(ctx); err != nil {
			t.Fatalf("read-only ping: %v", err)
		}
		if other := testkit.MustOpenDB(t); other.Path() == db.Path() {
			t.Fatalf("two databases share %s", db.Path())
		}
	})
	if err := db.Ping(ctx); err == nil {
		t.Error("the database is still open after its test")
	}
	if err := ro.Ping(ctx); err == nil {
		t.Error("the read-only database is still open after its test")
	}
}

// Ensure MustOpenDBAt reopens an existing file with its data.
func TestMustOpenDBAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	t.Run("First", func(t *testing.T) {
		db := testkit.MustOpenDBAt(t, path)
		if got := db.Path(); got != path {
			t.Fatalf("Path()=%q, want %q", got, path)
		}
		now := time.Now().UnixMilli()
		ev := trackskills.Event{
			EventID: "reopen-1", ToolName: "my_skill", ToolCategory: trackskills.DefaultCategory,
			Status: trackskills.StatusSuccess, Timestamp: now, ReceivedAt: now,
			UserHash: "0123456789abcdef0123456789abcdef", Source: trackskills.DefaultSource,
		}
		if _, err := db.WriteBatch(context.Background(), []trackskills.Event{ev}, nil); err != nil {
			t.Fatal(err)
		}
	})
	db := testkit.MustOpenDBAt(t, path)
	if n, err := db.CountEvents(context.Background()); err != nil || n != 1 {
		t.Fatalf("CountEvents()=%d, %v after reopening; want 1", n, err)
	}
}
