package sql_test

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// writerDSN is the DSN that sql.Open uses, for tests and benchmarks that
// reach the file through database/sql directly.
func writerDSN(path string) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "5000")
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	q.Set("_cache_size", "-32000")
	return "file:" + path + "?" + q.Encode()
}

// mustOpenRaw opens path through database/sql with the writer's pragmas and
// one connection, bypassing the sql package.
func mustOpenRaw(tb testing.TB, path string) *dbsql.DB {
	tb.Helper()
	db, err := dbsql.Open("sqlite3", writerDSN(path))
	if err != nil {
		tb.Fatalf("open raw database: %v", err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close raw database: %v", err)
		}
	})
	return db
}

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 2, 9, 21, 30, 0, 0, time.UTC)

func i64(n int64) *int64 { return &n }

// newEvent returns a valid event with the given id and only the required
// fields set.
func newEvent(id string) trackskills.Event {
	return trackskills.Event{
		EventID:      id,
		ToolName:     "my_skill",
		ToolCategory: trackskills.DefaultCategory,
		Status:       trackskills.StatusSuccess,
		Timestamp:    testNow.UnixMilli(),
		ReceivedAt:   testNow.UnixMilli(),
		UserHash:     "0123456789abcdef0123456789abcdef",
		Source:       trackskills.DefaultSource,
	}
}

// newEvents returns n valid events whose ids start with prefix.
func newEvents(prefix string, n int) []trackskills.Event {
	evs := make([]trackskills.Event, n)
	for i := range evs {
		evs[i] = newEvent(fmt.Sprintf("%s-%06d", prefix, i))
		evs[i].StreamSeq = uint64(i + 1)
	}
	return evs
}

func mustCount(tb testing.TB, db *sql.DB) int64 {
	tb.Helper()
	n, err := db.CountEvents(context.Background())
	if err != nil {
		tb.Fatalf("count events: %v", err)
	}
	return n
}
