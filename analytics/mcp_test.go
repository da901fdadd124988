package analytics_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// mcpTestEvents are MCP calls of four servers (a plugin's among them, and
// one whose name needs escaping in a path), a built-in tool, a mark and a
// call before the 7-day window.
func mcpTestEvents() []trackskills.Event {
	const ok, fail, timeout = trackskills.StatusSuccess, trackskills.StatusError, trackskills.StatusTimeout
	at := func(daysAgo, hh int) time.Time { return dayAt(daysAgo).Add(time.Duration(hh) * time.Hour) }
	pr, list := "mcp__github__get_pull_request", "mcp__github__list_commits"
	db := "mcp__plugin_acme_my__db__run_query"
	evs := []trackskills.Event{
		event("m1", at(0, 10), pr, "mcp", ok, 100, "user-a"),
		event("m2", at(0, 11), pr, "mcp", fail, 300, "user-b"),
		event("m3", at(2, 9), pr, "mcp", ok, 200, "user-a"),
		event("m4", at(0, 12), list, "mcp", timeout, -1, "user-c"),
		event("m5", testNow.Add(-20*time.Minute), pr, "mcp", ok, 40, "user-a"),
		event("m6", at(0, 8), db, "mcp", ok, 50, "user-a"),
		event("m7", at(1, 8), db, "mcp", timeout, 1000, "user-d"),
		event("m8", at(3, 8), "mcp__solo", "mcp", ok, -1, "user-e"),
		event("m9", at(3, 9), "mcp__a b%__t", "mcp", ok, 7, "user-e"),
		event("m10", at(0, 9), "Read", "builtin", ok, 5, "user-f"),
		event("m11", at(20, 9), pr, "mcp", fail, 5, "user-g"),
	}
	evs[1].ErrorType = "mcp_error"
	evs[6].ErrorType = "deadline"
	for i := range evs {
		if i%2 == 0 { // half as ingest splits them, half as older messages hold them
			evs[i].MCPServer, evs[i].MCPTool = trackskills.SplitMCP(evs[i].ToolName)
		}
	}
	mark := event("mark", at(0, 13), pr, "mcp", ok, 10, "user-h")
	mark.Kind = trackskills.KindStop
	return append(evs, mark)
}

// durs returns the API's q-percentile of d, bounded by the largest, as
// a pointer.
func durs(q float64, d ...int64) *int64 {
	v := min(histPct(q, d...), slices.Max(d))
	return &v
}

func figures(calls, errs, timeouts int64, failure, errRate, timeoutRate string, d ...int64) analytics.MCPFigures {
	f := analytics.MCPFigures{Calls: calls, Errors: errs, Timeouts: timeouts, FailureRate: failure, ErrorRate: errRate, TimeoutRate: timeoutRate}
	if len(d) > 0 {
		f.P50DurationMs, f.P95DurationMs, f.P99DurationMs = durs(0.50, d...), durs(0.95, d...), durs(0.99, d...)
	}
	return f
}

func TestServer_MCP(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, mcpTestEvents())
	e := newRouter(t, db.Path(), analytics.Config{})
	str := func(s string) *string { return &s }

	tests := []struct {
		name, target string
		want         analytics.MCPResponse
	}{
		{"Days7", "/analytics/mcp?days=7", analytics.MCPResponse{Period: "7 days", Servers: []analytics.MCPServerResponse{
			{Server: "github", Users: 3, MCPFigures: figures(5, 1, 1, "40.00", "20.00", "20.00", 100, 300, 200, 40),
				ErrorTypes: []analytics.MCPErrorType{
					{Status: "error", ErrorType: str("mcp_error"), Count: 1, Rate: "20.00"},
					{Status: "timeout", Count: 1, Rate: "20.00"},
				},
				Tools: []analytics.MCPToolCount{{Tool: "get_pull_request", Calls: 4}, {Tool: "list_commits", Calls: 1}}},
			{Server: "plugin_acme_my__db", Users: 2, MCPFigures: figures(2, 0, 1, "50.00", "0.00", "50.00", 50, 1000),
				ErrorTypes: []analytics.MCPErrorType{{Status: "timeout", ErrorType: str("deadline"), Count: 1, Rate: "50.00"}},
				Tools:      []analytics.MCPToolCount{{Tool: "run_query", Calls: 2}}},
			{Server: "a b%", Users: 1, MCPFigures: figures(1, 0, 0, "0.00", "0.00", "0.00", 7),
				ErrorTypes: []analytics.MCPErrorType{}, Tools: []analytics.MCPToolCount{{Tool: "t", Calls: 1}}},
			{Server: "solo", Users: 1, MCPFigures: figures(1, 0, 0, "0.00", "0.00", "0.00"),
				ErrorTypes: []analytics.MCPErrorType{}, Tools: []analytics.MCPToolCount{{Tool: "", Calls: 1}}},
		}}},
		// Users count over the UTC days the window touches, as everywhere.
		{"Hours1", "/analytics/mcp?hours=1", analytics.MCPResponse{Period: "1 hours", Servers: []analytics.MCPServerResponse{
			{Server: "github", Users: 3, MCPFigures: figures(1, 0, 0, "0.00", "0.00", "0.00", 40),
				ErrorTypes: []analytics.MCPErrorType{}, Tools: []analytics.MCPToolCount{{Tool: "get_pull_request", Calls: 1}}},
		}}},
		{"Empty", "/analytics/mcp?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z", analytics.MCPResponse{
			Period: "2025-01-01T00:00:00Z to 2025-01-02T00:00:00Z", Servers: []analytics.MCPServerResponse{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got analytics.MCPResponse
			mustGetJSON(t, e, tt.target, &got)
			if g, w := jsonString(t, got), jsonString(t, tt.want); g != w {
				t.Errorf("GET %s:\n got  %s\n want %s", tt.target, g, w)
			}
		})
	}

	// A server without durations has null percentiles, never 0 ms.
	t.Run("NoDurations", func(t *testing.T) {
		body := string(mustGetJSON(t, e, "/analytics/mcp?days=7", nil))
		if !strings.Contains(body, `"server":"solo","users":1,"calls":1,"errors":0,"timeouts":0,"failure_rate":"0.00","error_rate":"0.00","timeout_rate":"0.00","p50_duration_ms":null`) {
			t.Errorf("solo's figures in %s", body)
		}
	})
}

func TestServer_MCPServer(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, mcpTestEvents())
	e := newRouter(t, db.Path(), analytics.Config{})

	t.Run("Plugin", func(t *testing.T) {
		days := make([]analytics.MCPDay, 7)
		for i := range days {
			days[i].Date = dayAt(6 - i).Format(time.DateOnly)
		}
		days[5].Calls, days[5].Timeouts, days[5].Users = 1, 1, 1
		days[6].Calls, days[6].Users = 1, 1
		deadline := "deadline"
		want := analytics.MCPServerDetailResponse{
			Server: "plugin_acme_my__db", Period: "7 days", Users: 2,
			MCPFigures: figures(2, 0, 1, "50.00", "0.00", "50.00", 50, 1000),
			Tools:      []analytics.MCPToolResponse{{Tool: "run_query", MCPFigures: figures(2, 0, 1, "50.00", "0.00", "50.00", 50, 1000)}},
			Daily:      days,
			ErrorTypes: []analytics.MCPErrorType{{Status: "timeout", ErrorType: &deadline, Count: 1, Rate: "50.00"}},
			Skills:     []analytics.MCPSkill{},
		}
		// The path segment is URL-decoded: an escaped "_" names the same
		// server.
		for _, target := range []string{"/analytics/mcp/plugin_acme_my__db", "/analytics/mcp/plugin%5Facme_my__db?days=7"} {
			var got analytics.MCPServerDetailResponse
			mustGetJSON(t, e, target, &got)
			if g, w := jsonString(t, got), jsonString(t, want); g != w {
				t.Errorf("GET %s:\n got  %s\n want %s", target, g, w)
			}
		}
	})

	t.Run("Tools", func(t *testing.T) {
		var got analytics.MCPServerDetailResponse
		mustGetJSON(t, e, "/analytics/mcp/github?days=30", &got)
		want := []analytics.MCPToolResponse{
			{Tool: "get_pull_request", MCPFigures: figures(5, 2, 0, "40.00", "40.00", "0.00", 100, 300, 200, 40, 5)},
			{Tool: "list_commits", MCPFigures: figures(1, 0, 1, "100.00", "0.00", "100.00")},
		}
		if g, w := jsonString(t, got.Tools), jsonString(t, want); g != w || got.Users != 4 || len(got.Daily) != 30 || got.Calls != 6 {
			t.Errorf("github over 30 days: %s\n want tools %s, 4 users, 30 days, 6 calls", jsonString(t, got), w)
		}
	})

	t.Run("Escaped", func(t *testing.T) {
		var got analytics.MCPServerDetailResponse
		mustGetJSON(t, e, "/analytics/mcp/a%20b%25", &got)
		if got.Server != "a b%" || got.Calls != 1 || len(got.Tools) != 1 || got.Tools[0].Tool != "t" {
			t.Errorf("GET /analytics/mcp/a%%20b%%25: %s", jsonString(t, got))
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		for _, target := range []string{
			"/analytics/mcp/nope",
			"/analytics/mcp/solo?days=1", // calls, but not in the window
			"/analytics/mcp/Read",        // a tool, no server
		} {
			rec := get(e, target)
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusNotFound ||
				!strings.Contains(body.Error, "no calls") {
				t.Errorf("GET %s: %d %s, want 404 with an error", target, rec.Code, rec.Body)
			}
		}
	})
}

func TestServer_MCPBadParams(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, mcpTestEvents())
	e := newRouter(t, db.Path(), analytics.Config{})
	for _, base := range []string{"/analytics/mcp", "/analytics/mcp/github"} {
		for _, tt := range []struct{ query, field string }{
			{"days=0", "days"},
			{"days=366", "days"},
			{"hours=x", "hours"},
			{"days=1&hours=1", "days"},
			{"from=yesterday", "from"},
			{"from=2026-02-09T00:00:00Z&to=2026-02-08T00:00:00Z", "to"},
			{"tool=get_pull_request", "tool"},
			{"category=mcp", "category"},
		} {
			checkBad(t, e, base+"?"+tt.query, tt.field)
		}
	}
}

func TestServer_MCPReadKeys(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, mcpTestEvents())
	e := newRouter(t, db.Path(), analytics.Config{ReadKeys: []string{"rk"}})
	for _, target := range []string{"/analytics/mcp", "/analytics/mcp/github"} {
		if rec := get(e, target); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a key: %d, want 401", target, rec.Code)
		}
		if rec := get(e, target, "x-api-key", "rk"); rec.Code != http.StatusOK {
			t.Errorf("GET %s with the key: %d %s, want 200", target, rec.Code, rec.Body)
		}
	}
}
