package testkit

import (
	"context"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// MustWriteBatch stores evs in db exactly as the consumer does (one
// WriteBatch, no dead letters) and returns the result; it fails tb on
// error.
func MustWriteBatch(tb testing.TB, db *sql.DB, evs []trackskills.Event) sql.BatchResult {
	tb.Helper()
	res, err := db.WriteBatch(context.Background(), evs, nil)
	if err != nil {
		tb.Fatalf("write batch: %v", err)
	}
	return res
}
