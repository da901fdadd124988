package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// BackupInfo describes a copy Backup wrote.
type BackupInfo struct {
	// Bytes is the size of the copy.
	Bytes int64
	// Events is the number of rows of skill_usage_events in the copy.
	Events int64
}

// Backup writes a consistent copy of the database at srcPath to outPath
// with VACUUM INTO, through a read-only connection of its own, so that it
// runs beside a live writer: the copy is the database as of one committed
// transaction, and the writer goes on meanwhile. The copy is a single file
// (rollback journal, no -wal beside it), mode 0600 because it holds identity
// hashes, synced to disk. It is written beside outPath first and moved into
// place only when complete; an existing outPath is an error wrapping
// fs.ErrExist unless overwrite is set.
func Backup(ctx context.Context, srcPath, outPath string, overwrite bool) (BackupInfo, error) {
	var info BackupInfo
	if _, err := os.Stat(srcPath); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	if !overwrite {
		if _, err := os.Lstat(outPath); err == nil {
			return info, fmt.Errorf("backup: %s: %w", outPath, fs.ErrExist)
		}
	}
	dir := filepath.Dir(outPath)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(outPath)+".tmp-*") // mode 0600
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	tmpPath := tmp.Name()
	done := false
	defer func() {
		if !done {
			_ = os.Remove(tmpPath) // the error that stopped the backup is the one to report
		}
	}()
	if err := tmp.Close(); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	if err := vacuumInto(ctx, srcPath, tmpPath); err != nil {
		return info, err
	}
	if info.Events, err = settleCopy(ctx, tmpPath); err != nil {
		return info, err
	}
	if err := syncFile(tmpPath); err != nil {
		return info, fmt.Errorf("backup: sync copy: %w", err)
	}
	if overwrite {
		err = os.Rename(tmpPath, outPath)
	} else {
		// A hard link never replaces a file that appeared meanwhile.
		if err = os.Link(tmpPath, outPath); err == nil {
			err = os.Remove(tmpPath)
		}
	}
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	done = true
	if err := syncFile(dir); err != nil {
		return info, fmt.Errorf("backup: sync dir: %w", err)
	}
	st, err := os.Stat(outPath)
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	info.Bytes = st.Size()
	return info, nil
}

// readOnlyDSN is the DSN of a read-only connection to path.
func readOnlyDSN(path string) string {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "5000")
	return "file:" + path + "?" + q.Encode()
}

// vacuumInto copies the database at src into the empty file dst.
func vacuumInto(ctx context.Context, src, dst string) error {
	registerDriver()
	db, err := dbsql.Open(driverName, readOnlyDSN(src))
	if err != nil {
		return fmt.Errorf("backup: open database read-only: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("backup: vacuum into: %w", err)
	}
	return db.Close()
}

// settleCopy turns the copy at path into a self-contained file (rollback
// journal, so that no -wal or -shm file belongs to it) and counts its
// events.
func settleCopy(ctx context.Context, path string) (int64, error) {
	registerDriver()
	db, err := dbsql.Open(driverName, "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		return 0, fmt.Errorf("backup: open copy: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode=DELETE`).Scan(&mode); err != nil {
		return 0, fmt.Errorf("backup: journal mode of copy: %w", err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM skill_usage_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("backup: count events of copy: %w", err)
	}
	if err := db.Close(); err != nil {
		return 0, fmt.Errorf("backup: close copy: %w", err)
	}
	return n, nil
}

// syncFile flushes the file or directory at path to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close() // the sync error is the one to report
		return err
	}
	return f.Close()
}

// Check verifies the Track Skills database at path, read-only: SQLite's
// PRAGMA integrity_check finds nothing wrong, and the migrations table
// records every migration this build knows. It returns the number of rows
// of skill_usage_events.
func Check(ctx context.Context, path string) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("check: %w", err)
	}
	registerDriver()
	db, err := dbsql.Open(driverName, readOnlyDSN(path))
	if err != nil {
		return 0, fmt.Errorf("check: open database read-only: %w", err)
	}
	defer db.Close()
	if err := integrityCheck(ctx, db); err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	if err := migrationsComplete(ctx, db); err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM skill_usage_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("check %s: count events: %w", path, err)
	}
	return n, db.Close()
}

// integrityCheck runs PRAGMA integrity_check; its first few findings make
// the error.
func integrityCheck(ctx context.Context, db *dbsql.DB) error {
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(10)`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, strings.Join(strings.Fields(s), " "))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check: %s", strings.Join(problems, "; "))
	}
	return nil
}

// migrationsComplete checks that the migrations table names every embedded
// migration.
func migrationsComplete(ctx context.Context, db *dbsql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM migrations`)
	if err != nil {
		return fmt.Errorf("not a Track Skills database: %w", err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("read migrations: %w", err)
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	var missing []string
	for _, name := range (&DB{}).migrationNames() {
		if !have[filepath.Base(name)] {
			missing = append(missing, filepath.Base(name))
		}
	}
	if len(missing) > 0 {
		return errors.New("migrations missing: " + strings.Join(missing, ", "))
	}
	return nil
}
