package sql_test

import (
	"bytes"
	"cmp"
	"context"
	dbsql "database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
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
	return columnRows(tb, raw, table, columns(tb, raw, table))
}

// columnRows returns the given columns of every row of table as text.
func columnRows(tb testing.TB, raw *dbsql.DB, table string, cols []string) []string {
	tb.Helper()
	list := strings.Join(cols, ", ")
	// The table and column names come from this file's constants.
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

// TestOpen_SkillWalls: a database whose run times are kept per bucket in
// skill_daily_walls, as before migration 0018, reads the same run times
// after it, per window and per day, and then keeps them exact.
// runsUpgrade is a database of random sessions for the tests of the
// runs' migrations: the first half of the events written before the
// schema is taken back, the second half left for after the migration.
type runsUpgrade struct {
	path          string
	r             *rand.Rand
	events, later []trackskills.Event
}

// newRunsUpgrade writes the first half of the events of seed into a new
// database, calls before with it open, and closes it.
func newRunsUpgrade(t *testing.T, seed1, seed2 uint64, before func(*sql.DB)) *runsUpgrade {
	t.Helper()
	u := &runsUpgrade{path: filepath.Join(t.TempDir(), "old.db"), r: rand.New(rand.NewPCG(seed1, seed2))}
	start := testNow.Add(-48 * time.Hour).UnixMilli()
	u.events = testkit.RandomSessions(u.r, testkit.SessionConfig{Sessions: 12, Events: 60, Start: start, IdleMs: testIdleMs})
	first := u.events[:len(u.events)/2]
	u.later = u.events[len(u.events)/2:]
	db := u.open(t, "a new database")
	deliver(t, db, u.r, first, 3_600_000)
	if before != nil {
		before(db)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return u
}

// open opens the database, which the test closes at its end.
func (u *runsUpgrade) open(t *testing.T, what string) *sql.DB {
	t.Helper()
	db, err := sql.Open(context.Background(), u.path, sql.WithRunIdleTimeout(testIdleMs*time.Millisecond))
	if err != nil {
		t.Fatalf("open %s: %v", what, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// carryOn writes the second half of the events, late ones among them,
// ends the runs quiet by the newest event and returns that time.
func (u *runsUpgrade) carryOn(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	deliver(t, db, u.r, u.later, 3_600_000)
	var newest int64
	for _, e := range u.events {
		newest = max(newest, e.Timestamp)
	}
	quiet := newest - testIdleMs
	if err := db.ExpireRuns(context.Background(), time.UnixMilli(quiet)); err != nil {
		t.Fatal(err)
	}
	return quiet
}

func TestOpen_SkillWalls(t *testing.T) {
	ctx := context.Background()
	win := sql.Window{From: testNow.Add(-72 * time.Hour).UnixMilli(), To: testNow.Add(24 * time.Hour).UnixMilli()}
	read := func(db *sql.DB) map[string][]trackskills.Histogram {
		t.Helper()
		list, err := db.SkillList(ctx, win, "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]trackskills.Histogram{}
		for _, st := range list {
			days, err := db.SkillDaily(ctx, win, st.Skill)
			if err != nil {
				t.Fatal(err)
			}
			out[st.Skill] = append(out[st.Skill], st.Walls)
			for _, d := range days {
				out[st.Skill] = append(out[st.Skill], d.Walls)
			}
		}
		return out
	}

	var want map[string][]trackskills.Histogram
	u := newRunsUpgrade(t, 7, 18, func(db *sql.DB) { want = read(db) })
	// Back to the schema before 0018, with the same run times.
	raw := mustOpenRaw(t, u.path)
	rows, err := raw.Query(`SELECT day, skill, walls, walls_off FROM skill_daily`)
	if err != nil {
		t.Fatal(err)
	}
	type bucketRow struct {
		day, skill string
		bucket     int
		n          uint64
	}
	var old []bucketRow
	for rows.Next() {
		var day, skill string
		var on, off []byte
		if err := rows.Scan(&day, &skill, &on, &off); err != nil {
			t.Fatal(err)
		}
		var h, minus trackskills.Histogram
		if err := trackskills.DecodeHistogram(on, &h); err != nil {
			t.Fatal(err)
		}
		if err := trackskills.DecodeHistogram(off, &minus); err != nil {
			t.Fatal(err)
		}
		if err := h.Subtract(&minus); err != nil {
			t.Fatal(err)
		}
		for b := range trackskills.HistBuckets {
			if n := h.BucketCount(b); n > 0 {
				old = append(old, bucketRow{day, skill, b, n})
			}
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(old) == 0 {
		t.Fatal("no run times: the test needs rows to convert")
	}
	for _, q := range []string{
		`CREATE TABLE skill_daily_walls (day TEXT NOT NULL, skill TEXT NOT NULL, bucket INTEGER NOT NULL,
			runs INTEGER NOT NULL, PRIMARY KEY (day, skill, bucket)) WITHOUT ROWID`,
		`ALTER TABLE skill_daily DROP COLUMN walls`,
		`ALTER TABLE skill_daily DROP COLUMN walls_off`,
		`DELETE FROM migrations WHERE name = '0018_skill_walls.sql'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, o := range old {
		if _, err := raw.Exec(`INSERT INTO skill_daily_walls VALUES (?, ?, ?, ?)`, o.day, o.skill, o.bucket, int64(o.n)); err != nil {
			t.Fatal(err)
		}
	}

	db := u.open(t, "a database with skill_daily_walls")
	if got := read(db); !reflect.DeepEqual(got, want) {
		t.Errorf("run times after the migration differ from those before it")
	}
	// It carries on exactly, late events taking runs off their buckets.
	quiet := u.carryOn(t, db)
	var off int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM skill_daily WHERE walls_off IS NOT NULL`).Scan(&off); err != nil {
		t.Fatal(err)
	}
	if off == 0 {
		t.Error("no run was taken off a bucket: the test needs late events that change ended runs")
	}
	checkSkillRollups(t, db, u.events, quiet)
}

// sessionLog returns every event of the session log, by session, in
// session order, whatever its chunks.
func sessionLog(t *testing.T, raw *dbsql.DB) map[string][]sql.LogRow {
	t.Helper()
	rows, err := raw.Query(`SELECT session, events FROM session_chunks`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]sql.LogRow{}
	for rows.Next() {
		var session, chunk []byte
		if err := rows.Scan(&session, &chunk); err != nil {
			t.Fatal(err)
		}
		evs, err := sql.ChunkRows(chunk)
		if err != nil {
			t.Fatal(err)
		}
		out[string(session)] = append(out[string(session)], evs...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, evs := range out {
		slices.SortFunc(evs, func(a, b sql.LogRow) int {
			if a.TS != b.TS {
				return cmp.Compare(a.TS, b.TS)
			}
			return bytes.Compare(a.ID, b.ID)
		})
	}
	return out
}

// undoSessionChains takes a database back to the schema before migration
// 0021: run_sessions keyed by session, session_chunks found by an index.
func undoSessionChains(t *testing.T, raw *dbsql.DB) {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE by_hash (session BLOB NOT NULL PRIMARY KEY, user_id_hash BLOB NOT NULL, last_ts INTEGER NOT NULL,
			last_id BLOB NOT NULL, open_last INTEGER, swept INTEGER NOT NULL) WITHOUT ROWID`,
		`INSERT INTO by_hash SELECT session, user_id_hash, last_ts, last_id, open_last, swept FROM run_sessions`,
		`DROP TABLE run_sessions`,
		`ALTER TABLE by_hash RENAME TO run_sessions`,
		`CREATE INDEX run_sessions_open ON run_sessions (open_last) WHERE open_last IS NOT NULL`,
		`CREATE INDEX run_sessions_last ON run_sessions (last_ts)`,
		`ALTER TABLE session_chunks DROP COLUMN prev`,
		`CREATE UNIQUE INDEX session_chunks_session ON session_chunks (session, first_ts, first_id)`,
		`DROP INDEX skill_runs_skill`,
		`CREATE INDEX skill_runs_skill ON skill_runs (skill, state, start_ms)`,
		`DELETE FROM migrations WHERE name = '0021_session_chains.sql'`,
		`DELETE FROM migrations WHERE name = '0026_session_sources.sql'`, // its column is gone with the table
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestOpen_SessionChains: a database whose run_sessions is keyed by
// session and whose chunks are found by an index, as before migration
// 0021, keeps every session's state and log through it, the chunks of each
// session chained from its last, and the writer then carries on from them
// exactly.
func TestOpen_SessionChains(t *testing.T) {
	u := newRunsUpgrade(t, 10, 21, nil)
	raw := mustOpenRaw(t, u.path)
	undoSessionChains(t, raw)
	wantLog := sessionLog(t, raw)
	wantSessions := tableRows(t, raw, "run_sessions")
	if len(wantLog) == 0 || len(wantSessions) == 0 {
		t.Fatal("no sessions: the test needs rows to convert")
	}

	db := u.open(t, "a database with sessions keyed by hash")
	if got := sessionLog(t, raw); !reflect.DeepEqual(got, wantLog) {
		t.Errorf("the session log after the migration differs from the one before it")
	}
	// The columns it had; id and last_chunk are new.
	gotSessions := columnRows(t, raw, "run_sessions", []string{"session", "user_id_hash", "last_ts", "last_id", "open_last", "swept"})
	if !reflect.DeepEqual(gotSessions, wantSessions) {
		t.Errorf("run_sessions after the migration:\n got  %v\n want %v", gotSessions, wantSessions)
	}
	// Every chunk is on its session's chain, once.
	var chained, chunks int
	if err := raw.QueryRow(`WITH RECURSIVE chain (id, session) AS (
			SELECT last_chunk, session FROM run_sessions WHERE last_chunk IS NOT NULL
			UNION ALL SELECT c.prev, c.session FROM session_chunks AS c JOIN chain USING (id, session) WHERE c.prev IS NOT NULL)
		SELECT (SELECT COUNT(DISTINCT id) FROM chain), (SELECT COUNT(*) FROM session_chunks)`).Scan(&chained, &chunks); err != nil {
		t.Fatal(err)
	}
	if chained != chunks {
		t.Errorf("%d of %d chunks are on their session's chain", chained, chunks)
	}
	quiet := u.carryOn(t, db)
	testkit.SameRuns(t, "after the migration", testkit.StoredRunSummaries(t, db), testkit.WantRunSummaries(u.events, testIdleMs, quiet))
	checkSkillRollups(t, db, u.events, quiet)
}

// TestOpen_SessionChunks: a database whose session log is a row per event
// (session_log), as before migration 0019, has the same events after it,
// and late events then re-walk their sessions from them exactly.
func TestOpen_SessionChunks(t *testing.T) {
	u := newRunsUpgrade(t, 8, 19, nil)
	// Back to the schema before 0019, with the same events.
	raw := mustOpenRaw(t, u.path)
	undoSessionChains(t, raw)
	want := sessionLog(t, raw)
	if len(want) == 0 {
		t.Fatal("the log is empty: the test needs events to convert")
	}
	for _, q := range []string{
		`CREATE TABLE session_log (session BLOB NOT NULL, ts INTEGER NOT NULL, id BLOB NOT NULL, code INTEGER NOT NULL,
			name TEXT NOT NULL, agent BLOB, PRIMARY KEY (session, ts, id)) WITHOUT ROWID`,
		`DROP TABLE session_chunks`,
		`DELETE FROM migrations WHERE name = '0019_session_chunks.sql'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for session, evs := range want {
		for _, e := range evs {
			if _, err := raw.Exec(`INSERT INTO session_log VALUES (?, ?, ?, ?, ?, ?)`,
				[]byte(session), e.TS, e.ID, e.Code, e.Name, e.Agent); err != nil {
				t.Fatal(err)
			}
		}
	}

	db := u.open(t, "a database with session_log")
	if got := sessionLog(t, raw); !reflect.DeepEqual(got, want) {
		t.Errorf("the session log after the migration differs from the one before it")
	}
	quiet := u.carryOn(t, db)
	testkit.SameRuns(t, "after the migration", testkit.StoredRunSummaries(t, db), testkit.WantRunSummaries(u.events, testIdleMs, quiet))
	checkSkillRollups(t, db, u.events, quiet)
}

// TestOpen_RunsByTime: a database whose skill_runs is keyed by session, as
// before migration 0020, keeps every run through it, keyed by start time,
// and the writer then carries on from them exactly.
func TestOpen_RunsByTime(t *testing.T) {
	u := newRunsUpgrade(t, 9, 20, nil)
	raw := mustOpenRaw(t, u.path)
	undoSessionChains(t, raw)
	want := tableRows(t, raw, "skill_runs")
	if len(want) == 0 {
		t.Fatal("no runs: the test needs rows to convert")
	}
	cols := strings.Join(columns(t, raw, "skill_runs"), ", ")
	for _, q := range []string{
		`ALTER TABLE skill_runs RENAME TO by_time`,
		`DROP INDEX skill_runs_session`,
		`DROP INDEX skill_runs_skill`,
		`CREATE TABLE skill_runs (session BLOB NOT NULL, start_ms INTEGER NOT NULL, start_id BLOB NOT NULL,
			skill TEXT NOT NULL, user_id_hash BLOB NOT NULL, parent_start_ms INTEGER, parent_id BLOB, agent BLOB,
			user_slash INTEGER NOT NULL, end_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, state TEXT NOT NULL,
			calls INTEGER NOT NULL, failed_calls INTEGER NOT NULL, denied_calls INTEGER NOT NULL,
			subagent_starts INTEGER NOT NULL, subagent_calls INTEGER NOT NULL, tools TEXT NOT NULL,
			PRIMARY KEY (session, start_ms, start_id)) WITHOUT ROWID`,
		`CREATE INDEX skill_runs_start ON skill_runs (start_ms)`,
		`CREATE INDEX skill_runs_skill ON skill_runs (skill, state, start_ms)`,
		`INSERT INTO skill_runs (` + cols + `) SELECT ` + cols + ` FROM by_time`,
		`DROP TABLE by_time`,
		`DELETE FROM migrations WHERE name = '0020_runs_by_time.sql'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	db := u.open(t, "a database with runs keyed by session")
	if got := tableRows(t, raw, "skill_runs"); !reflect.DeepEqual(got, want) {
		t.Errorf("skill_runs after the migration:\n got  %v\n want %v", got, want)
	}
	var ddl string
	if err := raw.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'skill_runs'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ddl, "PRIMARY KEY (start_ms, session, start_id)") {
		t.Errorf("skill_runs is not keyed by start time: %s", ddl)
	}
	quiet := u.carryOn(t, db)
	testkit.SameRuns(t, "after the migration", testkit.StoredRunSummaries(t, db), testkit.WantRunSummaries(u.events, testIdleMs, quiet))
	checkSkillRollups(t, db, u.events, quiet)
}
