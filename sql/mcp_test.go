package sql_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// mcpNames are tool names with the MCP server and tool they split into.
var mcpNames = []struct{ name, server, tool string }{
	{"mcp__github__get_pull_request", "github", "get_pull_request"},
	{"mcp__plugin_acme_my__db__run_query", "plugin_acme_my__db", "run_query"},
	{"mcp__my-server__do_it", "my-server", "do_it"},
	{"mcp__a__b__c", "a__b", "c"},
	{"mcp__solo", "solo", ""},
	{"mcp__a__", "a", ""},
	{"mcp____x", "__x", ""},
	{`mcp__q"uote__café ☕`, `q"uote`, "café ☕"},
	{"mcp__", "", ""},
	{"MCP__x__y", "", ""},
	{"mcpfoo", "", ""},
	{"Read", "", ""},
}

// mcpTables are the MCP rollups, for comparisons of whole tables.
var mcpTables = []string{"mcp_hourly", "mcp_daily", "mcp_daily_errors", "mcp_user_daily", "mcp_user_last_seen",
	"mcp_last_seen_counts", "mcp_daily_users"}

// mcpEvents returns events of every name of mcpNames over days days, of
// several users, statuses and error types, some without a duration. Those
// with split set carry the split as ingest makes it; the others are as an
// older stream message holds them, without.
func mcpEvents(prefix string, days int, split bool) []trackskills.Event {
	var evs []trackskills.Event
	start := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	for d := range days {
		for i := range 3 * len(mcpNames) {
			n := mcpNames[(d+i)%len(mcpNames)]
			ev := newEvent(fmt.Sprintf("%s-%d-%d", prefix, d, i))
			ev.Timestamp = start.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*17*time.Minute).UnixMilli()
			ev.ToolName = n.name
			ev.UserHash = fmt.Sprintf("u%d", (d+i)%4)
			ev.DurationMs = i64(int64(10 + 37*i))
			switch i % 5 {
			case 1:
				ev.Status, ev.ErrorType = trackskills.StatusError, fmt.Sprintf("type_%d", i%2)
			case 2:
				ev.Status = trackskills.StatusTimeout
			case 3:
				ev.DurationMs = nil
			}
			if split {
				ev.MCPServer, ev.MCPTool = trackskills.SplitMCP(ev.ToolName)
			}
			evs = append(evs, ev)
		}
	}
	return evs
}

// TestDB_WriteBatch_MCPColumns: the raw row of a tool call holds the
// server and tool of its name, whether ingest split it or not (an older
// stream message); a mark holds none and counts in no MCP rollup.
func TestDB_WriteBatch_MCPColumns(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	var batch []trackskills.Event
	type want struct{ name, server, tool string }
	wants := map[string]want{}
	calls := int64(0)
	for _, split := range []bool{true, false} {
		for i, n := range mcpNames {
			ev := newEvent(fmt.Sprintf("e%d-%v", i, split))
			ev.ToolName = n.name
			if split {
				ev.MCPServer, ev.MCPTool = trackskills.SplitMCP(n.name)
			}
			batch = append(batch, ev)
			wants[ev.EventID] = want{n.name, n.server, n.tool}
			if n.server != "" {
				calls++
			}
		}
	}
	mark := newEvent("mark")
	mark.Kind, mark.ToolName = trackskills.KindStop, "mcp__marks__none"
	testkit.MustWriteBatch(t, db, append(batch, mark))
	got, err := db.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(batch) {
		t.Fatalf("%d rows, want %d: the tool calls only", len(got), len(batch))
	}
	for _, ev := range got {
		if w := wants[ev.EventID]; ev.MCPServer != w.server || ev.MCPTool != w.tool {
			t.Errorf("%s (%q): server %q tool %q, want %q and %q", ev.EventID, w.name, ev.MCPServer, ev.MCPTool, w.server, w.tool)
		}
	}
	var n int64
	if err := mustOpenRaw(t, db.Path()).QueryRow(`SELECT COALESCE(SUM(invocations), 0) FROM mcp_daily`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != calls {
		t.Fatalf("mcp_daily counts %d calls, want %d", n, calls)
	}
}

// TestOpen_MCPBackfill: a database whose rows were stored before migration
// 0015 gets the MCP columns and rollups those rows would have had, and the
// writer carries on from them exactly as on a database that had them from
// the start.
func TestOpen_MCPBackfill(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldPath, freshPath := filepath.Join(dir, "old.db"), filepath.Join(dir, "fresh.db")
	first, later := mcpEvents("a", 3, false), mcpEvents("b", 5, true)

	db, err := sql.Open(ctx, oldPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(first); i += 7 { // several batches, so that histograms merge
		testkit.MustWriteBatch(t, db, first[i:min(i+7, len(first))])
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fresh := testkit.MustOpenDBAt(t, freshPath)
	testkit.MustWriteBatch(t, fresh, first)
	rawFresh := mustOpenRaw(t, freshPath)

	// Back to the schema before 0015, with the same raw rows.
	raw := mustOpenRaw(t, oldPath)
	for _, q := range []string{
		`DROP TABLE mcp_hourly`, `DROP TABLE mcp_daily`, `DROP TABLE mcp_daily_errors`, `DROP TABLE mcp_user_daily`,
		`DROP TABLE mcp_user_last_seen`, `DROP TABLE mcp_last_seen_counts`, `DROP TABLE mcp_daily_users`,
		`ALTER TABLE skill_usage_events DROP COLUMN mcp_server`, `ALTER TABLE skill_usage_events DROP COLUMN mcp_tool`,
		`DELETE FROM migrations WHERE name = '0015_mcp.sql'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	db, err = sql.Open(ctx, oldPath)
	if err != nil {
		t.Fatalf("open a database from before 0015: %v", err)
	}
	defer db.Close()
	compare := func(when string) {
		t.Helper()
		for _, table := range append([]string{"skill_usage_events"}, mcpTables...) {
			got, want := tableRows(t, raw, table), tableRows(t, rawFresh, table)
			if len(want) == 0 {
				t.Fatalf("%s is empty: the test needs rows", table)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s:\n got  %v\n want %v", table, when, got, want)
			}
		}
	}
	compare("after the migration")

	testkit.MustWriteBatch(t, db, later)
	testkit.MustWriteBatch(t, fresh, later)
	compare("after more writes")
}

// TestDB_DeleteAggregatesBefore_MCP: retention prunes the MCP rollups
// with the others: the days before the cutoff go, the rest stay.
func TestDB_DeleteAggregatesBefore_MCP(t *testing.T) {
	db := testkit.MustOpenDB(t)
	ctx := context.Background()
	first := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	evs := newEvents("d", 30)
	for i := range evs {
		evs[i].ToolName = "mcp__github__get_pull_request"
		evs[i].Status, evs[i].ErrorType = trackskills.StatusError, "boom"
		evs[i].Timestamp = first.AddDate(0, 0, i).UnixMilli()
		evs[i].ReceivedAt = evs[i].Timestamp
		evs[i].UserHash = fmt.Sprintf("%016x%016x", i+1, 0)
	}
	testkit.MustWriteBatch(t, db, evs)
	cutoff := first.AddDate(0, 0, 20) // 2026-01-21 10:00: days before the 21st go
	if _, err := db.DeleteAggregatesBefore(ctx, cutoff.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	raw := mustOpenRaw(t, db.Path())
	for _, q := range []string{
		`SELECT strftime('%Y-%m-%d', MIN(hour) / 1000, 'unixepoch') || ' ' || COUNT(*) FROM mcp_hourly`,
		`SELECT MIN(day) || ' ' || COUNT(*) FROM mcp_daily`,
		`SELECT MIN(day) || ' ' || COUNT(*) FROM mcp_daily_errors`,
		`SELECT date(MIN(day) * 86400, 'unixepoch') || ' ' || COUNT(*) FROM mcp_user_daily`,
		`SELECT MIN(day) || ' ' || COUNT(*) FROM mcp_user_last_seen`,
		`SELECT MIN(day) || ' ' || COUNT(*) FROM mcp_last_seen_counts`,
		`SELECT MIN(day) || ' ' || COUNT(*) FROM mcp_daily_users`,
	} {
		var got string
		if err := raw.QueryRow(q).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if want := "2026-01-21 10"; got != want {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}
}
