package sql_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// userHash is a stream identity hash for user n.
func userHash(n int) string { return strings.Repeat(fmt.Sprintf("%02x", n+1), 16) }

var inventoryBase = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).UnixMilli()

// knownSkill is a skill_known event of a scan by user at minute min.
func knownSkill(id string, user, min int, name, desc string) trackskills.Event {
	return trackskills.Event{
		EventID: id, ToolName: name, ToolCategory: "skill", Status: "success", Kind: trackskills.KindSkillKnown,
		Metadata:  []byte(`{"description":"` + desc + `","size_bytes":` + fmt.Sprint(len(desc)) + `,"source":"user"}`),
		Timestamp: inventoryBase + int64(min)*60_000, ReceivedAt: inventoryBase, UserHash: userHash(user), Source: "api",
	}
}

func knownMCP(id string, user, min int, name, source string) trackskills.Event {
	return trackskills.Event{
		EventID: id, ToolName: name, ToolCategory: "mcp", Status: "success", Kind: trackskills.KindMCPKnown,
		Metadata: []byte(`{"source":"` + source + `"}`), Timestamp: inventoryBase + int64(min)*60_000,
		ReceivedAt: inventoryBase, UserHash: userHash(user), Source: "api",
	}
}

func TestDB_Inventory(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	first := []trackskills.Event{
		knownSkill("a1", 0, 0, "pdf-report", "v1"),
		knownSkill("a2", 0, 0, "deploy", "Deploys"),
		knownMCP("a3", 0, 0, "github", "user"),
		// A tool call in the same batch is stored as ever.
		{EventID: "call1", ToolName: "Read", ToolCategory: "builtin", Status: "success", Timestamp: inventoryBase,
			ReceivedAt: inventoryBase, UserHash: userHash(0), Source: "hook"},
	}
	second := []trackskills.Event{
		knownSkill("b1", 1, 30, "pdf-report", "v2"), // a later scan by another user: its details win
		knownSkill("b2", 0, 30, "pdf-report", "v2"), // the first user again: still 2 users
		knownSkill("b3", 2, -30, "deploy", "Old"),   // an earlier scan arriving late: first_seen moves, details stay
		knownMCP("b4", 1, 30, "github", "local"),
		knownMCP("b5", 1, 30, "linear", "project"),
	}
	res := testkit.MustWriteBatch(t, db, first)
	if res.Inserted != 1 || res.Marks != 3 {
		t.Fatalf("first batch %+v, want 1 row and 3 marks", res)
	}
	testkit.MustWriteBatch(t, db, second)

	wantSkills := []sql.KnownSkill{
		{Name: "deploy", FirstSeen: inventoryBase - 30*60_000, LastSeen: inventoryBase, Description: "Deploys", SizeBytes: 7, Source: "user", Users: 2},
		{Name: "pdf-report", FirstSeen: inventoryBase, LastSeen: inventoryBase + 30*60_000, Description: "v2", SizeBytes: 2, Source: "user", Users: 2},
	}
	wantServers := []sql.KnownMCPServer{
		{Name: "github", FirstSeen: inventoryBase, LastSeen: inventoryBase + 30*60_000, Source: "local", Users: 2},
		{Name: "linear", FirstSeen: inventoryBase + 30*60_000, LastSeen: inventoryBase + 30*60_000, Source: "project", Users: 1},
	}
	check := func(when string) {
		t.Helper()
		skills, err := db.KnownSkills(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(skills, wantSkills) {
			t.Errorf("%s: skills\n%+v\nwant\n%+v", when, skills, wantSkills)
		}
		servers, err := db.KnownMCPServers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(servers, wantServers) {
			t.Errorf("%s: servers\n%+v\nwant\n%+v", when, servers, wantServers)
		}
	}
	check("after both batches")

	// Ensure redeliveries change nothing: each batch again, whole, and
	// one event alone.
	testkit.MustWriteBatch(t, db, first)
	testkit.MustWriteBatch(t, db, second)
	testkit.MustWriteBatch(t, db, second[:1])
	check("after redeliveries")
}

func TestDB_SkillUse(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var evs []trackskills.Event
	add := func(name, category, status string, at time.Time, n int) {
		for range n {
			evs = append(evs, trackskills.Event{EventID: fmt.Sprintf("e%d", len(evs)), ToolName: name, ToolCategory: category,
				Status: status, Timestamp: at.UnixMilli(), ReceivedAt: at.UnixMilli(), UserHash: userHash(0), Source: "hook"})
		}
	}
	add("pdf-report", "skill", "success", day.Add(time.Hour), 3)
	add("pdf-report", "skill", "error", day.Add(2*time.Hour), 1)
	add("pdf-report", "skill", "timeout", day.Add(-time.Hour), 5)  // the day before
	add("pdf-report", "default", "success", day.Add(time.Hour), 2) // not a skill call
	add("mcp__github__search", "mcp", "success", day.Add(time.Hour), 2)
	add("mcp__github__get_issue", "mcp", "error", day.Add(time.Hour), 1)
	add("mcp__plugin_x_notes__add", "mcp", "success", day.Add(time.Hour), 1)
	add("mcp_not_one", "builtin", "success", day.Add(time.Hour), 1)
	testkit.MustWriteBatch(t, db, evs)

	tests := []struct {
		name  string
		w     sql.Window
		use   map[string]sql.Use
		calls map[string]int64
	}{
		{"Day", sql.Window{From: day.UnixMilli(), To: day.Add(24 * time.Hour).UnixMilli()},
			map[string]sql.Use{"pdf-report": {Uses: 4, Failures: 1}}, map[string]int64{"github": 3, "plugin_x_notes": 1}},
		{"TwoDays", sql.Window{From: day.Add(-24 * time.Hour).UnixMilli(), To: day.Add(24 * time.Hour).UnixMilli()},
			map[string]sql.Use{"pdf-report": {Uses: 9, Failures: 6}}, map[string]int64{"github": 3, "plugin_x_notes": 1}},
		{"Hours", sql.Window{From: day.Add(2*time.Hour + 30*time.Minute).UnixMilli(), To: day.Add(3 * time.Hour).UnixMilli(), Hourly: true},
			map[string]sql.Use{"pdf-report": {Uses: 1, Failures: 1}}, map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			use, err := db.SkillUse(ctx, tt.w)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(use, tt.use) {
				t.Errorf("SkillUse = %v, want %v", use, tt.use)
			}
			calls, err := db.MCPServerCalls(ctx, tt.w)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(calls, tt.calls) {
				t.Errorf("MCPServerCalls = %v, want %v", calls, tt.calls)
			}
		})
	}
}
