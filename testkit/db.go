package testkit

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackskills/trackskills/sql"
)

// openTimeout bounds opening a database: migrating an empty file, or waiting
// read-only for the writer's schema. It only turns a hang into a failure; the
// copies this package replaces waited 10 s or without bound.
const openTimeout = 30 * time.Second

// MustOpenDB opens a migrated database for writing in a file under
// tb.TempDir() and closes it in Cleanup. db.Path() is its file, for a
// read-only reader or a raw connection.
func MustOpenDB(tb testing.TB, opts ...sql.Option) *sql.DB {
	tb.Helper()
	return MustOpenDBAt(tb, filepath.Join(tb.TempDir(), "trackskills.db"), opts...)
}

// MustOpenDBAt opens (creating and migrating it when needed) the database at
// path for writing and closes it in Cleanup.
func MustOpenDBAt(tb testing.TB, path string, opts ...sql.Option) *sql.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	db, err := sql.Open(ctx, path, opts...)
	if err != nil {
		tb.Fatalf("open database: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close database: %v", err)
		}
	})
	return db
}

// MustOpenReadOnly opens the database at path read-only, as analytics does,
// and closes it in Cleanup. It waits for the writer's schema.
func MustOpenReadOnly(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	db, err := sql.OpenReadOnly(ctx, path)
	if err != nil {
		tb.Fatalf("open database read-only: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close read-only database: %v", err)
		}
	})
	return db
}

// WaitRolledUp waits, up to timeout, until the writer of the database at
// path holds no committed event whose rollups it has not written
// (sql.WithRollupDelay): from then on the aggregates count every stored event.
func WaitRolledUp(tb testing.TB, path string, timeout time.Duration) {
	tb.Helper()
	db := MustOpenReadOnly(tb, path)
	Eventually(tb, timeout, func() error {
		held, err := db.RollupsHeld(context.Background())
		if err != nil {
			return err
		}
		if held {
			return errors.New("the writer still holds rollups")
		}
		return nil
	})
}
