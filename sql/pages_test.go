//go:build sqlite_dbstat

package sql_test

import (
	"bytes"
	"context"
	dbsql "database/sql"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

// TestPages_PerCommit reports, per table and index, the pages one
// WriteBatch commit dirties (each costs a page in the log, then in the
// file at the checkpoint), for batches of the live load's sizes after a
// warm-up of a day's activity. It measures; it asserts nothing. It needs
// SQLite's dbstat table:
//
//	go test -tags sqlite_dbstat -run TestPages_PerCommit -v ./sql/
//
// TRACKSKILLS_PAGES_BATCH sets the batch size (default 100);
// TRACKSKILLS_PAGES_SESSIONS=1 writes sessions with skill runs (the runs'
// benchmark's generator) instead of calls alone.
func TestPages_PerCommit(t *testing.T) {
	size := 100
	if s := os.Getenv("TRACKSKILLS_PAGES_BATCH"); s != "" {
		var err error
		if size, err = strconv.Atoi(s); err != nil || size < 1 {
			t.Fatalf("TRACKSKILLS_PAGES_BATCH=%q: want a positive number", s)
		}
	}
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	raw := mustOpenRaw(t, db.Path())
	gen := newBenchGen(t)
	if os.Getenv("TRACKSKILLS_PAGES_SESSIONS") == "1" {
		gen = newSessionsBenchGen()
	}
	for range 200_000 / size { // warm-up: the tables as an hour of load leaves them
		testkit.MustWriteBatch(t, db, gen.Batch(size))
	}
	const commits = 50
	perTable := map[string]int{}
	total := 0
	for range commits {
		if _, err := raw.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
		before, err := os.ReadFile(db.Path())
		if err != nil {
			t.Fatal(err)
		}
		testkit.MustWriteBatch(t, db, gen.Batch(size))
		if _, err := raw.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
		after, err := os.ReadFile(db.Path())
		if err != nil {
			t.Fatal(err)
		}
		owner := pageOwners(t, raw)
		const page = 4096
		for p := 0; p*page < len(after); p++ {
			end := min((p+1)*page, len(after))
			if (p+1)*page <= len(before) && bytes.Equal(before[p*page:end], after[p*page:end]) {
				continue
			}
			name := owner[p+1]
			if name == "" {
				name = "(header, free list or new)"
			}
			perTable[name]++
			total++
		}
	}
	names := make([]string, 0, len(perTable))
	for n := range perTable {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return perTable[names[i]] > perTable[names[j]] })
	var sb strings.Builder
	fmt.Fprintf(&sb, "pages dirtied per commit of %d events (%d commits): %.1f, %.0f bytes an event\n",
		size, commits, float64(total)/commits, float64(total)*4096/commits/float64(size))
	for _, n := range names {
		fmt.Fprintf(&sb, "  %-40s %6.1f\n", n, float64(perTable[n])/commits)
	}
	t.Log(sb.String())
}

// pageOwners maps each page number to its table or index (dbstat).
func pageOwners(t *testing.T, raw *dbsql.DB) map[int]string {
	t.Helper()
	rows, err := raw.QueryContext(context.Background(), `SELECT name, pageno FROM dbstat`)
	if err != nil {
		t.Fatalf("read dbstat (build with -tags sqlite_dbstat): %v", err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var name string
		var page int
		if err := rows.Scan(&name, &page); err != nil {
			t.Fatal(err)
		}
		out[page] = name
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
