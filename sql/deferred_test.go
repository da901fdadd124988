package sql_test

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/loadgen"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// notRollups are the tables whose rows depend on how events were batched
// (row ids, log chunks) or on nothing the writer rolls up.
var notRollups = map[string]bool{
	"skill_usage_events": true, "session_chunks": true, "run_sessions": true, "rollup_pending": true,
	"dead_letters": true, "identity": true, "replay_position": true, "migrations": true,
}

// rollupRows returns every row of every rollup table of the database at
// path, and the events of its session log, as text, sorted, by table; the users last seen on a day count 0
// alike whether a row says so or none does.
func rollupRows(t *testing.T, path string) map[string][]string {
	t.Helper()
	conn, err := dbsql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer conn.Close()
	names, err := conn.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var tables []string
	for names.Next() {
		var n string
		if err := names.Scan(&n); err != nil {
			t.Fatalf("list tables: %v", err)
		}
		if !notRollups[n] {
			tables = append(tables, n)
		}
	}
	names.Close()
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := conn.Query(`SELECT * FROM ` + table) // names from sqlite_master
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			if strings.HasSuffix(table, "_last_seen_counts") && vals[len(vals)-1] == int64(0) {
				continue // a count back to 0 is no row: batches in between leave one
			}
			out[table] = append(out[table], fmt.Sprintf("%v", vals))
		}
		if err := rows.Close(); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		slices.Sort(out[table])
	}
	// The session log, event by event: its chunks depend on the batches.
	chunks, err := conn.Query(`SELECT session, events FROM session_chunks`)
	if err != nil {
		t.Fatalf("read session_chunks: %v", err)
	}
	for chunks.Next() {
		var session, data []byte
		if err := chunks.Scan(&session, &data); err != nil {
			t.Fatalf("read session_chunks: %v", err)
		}
		rows, err := sql.ChunkRows(data)
		if err != nil {
			t.Fatalf("decode a chunk: %v", err)
		}
		for _, r := range rows {
			out["session log"] = append(out["session log"], fmt.Sprintf("%x %v", session, r))
		}
	}
	if err := chunks.Close(); err != nil {
		t.Fatalf("read session_chunks: %v", err)
	}
	slices.Sort(out["session log"])
	return out
}

// TestDeferred_SameRollups writes the same sessions (tool calls, MCP
// calls, skills, subagents, marks, redeliveries) into a writer that rolls
// up each batch and into writers that defer their rollups (WithRollupDelay):
// one whose commits sometimes fail, and one killed and started again after
// about one batch in eight, before the ack. Every rollup table ends the
// same, row for row.
func TestDeferred_SameRollups(t *testing.T) {
	gen := loadgen.NewGenerator(loadgen.GeneratorConfig{
		Seed: 7, Tools: 30, Users: 40, ErrorRate: 0.05, Days: 3, Events: 4000, End: testNow, Sessions: true,
	})
	var events []trackskills.Event
	for len(events) < 4000 {
		events = append(events, gen.Batch(500)...)
	}
	for i := range events {
		events[i].ReceivedAt = events[i].Timestamp // on time: retention's clock is not under test
	}
	agents := 0
	for i := range events {
		if events[i].Kind == "" && events[i].AgentHash != "" {
			agents++
		}
	}
	if agents < 50 {
		t.Fatalf("%d tool calls in subagents, want 50 or more", agents)
	}
	ref := testkit.MustOpenDB(t)
	deliver(t, ref, rand.New(rand.NewPCG(1, 1)), events, 60_000)
	want := rollupRows(t, ref.Path())
	if len(want["skill_runs"]) < 50 || len(want["mcp_daily"]) == 0 || len(want["tool_user_daily"]) < 100 {
		t.Fatalf("the events reach too little: %d runs, %d mcp_daily, %d tool_user_daily rows",
			len(want["skill_runs"]), len(want["mcp_daily"]), len(want["tool_user_daily"]))
	}
	for _, mode := range []string{"deferred", "failing", "killed"} {
		t.Run(mode, func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, uint64(len(mode))))
			opts := []sql.Option{sql.WithRollupDelay(time.Hour, 1+r.IntN(2000)), sql.WithRollupQuiet(0)}
			db := testkit.MustOpenDB(t, opts...)
			if mode == "failing" {
				sql.FailCommits(db, func() error {
					if r.IntN(6) == 0 {
						return errInjected
					}
					return nil
				})
			}
			var kill func(*sql.DB) *sql.DB
			kills := 0
			if mode == "killed" {
				kill = func(old *sql.DB) *sql.DB {
					if sql.Held(old) > 0 {
						kills++
					}
					if err := sql.Kill(old); err != nil {
						t.Fatalf("kill: %v", err)
					}
					return testkit.MustOpenDBAt(t, old.Path(), opts...)
				}
			}
			db = deliverKilling(t, db, r, events, 60_000, kill)
			if mode == "killed" && kills < 3 {
				t.Fatalf("killed %d times with events held, want 3 or more", kills)
			}
			sql.FailCommits(db, nil)
			if err := db.Flush(context.Background()); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if n := sql.Held(db); n != 0 {
				t.Fatalf("%d events held after Flush", n)
			}
			got := rollupRows(t, db.Path())
			for table, rows := range want {
				if !slices.Equal(got[table], rows) {
					t.Errorf("%s: %d rows, want %d; first difference:\n%s", table, len(got[table]), len(rows), firstDiff(got[table], rows))
				}
			}
		})
	}
}

// firstDiff shows the first row in which a and b differ.
func firstDiff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return strings.Join([]string{"got  " + x, "want " + y}, "\n")
		}
	}
	return ""
}

// TestDeferred_Quiet checks that a deferring writer whose events stop
// coming writes their rollups by itself, once the oldest is a delay old or
// once no new event has come for its quiet spell, however long the delay; that
// RollupsHeld, which readers use to tell, says so before and after; and
// that a writer told to wait for the delay holds them through a pause.
func TestDeferred_Quiet(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []sql.Option
	}{
		{"Delay", []sql.Option{sql.WithRollupDelay(200*time.Millisecond, 0)}},
		{"QuietDefault", []sql.Option{sql.WithRollupDelay(time.Hour, 0)}},
		{"Quiet", []sql.Option{sql.WithRollupDelay(time.Hour, 0), sql.WithRollupQuiet(300 * time.Millisecond)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := testkit.MustOpenDB(t, tt.opts...)
			testkit.MustWriteBatch(t, db, newEvents("quiet", 10))
			reader := testkit.MustOpenReadOnly(t, db.Path())
			win := sql.Window{From: testNow.Add(-time.Hour).UnixMilli(), To: testNow.Add(time.Hour).UnixMilli()}
			if held, err := reader.RollupsHeld(ctx); err != nil || !held {
				t.Fatalf("RollupsHeld = %v (err %v) right after the batch, want true", held, err)
			}
			if s, err := reader.Summary(ctx, win, sql.Filter{}); err != nil || s.Invocations != 0 {
				t.Fatalf("summary before the rollups: %d invocations (err %v), want 0", s.Invocations, err)
			}
			testkit.WaitRolledUp(t, db.Path(), 10*time.Second)
			if s, err := reader.Summary(ctx, win, sql.Filter{}); err != nil || s.Invocations != 10 {
				t.Fatalf("summary after the delay: %d invocations (err %v), want 10", s.Invocations, err)
			}
			if n := sql.Held(db); n != 0 {
				t.Errorf("%d events still held", n)
			}
		})
	}
	t.Run("NoQuiet", func(t *testing.T) {
		t.Parallel()
		db := testkit.MustOpenDB(t, sql.WithRollupDelay(time.Hour, 0), sql.WithRollupQuiet(0))
		testkit.MustWriteBatch(t, db, newEvents("quiet", 10))
		time.Sleep(sql.DefaultRollupQuiet + 500*time.Millisecond) // a pause: nothing to poll for
		if n := sql.Held(db); n != 10 {
			t.Errorf("%d events held after a pause, want 10", n)
		}
	})
}
