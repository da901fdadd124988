package sql_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// A read-only handle follows its path: when another database is renamed
// over the file it reads, its reads move to the new file, and it keeps
// answering throughout.
func TestOpenReadOnly_FollowsAReplacedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	writer := testkit.MustOpenDBAt(t, live)
	testkit.MustWriteBatch(t, writer, newEvents("old", 3))
	reader := testkit.MustOpenReadOnly(t, live)
	if n, err := reader.CountEvents(ctx); err != nil || n != 3 {
		t.Fatalf("before: %d, %v; want 3", n, err)
	}

	next := testkit.MustOpenDBAt(t, filepath.Join(dir, "next.db"))
	testkit.MustWriteBatch(t, next, newEvents("new", 5))
	for _, db := range []interface{ Close() error }{writer, next} {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	kept := filepath.Join(dir, "live.db.old")
	if err := sql.Replace(live, filepath.Join(dir, "next.db"), kept); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		n, err := reader.CountEvents(ctx)
		if err != nil {
			return err
		}
		if n != 5 {
			return fmt.Errorf("%d events read, want the new file's 5", n)
		}
		return nil
	})
	// The old file is kept whole, its WAL beside it.
	old := testkit.MustOpenReadOnly(t, kept)
	if n, err := old.CountEvents(ctx); err != nil || n != 3 {
		t.Errorf("kept file: %d events, %v; want 3", n, err)
	}
	if _, err := os.Stat(live + "-wal"); err == nil {
		// Only a connection on the new file may have made it: it must
		// not hold the old one's frames.
		if n, err := reader.CountEvents(ctx); err != nil || n != 5 {
			t.Errorf("after the kept file was opened: %d, %v; want 5", n, err)
		}
	}
}

func TestReplace_Refuses(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	testkit.MustOpenDBAt(t, live)
	open := testkit.MustOpenDBAt(t, filepath.Join(dir, "open.db"))
	testkit.MustWriteBatch(t, open, newEvents("x", 1))
	closed := testkit.MustOpenDBAt(t, filepath.Join(dir, "closed.db"))
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "taken"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, with, keep, want string }{
		{"WithHasAWAL", filepath.Join(dir, "open.db"), filepath.Join(dir, "k1"), "WAL file"},
		{"WithMissing", filepath.Join(dir, "none.db"), filepath.Join(dir, "k2"), "no such file"},
		{"KeepExists", closed.Path(), filepath.Join(dir, "taken"), "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sql.Replace(live, tc.with, tc.keep)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Replace: %v, want an error saying %q", err, tc.want)
			}
			if _, err := os.Stat(live); err != nil {
				t.Errorf("the live file went: %v", err)
			}
		})
	}
}
