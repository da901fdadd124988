package analytics_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// mcpToolNames turns most of genEvents' tools into MCP tools: a plugin's
// server, a server without a tool name, one with quotes and unicode, and
// two tools of one server; deploy stays a plain tool.
var mcpToolNames = map[string]string{
	"query_data": "mcp__github__get_pull_request",
	"send_email": "mcp__plugin_acme_my__db__run_query",
	"search":     "mcp__solo",
	quotedTool:   `mcp__q"uote ☕__café`,
	"lint":       "mcp__github__list_commits",
}

// genMCPEvents returns genEvents' batches with the MCP names of
// mcpToolNames. Half the events carry the split as ingest makes it, the
// others none, as older stream messages; a repeated event_id repeats its
// content.
func genMCPEvents(r *rand.Rand, n int) [][]trackskills.Event {
	batches := genEvents(r, n)
	for _, b := range batches {
		for i := range b {
			ev := &b[i]
			if name, ok := mcpToolNames[ev.ToolName]; ok {
				ev.ToolName = name
			}
			if ev.EventID[len(ev.EventID)-1]%2 == 0 {
				ev.MCPServer, ev.MCPTool = trackskills.SplitMCP(ev.ToolName)
			} else {
				ev.MCPServer, ev.MCPTool = "", ""
			}
		}
	}
	return batches
}

// mcpExp is the brute force's figures of one MCP server in a window.
type mcpExp struct {
	expStats
	tools map[string]*expStats
	fails map[[2]string]int64 // by status and error type
	days  map[string]*expStats
	// users are those of the window's days, dayUsers those of each day.
	users    map[string]bool
	dayUsers map[string]map[string]bool
}

// mcpOracle computes every server's figures in w over evs.
func mcpOracle(evs []stored, w window) map[string]*mcpExp {
	out := map[string]*mcpExp{}
	for i := range evs {
		ev := &evs[i]
		server, tool := trackskills.SplitMCP(ev.ToolName)
		if server == "" || !w.inDays(ev) {
			continue
		}
		s := out[server]
		if s == nil {
			s = &mcpExp{tools: map[string]*expStats{}, fails: map[[2]string]int64{}, days: map[string]*expStats{},
				users: map[string]bool{}, dayUsers: map[string]map[string]bool{}}
			out[server] = s
		}
		d := day(ev.Timestamp)
		s.users[ev.UserHash] = true
		if s.dayUsers[d] == nil {
			s.dayUsers[d] = map[string]bool{}
		}
		s.dayUsers[d][ev.UserHash] = true
		if !w.in(ev) {
			continue
		}
		s.add(ev)
		for _, m := range []struct {
			m map[string]*expStats
			k string
		}{{s.tools, tool}, {s.days, d}} {
			if m.m[m.k] == nil {
				m.m[m.k] = &expStats{}
			}
			m.m[m.k].add(ev)
		}
		if ev.Status != trackskills.StatusSuccess {
			s.fails[[2]string{ev.Status, ev.ErrorType}]++
		}
	}
	for name, s := range out {
		if s.invocations == 0 {
			delete(out, name) // users only: a server is listed for its calls
		}
	}
	return out
}

// TestProperty_MCP compares /analytics/mcp and /analytics/mcp/{server}
// with a brute force over random MCP calls written through WriteBatch,
// redeliveries and repeated ids included.
func TestProperty_MCP(t *testing.T) {
	r := rand.New(rand.NewPCG(20261202, 15))
	batches := genMCPEvents(r, 4000)
	db := testkit.MustOpenDB(t)
	for _, b := range batches {
		testkit.MustWriteBatch(t, db, b)
	}
	evs := distinct(batches)
	e := newRouter(t, db.Path(), analytics.Config{})

	// A window that ends before now counts its users over its days; those
	// that end now read the users last seen. Its calls are those of every
	// hour it touches, as the hourly rollups hold them.
	pastFrom, pastTo := testNow.Add(-20*24*time.Hour).Add(-11*time.Minute), testNow.Add(-3*24*time.Hour-7*time.Minute)
	past := window{
		query:  "from=" + pastFrom.Format(time.RFC3339) + "&to=" + pastTo.Format(time.RFC3339),
		period: pastFrom.Format(time.RFC3339) + " to " + pastTo.Format(time.RFC3339),
		from:   pastFrom.Truncate(time.Hour).UnixMilli(), to: pastTo.Truncate(time.Hour).Add(time.Hour).UnixMilli(),
	}
	for _, w := range []window{daysWindow(1), daysWindow(7), daysWindow(30), hoursWindow(1), hoursWindow(24), hoursWindow(168), past} {
		t.Run(w.period, func(t *testing.T) {
			want := mcpOracle(evs, w)
			if w.query == "days=30" && len(want) != 4 {
				t.Fatalf("%d servers over 30 days, want 4: the generator must exercise them", len(want))
			}
			checkMCPList(t, e, w, want)
			for server, s := range want {
				checkMCPServer(t, e, w, server, s)
			}
		})
	}
}

// checkMCPFigures checks the figures of a server or tool against s.
func checkMCPFigures(t *testing.T, where string, got analytics.MCPFigures, s *expStats) {
	t.Helper()
	exp := analytics.MCPFigures{Calls: s.invocations, Errors: s.errors, Timeouts: s.timeouts,
		FailureRate: rate(s.errors+s.timeouts, s.invocations), ErrorRate: rate(s.errors, s.invocations),
		TimeoutRate:   rate(s.timeouts, s.invocations),
		P50DurationMs: got.P50DurationMs, P95DurationMs: got.P95DurationMs, P99DurationMs: got.P99DurationMs}
	if got != exp {
		t.Errorf("%s:\n got  %+v\n want %+v", where, got, exp)
	}
	for _, p := range []struct {
		name string
		q    float64
		got  *int64
	}{{"p50", 0.50, got.P50DurationMs}, {"p95", 0.95, got.P95DurationMs}, {"p99", 0.99, got.P99DurationMs}} {
		switch {
		case len(s.durs) == 0 && p.got != nil:
			t.Errorf("%s: %s=%d, want null: no durations", where, p.name, *p.got)
		case len(s.durs) > 0 && p.got == nil:
			t.Errorf("%s: %s=null, want about %d", where, p.name, s.quantile(p.q))
		case p.got != nil:
			checkPct(t, where, p.name, *p.got, s.quantile(p.q))
		}
	}
}

// expErrorTypes returns the error types of s as the API orders them.
func expErrorTypes(s *mcpExp) []analytics.MCPErrorType {
	keys := make([][2]string, 0, len(s.fails))
	for k := range s.fails {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(s.fails[b], s.fails[a]), cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	out := []analytics.MCPErrorType{}
	for _, k := range keys {
		et := analytics.MCPErrorType{Status: k[0], Count: s.fails[k], Rate: rate(s.fails[k], s.invocations)}
		if k[1] != "" {
			et.ErrorType = &k[1]
		}
		out = append(out, et)
	}
	return out
}

// byCalls returns the keys of m, most calls first, ties by name.
func byCalls(m map[string]*expStats) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b].invocations, m[a].invocations), cmp.Compare(a, b))
	})
	return names
}

func checkMCPList(t *testing.T, e *echo.Echo, w window, want map[string]*mcpExp) {
	t.Helper()
	stats := map[string]*expStats{}
	for name, s := range want {
		stats[name] = &s.expStats
	}
	names := byCalls(stats)
	var got analytics.MCPResponse
	target := "/analytics/mcp?" + w.query
	mustGetJSON(t, e, target, &got)
	if got.Period != w.period || len(got.Servers) != len(names) {
		t.Fatalf("GET %s: period %q, %d servers, want %q and %q", target, got.Period, len(got.Servers), w.period, names)
	}
	for i, name := range names {
		g, s := got.Servers[i], want[name]
		where := fmt.Sprintf("%s [%s]", target, name)
		if g.Server != name || g.Users != analytics.GroupCount(len(s.users)) {
			t.Errorf("%s: server %q with %d users, want %q with %d", where, g.Server, g.Users, name, len(s.users))
		}
		checkMCPFigures(t, where, g.MCPFigures, &s.expStats)
		if gt, wt := jsonString(t, g.ErrorTypes), jsonString(t, expErrorTypes(s)); gt != wt {
			t.Errorf("%s: error types\n got  %s\n want %s", where, gt, wt)
		}
		tools := []analytics.MCPToolCount{}
		for _, tool := range byCalls(s.tools) {
			tools = append(tools, analytics.MCPToolCount{Tool: tool, Calls: s.tools[tool].invocations})
		}
		if gt, wt := jsonString(t, g.Tools), jsonString(t, tools); gt != wt {
			t.Errorf("%s: tools\n got  %s\n want %s", where, gt, wt)
		}
	}
}

func checkMCPServer(t *testing.T, e *echo.Echo, w window, server string, s *mcpExp) {
	t.Helper()
	var got analytics.MCPServerDetailResponse
	target := "/analytics/mcp/" + url.PathEscape(server) + "?" + w.query
	mustGetJSON(t, e, target, &got)
	if got.Server != server || got.Period != w.period || got.Users != analytics.GroupCount(len(s.users)) || got.Skills == nil || len(got.Skills) != 0 {
		t.Errorf("GET %s: server %q, period %q, %d users, skills %v; want %q, %q, %d, []",
			target, got.Server, got.Period, got.Users, got.Skills, server, w.period, len(s.users))
	}
	checkMCPFigures(t, target, got.MCPFigures, &s.expStats)
	tools := byCalls(s.tools)
	if len(got.Tools) != len(tools) {
		t.Fatalf("GET %s: %d tools, want %q", target, len(got.Tools), tools)
	}
	for i, tool := range tools {
		if got.Tools[i].Tool != tool {
			t.Errorf("GET %s: tool %d is %q, want %q", target, i, got.Tools[i].Tool, tool)
		}
		checkMCPFigures(t, fmt.Sprintf("%s [%s]", target, tool), got.Tools[i].MCPFigures, s.tools[tool])
	}
	if gt, wt := jsonString(t, got.ErrorTypes), jsonString(t, expErrorTypes(s)); gt != wt {
		t.Errorf("GET %s: error types\n got  %s\n want %s", target, gt, wt)
	}
	daily := []analytics.MCPDay{}
	for d := time.UnixMilli(w.from).UTC().Truncate(24 * time.Hour); d.UnixMilli() < w.to; d = d.AddDate(0, 0, 1) {
		date := d.Format(time.DateOnly)
		st := s.days[date]
		if st == nil {
			st = &expStats{}
		}
		daily = append(daily, analytics.MCPDay{Date: date, Calls: st.invocations, Errors: st.errors, Timeouts: st.timeouts,
			Users: analytics.GroupCount(len(s.dayUsers[date]))})
	}
	if gd, wd := jsonString(t, got.Daily), jsonString(t, daily); gd != wd {
		t.Errorf("GET %s: daily\n got  %s\n want %s", target, gd, wd)
	}
}
