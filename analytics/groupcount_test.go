package analytics_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

func TestGroupCount_JSON(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   analytics.GroupCount
		json string
	}{
		{"Zero", 0, `0`},
		{"Count", 42, `42`},
		{"Hidden", -5, `"fewer than 5"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil || string(b) != tt.json {
				t.Fatalf("marshal %d: %s, %v; want %s", tt.in, b, err, tt.json)
			}
			var back analytics.GroupCount
			if err := json.Unmarshal(b, &back); err != nil || back != tt.in {
				t.Fatalf("unmarshal %s: %d, %v; want %d", b, back, err, tt.in)
			}
		})
	}
	for _, bad := range []string{`-1`, `1.5`, `"5"`, `"fewer than"`, `"fewer than 1"`, `"more than 5"`, `true`} {
		t.Run("Err"+bad, func(t *testing.T) {
			var g analytics.GroupCount
			if err := json.Unmarshal([]byte(bad), &g); err == nil {
				t.Fatalf("unmarshal %s: %d, want an error", bad, g)
			}
		})
	}
	if k, ok := analytics.GroupCount(-3).Hidden(); !ok || k != 3 {
		t.Errorf("Hidden of -3: %d %v, want 3 true", k, ok)
	}
	if _, ok := analytics.GroupCount(3).Hidden(); ok {
		t.Error("Hidden of 3: true, want false")
	}
}

// groupEvents are the events of four tools (each in a category of its
// own) used by 1, 2, 3 and 5 distinct users today, 11 users in all.
func groupEvents() []trackskills.Event {
	var evs []trackskills.Event
	u := 0
	for _, g := range sizedGroups {
		for i := range g.users {
			u++
			ts := dayAt(0).Add(time.Duration(u) * time.Minute)
			// Two events a user: counts of users, not of events.
			for j := range 2 {
				evs = append(evs, event(fmt.Sprintf("%s-%d-%d", g.tool, i, j), ts.Add(time.Duration(j)*time.Second),
					g.tool, "cat-"+g.tool, trackskills.StatusSuccess, 10, fmt.Sprintf("user-%02d", u)),
					// The same users call an MCP server named like the group.
					event(fmt.Sprintf("mcp-%s-%d-%d", g.tool, i, j), ts.Add(time.Duration(j)*time.Second),
						"mcp__"+g.tool+"__query", "mcp", trackskills.StatusSuccess, 10, fmt.Sprintf("user-%02d", u)))
			}
		}
	}
	return evs
}

var sizedGroups = []struct {
	tool  string
	users int
}{{"one", 1}, {"two", 2}, {"three", 3}, {"five", 5}}

// field walks obj by object keys (string) and array indexes (int).
func field(tb testing.TB, obj any, path ...any) any {
	tb.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := obj.(map[string]any)
			if !ok {
				tb.Fatalf("at %v: %v is not an object", k, obj)
			}
			obj = m[k]
		case int:
			a, ok := obj.([]any)
			if !ok || k >= len(a) {
				tb.Fatalf("at [%d]: %v is not an array that long", k, obj)
			}
			obj = a[k]
		}
	}
	return obj
}

// TestServer_MinGroupSize checks, per endpoint family, that with a minimum
// group size of 3 the per-tool and per-category counts of users of groups
// of 1 and 2 users are the string "fewer than 3", those of 3 and 5 exact,
// and that without one every count is exact.
func TestServer_MinGroupSize(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, groupEvents())
	hidden := newRouter(t, db.Path(), analytics.Config{MinGroupSize: 3})
	open := newRouter(t, db.Path(), analytics.Config{})
	last := 6 // the newest day of a days=7 daily series

	for _, tt := range []struct {
		name   string
		target func(tool string) string
		counts func(tb testing.TB, body any, tool string) []any
	}{
		{"Tools", func(string) string { return "/analytics/tools?days=7" }, func(tb testing.TB, body any, tool string) []any {
			for _, el := range body.([]any) {
				if field(tb, el, "tool_name") == tool {
					return []any{field(tb, el, "unique_users")}
				}
			}
			tb.Fatalf("no tool %q in %v", tool, body)
			return nil
		}},
		{"ToolDetail", func(tool string) string { return "/analytics/tools/" + tool + "?days=7" }, func(tb testing.TB, body any, _ string) []any {
			return []any{field(tb, body, "unique_users"), field(tb, body, "daily", last, "users")}
		}},
		{"SummaryTool", func(tool string) string { return "/analytics/summary?days=7&tool=" + tool }, func(tb testing.TB, body any, _ string) []any {
			return []any{field(tb, body, "unique_users")}
		}},
		{"SummaryCategory", func(tool string) string { return "/analytics/summary?days=7&category=cat-" + tool }, func(tb testing.TB, body any, _ string) []any {
			return []any{field(tb, body, "unique_users")}
		}},
		{"MCP", func(string) string { return "/analytics/mcp?days=7" }, func(tb testing.TB, body any, server string) []any {
			for _, el := range field(tb, body, "servers").([]any) {
				if field(tb, el, "server") == server {
					return []any{field(tb, el, "users")}
				}
			}
			tb.Fatalf("no server %q in %v", server, body)
			return nil
		}},
		{"MCPServer", func(server string) string { return "/analytics/mcp/" + server + "?days=7" }, func(tb testing.TB, body any, _ string) []any {
			return []any{field(tb, body, "users"), field(tb, body, "daily", last, "users")}
		}},
		{"RetentionTool", func(tool string) string { return "/analytics/retention?days=7&tool=" + tool }, func(tb testing.TB, body any, _ string) []any {
			return []any{field(tb, body, "daily_active_users", 0, "dau"), field(tb, body, "weekly_active_users"),
				field(tb, body, "monthly_active_users"), field(tb, body, "unique_users")}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, g := range sizedGroups {
				for _, r := range []struct {
					name string
					want any
				}{{"Hidden", "fewer than 3"}, {"Open", float64(g.users)}} {
					e := open
					if r.name == "Hidden" {
						e = hidden
						if g.users >= 3 {
							r.want = float64(g.users)
						}
					}
					var body any
					target := tt.target(g.tool)
					mustGetJSON(t, e, target, &body)
					for i, got := range tt.counts(t, body, g.tool) {
						if got != r.want {
							t.Errorf("%s: GET %s: count %d is %#v, want %#v", r.name, target, i, got, r.want)
						}
					}
				}
			}
		})
	}

	// Zero stays 0, and a total over every group is no group: both exact.
	for _, tt := range []struct {
		name, target string
		path         []any
		want         float64
	}{
		{"ZeroDay", "/analytics/tools/one?days=7", []any{"daily", 0, "users"}, 0},
		{"ZeroTool", "/analytics/summary?days=7&tool=nope", []any{"unique_users"}, 0},
		{"ZeroRetention", "/analytics/retention?days=7&tool=nope", []any{"weekly_active_users"}, 0},
		{"TotalSummary", "/analytics/summary?days=7", []any{"unique_users"}, 11},
		{"TotalRetention", "/analytics/retention?days=7", []any{"weekly_active_users"}, 11},
		{"TotalCohort", "/analytics/cohorts?weeks=1", []any{0, "users"}, 11},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			mustGetJSON(t, hidden, tt.target, &body)
			if got := field(t, body, tt.path...); got != tt.want {
				t.Errorf("GET %s: %v is %#v, want %v", tt.target, tt.path, got, tt.want)
			}
		})
	}

	// The typed answers decode a hidden count too.
	var tools []analytics.ToolResponse
	mustGetJSON(t, hidden, "/analytics/tools?days=7", &tools)
	for _, tl := range tools {
		k, ok := tl.UniqueUsers.Hidden()
		small := strings.TrimSuffix(strings.TrimPrefix(tl.ToolName, "mcp__"), "__query")
		if want := small == "one" || small == "two"; ok != want || (ok && k != 3) {
			t.Errorf("tool %s: unique_users %v decodes to hidden=%v k=%d", tl.ToolName, tl.UniqueUsers, ok, k)
		}
	}
}
