package sql_test

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// dayFirstTables are the rollups that migration 0012 keys by day first,
// with the schema they had before it.
var dayFirstTables = []struct{ name, old string }{
	{"tool_daily_users", `CREATE TABLE tool_daily_users (tool_name TEXT NOT NULL, day TEXT NOT NULL,
		users INTEGER NOT NULL, PRIMARY KEY (tool_name, day)) WITHOUT ROWID`},
	{"tool_last_seen_counts", `CREATE TABLE tool_last_seen_counts (tool_name TEXT NOT NULL, day TEXT NOT NULL,
		users INTEGER NOT NULL, PRIMARY KEY (tool_name, day)) WITHOUT ROWID;
		CREATE INDEX tool_last_seen_counts_day ON tool_last_seen_counts (day)`},
	{"tool_daily_errors", `CREATE TABLE tool_daily_errors (day TEXT NOT NULL, tool_name TEXT NOT NULL,
		tool_category TEXT NOT NULL, error_type TEXT NOT NULL, failures INTEGER NOT NULL,
		PRIMARY KEY (tool_name, day, tool_category, error_type)) WITHOUT ROWID`},
}

// tableRows returns every row of table as text, in the order of its
// columns.
func tableRows(tb testing.TB, raw *dbsql.DB, table string) []string {
	tb.Helper()
	cols := columns(tb, raw, table)
	list := strings.Join(cols, ", ")
	// The table name comes from this file's constants.
	rows, err := raw.Query(`SELECT ` + list + ` FROM ` + table + ` ORDER BY ` + list)
	if err != nil {
		tb.Fatalf("rows of %s: %v", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatalf("rows of %s: %v", table, err)
		}
		out = append(out, fmt.Sprint(vals...))
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("rows of %s: %v", table, err)
	}
	return out
}

// dayFirstEvents are events of several days, tools, users and failures.
func dayFirstEvents(prefix string, days int) []trackskills.Event {
	var evs []trackskills.Event
	tools := []string{"tool_a", "tool_b", `quo"te`}
	start := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	for d := range days {
		for i := range 12 {
			ev := newEvent(fmt.Sprintf("%s-%d-%d", prefix, d, i))
			ev.Timestamp = start.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*time.Minute).UnixMilli()
			ev.ToolName = tools[(d+i)%len(tools)]
			ev.UserHash = fmt.Sprintf("u%d", (d*i)%5)
			if i%4 == 0 {
				ev.Status, ev.ErrorType = trackskills.StatusError, fmt.Sprintf("type_%d", i%3)
			}
			evs = append(evs, ev)
		}
	}
	return evs
}

// TestOpen_DayFirstRollups: a database whose per-tool-day rollups are
// keyed tool first, as before migration 0012, keeps every row through the
// migration, and the writer carries on from them exactly as it would have
// on a database that was day first from the start.
func TestOpen_DayFirstRollups(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldPath, freshPath := filepath.Join(dir, "old.db"), filepath.Join(dir, "fresh.db")
	first, later := dayFirstEvents("a", 4), dayFirstEvents("b", 6)

	db, err := sql.Open(ctx, oldPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.WriteBatch(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Back to the keys before 0012, with the same rows.
	raw := mustOpenRaw(t, oldPath)
	want := map[string][]string{}
	for _, tb := range dayFirstTables {
		want[tb.name] = tableRows(t, raw, tb.name)
		if len(want[tb.name]) == 0 {
			t.Fatalf("%s is empty: the test needs rows to convert", tb.name)
		}
		cols := strings.Join(columns(t, raw, tb.name), ", ")
		for _, q := range []string{
			`ALTER TABLE ` + tb.name + ` RENAME TO day_first`,
			tb.old,
			`INSERT INTO ` + tb.name + ` (` + cols + `) SELECT ` + cols + ` FROM day_first`,
			`DROP TABLE day_first`,
		} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %s: %v", tb.name, q, err)
			}
		}
	}
	if _, err := raw.Exec(`DELETE FROM migrations WHERE name = '0012_day_first.sql'`); err != nil {
		t.Fatal(err)
	}

	db, err = sql.Open(ctx, oldPath)
	if err != nil {
		t.Fatalf("open a database keyed tool first: %v", err)
	}
	defer db.Close()
	for _, tb := range dayFirstTables {
		if got := tableRows(t, raw, tb.name); !reflect.DeepEqual(got, want[tb.name]) {
			t.Errorf("%s after the migration:\n got  %v\n want %v", tb.name, got, want[tb.name])
		}
		var ddl string
		if err := raw.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = ?`, tb.name).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ddl, "PRIMARY KEY (day, tool_name") {
			t.Errorf("%s is not keyed by day first: %s", tb.name, ddl)
		}
	}
	var n int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'tool_last_seen_counts_day'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("index tool_last_seen_counts_day: %d (%v), want it dropped", n, err)
	}

	// The writer carries on from the converted rows.
	if _, err := db.WriteBatch(ctx, later, nil); err != nil {
		t.Fatal(err)
	}
	fresh, err := sql.Open(ctx, freshPath)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for _, b := range [][]trackskills.Event{first, later} {
		if _, err := fresh.WriteBatch(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	rawFresh := mustOpenRaw(t, freshPath)
	for _, tb := range dayFirstTables {
		if got, want := tableRows(t, raw, tb.name), tableRows(t, rawFresh, tb.name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s after more writes:\n got  %v\n want %v", tb.name, got, want)
		}
	}
}

// columns returns the column names of table in the order of the table as
// it is now.
func columns(tb testing.TB, raw *dbsql.DB, table string) []string {
	tb.Helper()
	rows, err := raw.Query(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		tb.Fatalf("columns of %s: %v", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			tb.Fatalf("columns of %s: %v", table, err)
		}
		cols = append(cols, c)
	}
	return cols
}
