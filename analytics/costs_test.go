package analytics_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// costEvents are model requests of three days, attributed or not, one a
// redacted third-party skill, one failed; and a tool call, which costs
// nothing.
func costEvents() []trackskills.Event {
	at := func(days int) int64 { return dayAt(days).Add(3600e9).UnixMilli() }
	req := testkit.APIRequestEvent
	return []trackskills.Event{
		req(testkit.APIRequest{ID: "ar_1", At: at(0), Model: "sonnet", Skill: "pdf-report", CostMicros: 12_300, Input: 1200, Output: 340}),
		req(testkit.APIRequest{ID: "ar_2", At: at(0), User: 1, Model: "sonnet", Skill: "pdf-report", MCPServer: "github", CostMicros: 5_000, Input: 800}),
		req(testkit.APIRequest{ID: "ar_3", At: at(1), Model: "opus", Skill: "third-party", CostMicros: 40_000, Output: 900}),
		req(testkit.APIRequest{ID: "ae_4", At: at(1), Model: "opus", Failed: true}),
		req(testkit.APIRequest{ID: "ar_5", At: at(2), Model: "haiku", CostMicros: 700, Input: 50, CacheRead: 4000}),
		req(testkit.APIRequest{ID: "ar_old", At: at(30), Model: "opus", Skill: "pdf-report", CostMicros: 1_000_000}), // out of the window
		event("call", testNow, "Read", "builtin", "success", 3, "u1"),
		skillRun("run1", dayAt(0).Add(3000e9), "pdf-report"),
	}
}

// skillRun is a call of skill in a session of its own: a skill run starts.
func skillRun(id string, at time.Time, skill string) trackskills.Event {
	ev := event(id, at, skill, "skill", "success", 100, "u1")
	ev.SessionHash = strings.Repeat("5e", 16)
	return ev
}

func TestServer_Costs(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, costEvents())
	e := newRouter(t, db.Path(), analytics.Config{})
	var got analytics.CostsResponse
	mustGetJSON(t, e, "/analytics/costs?days=7", &got)
	if got.Period != "7 days" || got.Totals.Requests != 5 || got.Totals.Failed != 1 || got.Totals.CostMicros != 58_000 ||
		got.Totals.CostUSD != 0.058 || got.Totals.InputTokens != 2050 || got.Totals.OutputTokens != 1240 || got.Totals.CacheReadTokens != 4000 {
		t.Errorf("totals %+v (%s)", got.Totals, got.Period)
	}
	type entry struct {
		name               string
		requests, micros   int64
		share              string
		unattributed, redc bool
	}
	check := func(what string, entries []analytics.CostEntry, want []entry) {
		t.Helper()
		if len(entries) != len(want) {
			t.Fatalf("%s: %+v, want %d entries", what, entries, len(want))
		}
		for i, w := range want {
			g := entries[i]
			if g.Name != w.name || g.Requests != w.requests || g.CostMicros != w.micros || g.CostShare != w.share ||
				g.Unattributed != w.unattributed || g.Redacted != w.redc {
				t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
			}
		}
	}
	check("by_skill", got.BySkill, []entry{
		{"third-party", 1, 40_000, "68.97", false, true},
		{"pdf-report", 2, 17_300, "29.83", false, false},
		{"", 2, 700, "1.21", true, false},
	})
	check("by_mcp_server", got.ByMCPServer, []entry{{"", 4, 53_000, "91.38", true, false}, {"github", 1, 5_000, "8.62", false, false}})
	check("by_model", got.ByModel, []entry{{"opus", 2, 40_000, "68.97", false, false}, {"sonnet", 2, 17_300, "29.83", false, false},
		{"haiku", 1, 700, "1.21", false, false}})
	check("by_plugin", got.ByPlugin, []entry{{"", 5, 58_000, "100.00", true, false}})
	if len(got.ByDay) != 3 || got.ByDay[0].Date != dayAt(2).Format("2006-01-02") || got.ByDay[2].CostMicros != 17_300 {
		t.Errorf("by_day %+v", got.ByDay)
	}
	if pdf := got.BySkill[1]; pdf.Runs != 1 || pdf.CostPerRunUSD == nil || *pdf.CostPerRunUSD != 0.0173 {
		t.Errorf("pdf-report %+v: want 1 run at $0.0173", pdf)
	}
	if got.BySkill[0].CostPerRunUSD != nil {
		t.Errorf("third-party has no runs, yet a cost per run: %+v", got.BySkill[0])
	}
	if len(got.Attribution) == 0 {
		t.Error("no attribution rules stated")
	}

	var empty analytics.CostsResponse
	mustGetJSON(t, e, "/analytics/costs?days=1&hours=", &empty)
	if empty.Totals.Requests != 2 {
		t.Errorf("today: %+v, want its 2 requests", empty.Totals)
	}
	checkBad(t, e, "/analytics/costs?days=0", "days")
	checkBad(t, e, "/analytics/costs?tool=Read", "tool")
}

func TestServer_Coverage(t *testing.T) {
	db := testkit.MustOpenDB(t)
	at := dayAt(0).Add(3600e9)
	ev := func(id, source, tool string, session int) trackskills.Event {
		e := event(id, at, tool, "builtin", "success", 5, "u1")
		e.Source, e.SessionHash = source, strings.Repeat(fmt.Sprintf("%02x", session+1), 16)
		return e
	}
	testkit.MustWriteBatch(t, db, []trackskills.Event{ev("c1", "hook", "Bash", 0), ev("c2", "hook", "custom_skill", 0)})
	testkit.MustWriteBatch(t, db, []trackskills.Event{ev("c1", "otlp", "Bash", 0), ev("c3", "otlp", "mcp_tool", 1)})
	e := newRouter(t, db.Path(), analytics.Config{})
	var got analytics.CoverageResponse
	mustGetJSON(t, e, "/analytics/coverage?days=7", &got)
	want := []analytics.SourceEntry{
		{Source: "hook", CallsStored: 2, CallsSeen: 2, CallsShared: 1, SharedShare: "50.00"},
		{Source: "otlp", CallsStored: 1, CallsSeen: 2, CallsShared: 1, SharedShare: "50.00"},
	}
	if g, w := jsonString(t, got.Sources), jsonString(t, want); g != w {
		t.Errorf("sources %s\nwant %s", g, w)
	}
	if got.SessionsWithoutHook != 1 || len(got.Redacted) != 2 || got.RevealSetting == "" || len(got.Notes) == 0 {
		t.Errorf("coverage %+v: want 1 session without the hook and 2 redacted names", got)
	}
	checkBad(t, e, "/analytics/coverage?category=x", "category")
}
