package sql_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// alertEvents are the events of the alert reads' tests: around testNow, two
// tools and an MCP tool, failures with and without types, and one event of
// the day before.
func alertEvents() []trackskills.Event {
	at := func(id, tool, status, errType string, ago time.Duration, ms int64) trackskills.Event {
		ev := newEvent(id)
		ev.ToolName, ev.Status, ev.ErrorType = tool, status, errType
		ev.Timestamp = testNow.Add(-ago).UnixMilli()
		ev.ReceivedAt = ev.Timestamp + 10
		ev.DurationMs = i64(ms)
		return ev
	}
	return []trackskills.Event{
		at("a1", "Bash", "success", "", time.Minute, 100),
		at("a2", "Bash", "error", "exit_code", 2*time.Minute, 200),
		at("a3", "Bash", "error", "", 3*time.Minute, 300),
		at("a4", "Bash", "timeout", "timeout", 30*time.Minute, 400), // outside a 15m window
		at("a5", "mcp__github__search", "error", "mcp_error", 5*time.Minute, 50),
		at("a6", "Read", "success", "", 4*time.Minute, 10),
		at("a7", "Bash", "error", "oom", 26*time.Hour, 10), // the day before
	}
}

func TestDB_ToolWindows(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, alertEvents())
	from, to := testNow.Add(-15*time.Minute).UnixMilli(), testNow.UnixMilli()+1
	tests := []struct {
		name  string
		match sql.ToolMatch
		want  string
	}{
		{"All", sql.ToolMatch{}, "Bash:3/2 Read:1/0 mcp__github__search:1/1"},
		{"Tool", sql.ToolMatch{Tool: "Bash"}, "Bash:3/2"},
		{"Glob", sql.ToolMatch{Glob: "mcp__github__*"}, "mcp__github__search:1/1"},
		{"GlobStar", sql.ToolMatch{Glob: "*"}, "Bash:3/2 Read:1/0 mcp__github__search:1/1"},
		{"Category", sql.ToolMatch{Category: "skill"}, ""},
		{"NoMatch", sql.ToolMatch{Tool: "Write"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tws, err := db.ToolWindows(context.Background(), from, to, tt.match)
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, tw := range tws {
				parts = append(parts, fmt.Sprintf("%s:%d/%d", tw.Tool, tw.Calls, tw.Failures))
				if got, want := tw.Durations.Count(), uint64(tw.Calls); got != want {
					t.Errorf("%s: durations=%d, want %d", tw.Tool, got, want)
				}
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Fatalf("windows=%q, want %q", got, tt.want)
			}
		})
	}
}

func TestDB_ToolHours(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, alertEvents())
	// From 21:10, whole hours: 21:00 on, which holds a4 (21:00) too.
	from, to := testNow.Add(-20*time.Minute).UnixMilli(), testNow.UnixMilli()+1
	tws, err := db.ToolHours(context.Background(), from, to, sql.ToolMatch{Glob: "[BR]*"})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, tw := range tws {
		parts = append(parts, fmt.Sprintf("%s:%d/%d/%d", tw.Tool, tw.Calls, tw.Failures, tw.Durations.Count()))
	}
	if got, want := strings.Join(parts, " "), "Bash:4/3/4 Read:1/0/1"; got != want {
		t.Fatalf("hours=%q, want %q", got, want)
	}
}

func TestDB_ErrorTypes(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, alertEvents())
	ctx := context.Background()
	from, to := testNow.Add(-15*time.Minute).UnixMilli(), testNow.UnixMilli()+1
	format := func(ts []sql.ToolErrorType) string {
		var parts []string
		for _, t := range ts {
			parts = append(parts, fmt.Sprintf("%s/%s:%d", t.Tool, t.ErrorType, t.Failures))
		}
		return strings.Join(parts, " ")
	}
	t.Run("Window", func(t *testing.T) {
		got, err := db.WindowErrorTypes(ctx, from, to, sql.ToolMatch{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := format(got), "Bash/exit_code:1 mcp__github__search/mcp_error:1"; got != want {
			t.Fatalf("types=%q, want %q", got, want)
		}
	})
	t.Run("Daily", func(t *testing.T) {
		today := sql.DayOfTime(testNow)
		got, err := db.DailyErrorTypes(ctx, today-1, today, sql.ToolMatch{Tool: "Bash"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := format(got), "Bash/exit_code:1 Bash/oom:1 Bash/timeout:1"; got != want {
			t.Fatalf("types=%q, want %q", got, want)
		}
	})
}

func TestDB_DailyCalls(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, alertEvents())
	today := sql.DayOfTime(testNow)
	got, err := db.DailyCalls(context.Background(), today-1, today-1, sql.ToolMatch{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (sql.Count{Name: "Bash", Count: 1}) {
		t.Fatalf("calls=%v, want [{Bash 1}]", got)
	}
}

func TestDB_NewestReceived(t *testing.T) {
	db := testkit.MustOpenDB(t)
	ctx := context.Background()
	t.Run("Empty", func(t *testing.T) {
		if _, ok, err := db.NewestReceived(ctx); err != nil || ok {
			t.Fatalf("ok=%v err=%v, want false, nil", ok, err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		evs := alertEvents()
		testkit.MustWriteBatch(t, db, evs)
		ms, ok, err := db.NewestReceived(ctx)
		if err != nil || !ok {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		if got, want := ms, evs[len(evs)-1].ReceivedAt; got != want {
			t.Fatalf("newest=%d, want %d (the last written)", got, want)
		}
	})
}

// Ensure the window reads seek through an index instead of scanning the
// events: they run every minute against tables of millions of rows.
func TestDB_AlertQueriesUseIndexes(t *testing.T) {
	db := testkit.MustOpenDB(t)
	raw := mustOpenRaw(t, db.Path())
	tests := []struct{ name, query, index string }{
		{"ToolWindows", `SELECT tool_name, COUNT(*) FROM skill_usage_events
			WHERE timestamp >= 1 AND timestamp < 2 AND tool_name GLOB 'x*' GROUP BY tool_name`, "skill_usage_events_timestamp"},
		{"WindowErrorTypes", `SELECT tool_name, error_type, COUNT(*) FROM skill_usage_events
			WHERE status <> 'success' AND timestamp >= 1 AND timestamp < 2 AND error_type <> '' GROUP BY 1, 2`, "skill_usage_events_failures"},
		{"DailyCalls", `SELECT tool_name, SUM(invocations) FROM tool_daily
			WHERE day >= '2026-01-01' AND day <= '2026-01-07' GROUP BY 1`, "PRIMARY KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := raw.Query(`EXPLAIN QUERY PLAN ` + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if got := strings.Join(plan, "; "); !strings.Contains(got, tt.index) {
				t.Fatalf("plan %q does not use %s", got, tt.index)
			}
		})
	}
}
