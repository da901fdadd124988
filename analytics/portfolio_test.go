package analytics_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// portfolioUser is a stream identity hash for user n.
func portfolioUser(n int) string { return strings.Repeat(fmt.Sprintf("%02x", n+1), 16) }

// portfolioEvents seed every section of the portfolio of the 30 days
// before testNow:
//   - pdf-report: registered by 2 users, never used: never used;
//   - deploy: registered, 12 uses against 40 in the 30 days before (-70%): fading;
//   - lint: registered, 6 of 20 uses failed (30%): failing;
//   - flaky: registered, 4 of 4 failed, under the minimum of 5 uses;
//   - adhoc: 3 uses, registered by no scan: used but never registered;
//   - github (called) and linear (not): MCP servers registered;
//   - plugins loaded: acme (its skill acme:ship used), billed (a model
//     request attributed to it) and idle (neither, loaded by 2 users).
func portfolioEvents() []trackskills.Event {
	var evs []trackskills.Event
	add := func(ev trackskills.Event) {
		ev.EventID = fmt.Sprintf("p%03d", len(evs))
		ev.ReceivedAt, ev.Source = ev.Timestamp, trackskills.DefaultSource
		evs = append(evs, ev)
	}
	calls := func(name, category, status string, daysAgo, n int) {
		for i := range n {
			add(trackskills.Event{ToolName: name, ToolCategory: category, Status: status, UserHash: portfolioUser(i % 3),
				Timestamp: dayAt(daysAgo).Add(time.Duration(i) * time.Minute).UnixMilli()})
		}
	}
	known := func(kind, name, meta string, user int) {
		add(trackskills.Event{ToolName: name, ToolCategory: "skill", Status: "success", Kind: kind, Metadata: []byte(meta),
			UserHash: portfolioUser(user), Timestamp: dayAt(3).Add(time.Duration(user) * time.Hour).UnixMilli()})
	}
	for _, user := range []int{0, 1} {
		known(trackskills.KindSkillKnown, "pdf-report", `{"description":"Makes PDF reports","size_bytes":420,"source":"user"}`, user)
	}
	for _, name := range []string{"deploy", "lint", "flaky"} {
		known(trackskills.KindSkillKnown, name, `{"description":"","size_bytes":10,"source":"project"}`, 0)
	}
	known(trackskills.KindMCPKnown, "github", `{"source":"user"}`, 0)
	known(trackskills.KindMCPKnown, "linear", `{"source":"project"}`, 0)
	known(trackskills.KindMCPKnown, "linear", `{"source":"project"}`, 2)

	calls("deploy", "skill", "success", 40, 40) // the window before
	calls("deploy", "skill", "success", 2, 12)
	calls("lint", "skill", "success", 1, 14)
	calls("lint", "skill", "error", 1, 5)
	calls("lint", "skill", "timeout", 1, 1)
	calls("flaky", "skill", "error", 0, 4)
	calls("adhoc", "skill", "success", 5, 3)
	calls("pdf-report", "default", "success", 1, 9) // a tool of that name, no skill call
	calls("mcp__github__search", "mcp", "success", 1, 2)
	calls("mcp__linear__list", "mcp", "success", 45, 2) // before the window
	for _, p := range []struct {
		name string
		user int
	}{{"acme", 0}, {"billed", 0}, {"idle", 0}, {"idle", 1}} {
		known(trackskills.KindPluginKnown, p.name, `{"scope":"user","skills":2,"commands":0,"has_hooks":true,"has_mcp":false}`, p.user)
	}
	known(trackskills.KindSkillKnown, "acme:ship", `{"description":"","size_bytes":10,"source":"plugin","plugin":"acme"}`, 0)
	calls("acme:ship", "skill", "success", 1, 1)
	req := testkit.APIRequestEvent(testkit.APIRequest{At: dayAt(1).UnixMilli(), Model: "sonnet", CostMicros: 10})
	req.Metadata = []byte(`{"model":"sonnet","cost_usd_micros":10,"plugin":"billed"}`)
	add(req)
	return evs
}

func TestServer_Portfolio(t *testing.T) {
	db := testkit.MustOpenDB(t)
	evs := portfolioEvents()
	testkit.MustWriteBatch(t, db, evs)
	testkit.MustWriteBatch(t, db, evs) // a redelivery changes nothing
	e := newRouter(t, db.Path(), analytics.Config{})

	tests := []struct {
		name  string
		query string
		want  map[string][]string // section: "name: fact" rows
	}{
		{"Defaults", "", map[string][]string{
			analytics.SectionNeverUsed:    {"pdf-report: registered by 2 users, no use in 30 days"},
			analytics.SectionFading:       {"deploy: 12 uses, down from 40 (-70%)"},
			analytics.SectionFailing:      {"lint: 6 of 20 uses failed (30%)"},
			analytics.SectionUnregistered: {"adhoc: 3 uses in 30 days, registered by no scan"},
			analytics.SectionMCPUnused:    {"linear: configured by 2 users, no call in 30 days"},
			analytics.SectionPluginUnused: {"idle: loaded by 2 users, 2 skills, no skill use or model request in 30 days"},
		}},
		{"FadeHigher", "fade=80", map[string][]string{
			analytics.SectionFading: {},
		}},
		{"FailHigher", "fail=30", map[string][]string{
			analytics.SectionFailing: {},
		}},
		{"MinLower", "min=3", map[string][]string{
			analytics.SectionFailing:      {"flaky: 4 of 4 uses failed (100%)", "lint: 6 of 20 uses failed (30%)"},
			analytics.SectionUnregistered: {"adhoc: 3 uses in 30 days, registered by no scan"},
		}},
		{"LastDays", "days=2", map[string][]string{
			// deploy's 12 uses were 2 days ago: outside days=2, inside
			// the 2 days before it.
			analytics.SectionNeverUsed:    {"pdf-report: registered by 2 users, no use in 2 days", "deploy: registered by 1 user, no use in 2 days"},
			analytics.SectionFading:       {"deploy: 0 uses, down from 12 (-100%)"},
			analytics.SectionUnregistered: {},
		}},
		{"PreviousWindowFading", "days=3", map[string][]string{
			// The 3 days before days=3 hold adhoc's 3 uses: with min=5,
			// not fading.
			analytics.SectionFading: {},
		}},
		{"PreviousWindowFadingMin", "days=3&min=3", map[string][]string{
			analytics.SectionFading: {"adhoc: 0 uses, down from 3 (-100%)"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp analytics.PortfolioResponse
			mustGetJSON(t, e, "/analytics/portfolio?"+tt.query, &resp)
			if resp.KnownSkills != 5 || resp.KnownMCPServers != 2 || resp.KnownPlugins != 3 {
				t.Errorf("known %d skills, %d servers, %d plugins, want 5, 2 and 3", resp.KnownSkills, resp.KnownMCPServers, resp.KnownPlugins)
			}
			var ids []string
			got := map[string][]string{}
			for _, sec := range resp.Sections {
				ids = append(ids, sec.ID)
				got[sec.ID] = []string{}
				for _, r := range sec.Rows {
					got[sec.ID] = append(got[sec.ID], r.Name+": "+r.Fact)
				}
			}
			if want := []string{"never_used", "fading", "failing", "unregistered", "mcp_unused", "plugins_unused"}; !reflect.DeepEqual(ids, want) {
				t.Fatalf("sections %v, want %v", ids, want)
			}
			for id, want := range tt.want {
				if !reflect.DeepEqual(got[id], want) {
					t.Errorf("%s = %q, want %q", id, got[id], want)
				}
			}
		})
	}

	t.Run("Details", func(t *testing.T) {
		var resp analytics.PortfolioResponse
		mustGetJSON(t, e, "/analytics/portfolio", &resp)
		if got, want := resp.Thresholds, (analytics.PortfolioThresholds{Fade: 50, Fail: 20, Min: 5}); got != want {
			t.Errorf("thresholds %+v, want %+v", got, want)
		}
		never := resp.Sections[0].Rows[0]
		reg := never.Registered
		if reg == nil || reg.Users != 2 || reg.Source != "user" || reg.Description != "Makes PDF reports" || reg.SizeBytes != 420 ||
			reg.FirstSeen != dayAt(3).Format(time.RFC3339) || reg.LastSeen != dayAt(3).Add(time.Hour).Format(time.RFC3339) {
			t.Errorf("pdf-report registered %+v", reg)
		}
		fading := resp.Sections[1].Rows[0]
		if fading.Uses != 12 || fading.PreviousUses == nil || *fading.PreviousUses != 40 || fading.Registered == nil {
			t.Errorf("fading row %+v", fading)
		}
		if un := resp.Sections[3].Rows[0]; un.Registered != nil {
			t.Errorf("unregistered row %+v has a registration", un)
		}
	})

	t.Run("BadParams", func(t *testing.T) {
		for _, tt := range []struct{ query, field string }{
			{"fade=0", "fade"}, {"fade=101", "fade"}, {"fade=half", "fade"},
			{"fail=100", "fail"}, {"fail=-1", "fail"}, {"min=0", "min"}, {"min=1.5", "min"},
			{"days=0", "days"}, {"days=7&hours=3", "days"},
		} {
			checkBad(t, e, "/analytics/portfolio?"+tt.query, tt.field)
		}
	})
}

// Ensure an empty database answers every section, empty.
func TestServer_PortfolioEmpty(t *testing.T) {
	e := newRouter(t, testkit.MustOpenDB(t).Path(), analytics.Config{})
	body := mustGetJSON(t, e, "/analytics/portfolio?hours=6", nil)
	for _, id := range []string{"never_used", "fading", "failing", "unregistered", "mcp_unused", "plugins_unused"} {
		if !strings.Contains(string(body), `"id":"`+id+`","title":`) {
			t.Errorf("no section %s in %s", id, body)
		}
	}
	if strings.Contains(string(body), "null,") || strings.Contains(string(body), `"rows":null`) {
		t.Errorf("null rows in %s", body)
	}
}
