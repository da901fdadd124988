package sql_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackskills/trackskills/sql"
)

// mustOpenDB opens a fresh database in a temp dir; Cleanup closes it.
func mustOpenDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open(context.Background(), filepath.Join(t.TempDir(), "trackskills.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

// mustWrite stores n events whose ids start with prefix.
func mustWrite(t *testing.T, db *sql.DB, prefix string, n int) {
	t.Helper()
	if _, err := db.WriteBatch(context.Background(), newEvents(prefix, n), nil); err != nil {
		t.Fatal(err)
	}
}

// Ensure a backup taken while a writer keeps committing batches is a
// consistent database holding a prefix of the writes: whole batches only,
// no fewer than were committed before it started and no more than after.
func TestBackup_BesideWriter(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	const batch = 200
	mustWrite(t, db, "before", batch)

	var committed atomic.Int64
	committed.Store(batch)
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				werr <- nil
				return
			default:
			}
			if _, err := db.WriteBatch(ctx, newEvents(fmt.Sprintf("w%05d", i), batch), nil); err != nil {
				werr <- err
				return
			}
			committed.Add(batch)
		}
	}()
	for committed.Load() < 5*batch { // the writer is under way
		time.Sleep(time.Millisecond)
	}

	out := filepath.Join(t.TempDir(), "copy.db")
	lo := committed.Load()
	info, err := sql.Backup(ctx, db.Path(), out, false)
	hi := committed.Load() + batch // a batch may commit before its count is added
	close(stop)
	if err := <-werr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if err != nil {
		t.Fatalf("backup: %v", err)
	}

	n, err := sql.Check(ctx, out)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if n != info.Events || n < lo || n > hi || n%batch != 0 {
		t.Errorf("copy holds %d events (Backup said %d), want a multiple of %d in [%d, %d]", n, info.Events, batch, lo, hi)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != info.Bytes || st.Mode().Perm() != 0o600 {
		t.Errorf("copy: %d bytes mode %v, want %d bytes mode 0600", st.Size(), st.Mode().Perm(), info.Bytes)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(out + suffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s beside the copy: %v", suffix, err)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(out))
	if err != nil || len(entries) != 1 {
		t.Errorf("backup dir holds %v (%v), want the copy alone", entries, err)
	}

	ro, err := sql.OpenReadOnly(ctx, out)
	if err != nil {
		t.Fatalf("open copy read-only: %v", err)
	}
	defer ro.Close()
	if got := mustCount(t, ro); got != n {
		t.Errorf("read-only copy counts %d events, want %d", got, n)
	}
}

func TestBackup_Overwrite(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	mustWrite(t, db, "a", 3)
	out := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(out, []byte("older backup"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Ensure an existing file is refused and left as it was.
	if _, err := sql.Backup(ctx, db.Path(), out, false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("backup over a file: %v, want fs.ErrExist", err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "older backup" {
		t.Fatalf("existing file now %q (%v)", b, err)
	}

	// Ensure overwrite replaces it with a sound copy.
	info, err := sql.Backup(ctx, db.Path(), out, true)
	if err != nil {
		t.Fatalf("backup with overwrite: %v", err)
	}
	if n, err := sql.Check(ctx, out); err != nil || n != 3 || info.Events != 3 {
		t.Fatalf("check: %d events (Backup said %d), %v; want 3", n, info.Events, err)
	}
}

func TestBackup_NoSource(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "missing.db")
	if _, err := sql.Backup(context.Background(), src, filepath.Join(dir, "copy.db"), false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("backup of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("backup created its source: %v", err)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	for i := range 20 {
		mustWrite(t, db, fmt.Sprintf("b%02d", i), 500)
	}
	good := filepath.Join(t.TempDir(), "good.db")
	if _, err := sql.Backup(ctx, db.Path(), good, false); err != nil {
		t.Fatal(err)
	}
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096
	if len(goodBytes) < 20*pageSize {
		t.Fatalf("copy has only %d bytes", len(goodBytes))
	}

	for _, tt := range []struct {
		name  string
		bytes func() []byte // the file; nil: no file
		ok    bool
	}{
		{name: "OK", bytes: func() []byte { return goodBytes }, ok: true},
		{name: "NoFile"},
		{name: "NotADatabase", bytes: func() []byte { return []byte("hello, this is not SQLite\n") }},
		{name: "Truncated", bytes: func() []byte { return goodBytes[:len(goodBytes)/2] }},
		{name: "GarbagePages", bytes: func() []byte {
			b := append([]byte(nil), goodBytes...)
			for i := 2 * pageSize; i < 10*pageSize; i++ {
				b[i] = byte(i*7 + 3)
			}
			return b
		}},
		{name: "NoMigrations", bytes: func() []byte {
			path := filepath.Join(t.TempDir(), "other.db")
			raw := mustOpenRaw(t, path)
			if _, err := raw.Exec(`CREATE TABLE other (id INTEGER PRIMARY KEY)`); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{name: "MigrationMissing", bytes: func() []byte {
			path := filepath.Join(t.TempDir(), "old.db")
			if err := os.WriteFile(path, goodBytes, 0o600); err != nil {
				t.Fatal(err)
			}
			raw := mustOpenRaw(t, path)
			if _, err := raw.Exec(`DELETE FROM migrations WHERE name = (SELECT MAX(name) FROM migrations)`); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "check.db")
			if tt.bytes != nil {
				if err := os.WriteFile(path, tt.bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			n, err := sql.Check(ctx, path)
			if tt.ok {
				if err != nil || n != 20*500 {
					t.Fatalf("check: %d events, %v; want 10000 and no error", n, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("check passed a bad file (%d events)", n)
			}
			t.Log(err)
		})
	}
}
