package sql

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// walSuffixes are the files SQLite keeps beside a database in WAL mode.
var walSuffixes = []string{"-wal", "-shm"}

// Replace puts the database file with in place of the one at path, and
// keeps the one it replaces, with its -wal and -shm files, at keepAs.
// No writer may have either database open; with must have been closed
// cleanly (its WAL checkpointed away). Readers of the old file may still
// have it open: they keep reading it, and read-only handles of this
// package move to the new file by themselves. The old file's WAL is moved
// away before the new file takes the name, so that no connection ever
// applies one file's WAL to the other.
func Replace(path, with, keepAs string) error {
	if fi, err := os.Stat(with + "-wal"); err == nil && fi.Size() > 0 {
		return fmt.Errorf("replace database: %s has a WAL file %s: open and close it with trackskills first", with, with+"-wal")
	}
	if _, err := os.Stat(with); err != nil {
		return fmt.Errorf("replace database: %w", err)
	}
	for _, p := range append([]string{keepAs}, keepAs+"-wal", keepAs+"-shm") {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("replace database: %s already exists", p)
		}
	}
	// A clean close leaves an -shm at most; it holds no data.
	for _, s := range walSuffixes {
		if err := os.Remove(with + s); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replace database: %w", err)
		}
	}
	if err := os.Link(path, keepAs); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replace database: keep the old file: %w", err)
	}
	var moved []string
	undo := func() {
		for _, s := range moved {
			_ = os.Rename(keepAs+s, path+s) // back as they were; the error is the one to report
		}
		_ = os.Remove(keepAs)
	}
	for _, s := range walSuffixes {
		err := os.Rename(path+s, keepAs+s)
		if err == nil {
			moved = append(moved, s)
		} else if !errors.Is(err, os.ErrNotExist) {
			undo()
			return fmt.Errorf("replace database: keep the old %s file: %w", s, err)
		}
	}
	if err := os.Rename(with, path); err != nil {
		undo()
		return fmt.Errorf("replace database: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
