package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// The Skills, MCP and Portfolio views over the seeded serve of
// TestDashboard_Seeded (whose seed makes skill runs and MCP calls), at the
// 30-day range: each view is drawn with the API's numbers, a row opens
// its detail dialog, and a 390 px phone neither scrolls sideways nor
// shows colliding tick labels.

// viewsRange is the query of the range the view tests read, and viewsDays
// the same window as the API's parameter.
const (
	viewsRange = "/?range=30d"
	viewsDays  = "?days=30"
)

// shownRow is a row of a view's table: its name (a data- attribute) and
// its cells by their data-label.
type shownRow struct {
	Name  string
	Cells map[string]string
}

// shownRows lists the rows of the table body rowsCSS, named by their
// data-<attr> attribute.
func shownRows(t *testing.T, tb *tab, rowsCSS, attr string) []shownRow {
	t.Helper()
	return evalAs[[]shownRow](t, tb, fmt.Sprintf(`[...document.querySelectorAll(%q)].map((r) => ({
		name: r.dataset[%q] ?? "",
		cells: Object.fromEntries([...r.cells].map((c) => [c.dataset.label || "", c.textContent]))}))`, rowsCSS, attr))
}

// countShown reports whether a cell shows the count want, as the API
// writes it: a number (the cell may group its digits) or "fewer than K".
func countShown(cell, want string) bool {
	if strings.HasPrefix(want, "fewer than") {
		return cell == want
	}
	return digits(cell) == want && digits(cell) != ""
}

// openView loads view at the 30-day range and waits until the page and
// the view's panel are both ready (app.js marks <html> and the panel).
func openView(t *testing.T, tb *tab, base, view string) {
	t.Helper()
	tb.do(t, 30*time.Second, chromedp.Navigate(base+viewsRange+"#"+view))
	waitView(t, tb, view)
}

// waitView waits until the page shows view, ready, in its panel.
func waitView(t *testing.T, tb *tab, view string) {
	t.Helper()
	tb.waitState(t, 20*time.Second, "ready")
	got := evalAs[struct{ View, Panel string }](t, tb, fmt.Sprintf(`({view: document.documentElement.dataset.view,
		panel: document.getElementById(%q).dataset.state || ""})`, "view-"+view))
	if got.View != view || got.Panel != "ready" {
		t.Fatalf("page at view %q with its panel %q, want %s ready", got.View, got.Panel, view)
	}
}

// openViewDetail clicks the row rowCSS and waits until the detail dialog
// (views.js) is open on kind and name, with its data-state ready.
func openViewDetail(t *testing.T, tb *tab, rowCSS, kind, name string) {
	t.Helper()
	tb.do(t, 10*time.Second, chromedp.ScrollIntoView(chromedp.CSS(rowCSS)), chromedp.Click(chromedp.CSS(rowCSS)),
		chromedp.WaitVisible(chromedp.CSS(`#view-detail[open]`)))
	testkit.Eventually(t, 10*time.Second, func() error {
		d := evalAs[struct{ Kind, State, Name string }](t, tb, `(() => { const d = document.getElementById("view-detail");
			return {kind: d.dataset.kind || "", state: d.dataset.state || "", name: document.getElementById("view-detail-name").textContent}; })()`)
		if d.Kind != kind || d.State != "ready" || strings.TrimSpace(d.Name) != name {
			return fmt.Errorf("detail dialog %+v, want %s %q ready", d, kind, name)
		}
		return nil
	})
}

// closeViewDetail closes the detail dialog with its close button.
func closeViewDetail(t *testing.T, tb *tab) {
	t.Helper()
	tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#view-detail-close`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#view-detail[open]`)))
}

// detailStats are the dt/dd pairs of the open detail dialog.
func detailStats(t *testing.T, tb *tab) map[string]string {
	t.Helper()
	return evalAs[map[string]string](t, tb, `Object.fromEntries([...document.querySelectorAll("#view-detail-body dl.stats div")].map((d) => [d.querySelector("dt").textContent, d.querySelector("dd").textContent]))`)
}

// checkDetailChart checks that the detail's daily chart on canvas id is
// drawn, with a bar per day of the API's daily series, the bars of its
// first dataset adding up to want, and no tick label twice on an axis
// (fractional steps of a small range all read "1 ms").
func checkDetailChart(t *testing.T, tb *tab, chart, id string, days int, want int64) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() error {
		if blank := evalAs[[]string](t, tb, fmt.Sprintf(canvasesDrawn, `["`+id+`"]`)); len(blank) > 0 {
			return fmt.Errorf("detail chart not drawn: %v", blank)
		}
		return nil
	})
	got := evalAs[struct {
		Days    int
		Sum     int64
		Repeats []string
	}](t, tb, fmt.Sprintf(`(() => { const c = window.trackskills.charts[%q];
		const repeats = Object.entries(c.scales).filter(([, s]) => s.options.display !== false).flatMap(([id, s]) =>
			s.ticks.map((k) => String(k.label)).filter((l, i, all) => l.trim() !== "" && all.indexOf(l) !== i).map((l) => id + ": " + l));
		return {days: c.data.labels.length, sum: c.data.datasets[0].data.reduce((a, v) => a + v, 0), repeats}; })()`, chart))
	if got.Days != days || got.Sum != want {
		t.Errorf("detail chart: %d days adding up to %d, want %d days adding up to %d (the API's daily series)", got.Days, got.Sum, days, want)
	}
	if len(got.Repeats) > 0 {
		t.Errorf("detail chart: tick labels shown more than once on their axis: %q", got.Repeats)
	}
}

// checkViewPhone reloads view at a 390 px wide phone and checks that the
// page does not scroll sideways and that no chart's tick labels collide;
// with rowCSS set, it checks the same of the detail a click on that row
// opens (kind, name). It takes the screenshots of the phone and restores
// the desktop viewport.
func checkViewPhone(t *testing.T, tb *tab, view, rowCSS, kind, name string) {
	t.Helper()
	tb.do(t, 30*time.Second,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Reload())
	waitView(t, tb, view)
	checkPhoneLayout(t, tb, "the "+view+" view")
	screenshot(t, tb, "dashboard-"+view+"-phone.png")
	if rowCSS != "" {
		openViewDetail(t, tb, rowCSS, kind, name)
		checkPhoneLayout(t, tb, "the "+view+" detail")
		// The dialog scrolls on its own: its content must fit its width.
		d := evalAs[struct {
			Scroll, Client int
			Right          float64
			Wide           []string
		}](t, tb, `(() => { const d = document.getElementById("view-detail"), r = d.getBoundingClientRect();
			const edge = r.left + d.clientLeft + d.clientWidth - parseFloat(getComputedStyle(d).paddingRight);
			const wide = [...d.querySelectorAll("*")].filter((e) => e.getBoundingClientRect().right > edge + 0.5)
				.map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : ""));
			return {scroll: d.scrollWidth, client: d.clientWidth, right: r.right, wide: wide.slice(0, 8)}; })()`)
		if d.Scroll > d.Client || d.Right > 390.5 {
			t.Errorf("the %s detail at 390 px: %d px of content in %d px, its right edge at %.0f px: want no sideways scroll (too wide: %q)", view, d.Scroll, d.Client, d.Right, d.Wide)
		}
		screenshot(t, tb, "dashboard-"+view+"-detail-phone.png")
		closeViewDetail(t, tb)
	}
	tb.do(t, 10*time.Second, chromedp.EmulateViewport(1280, 900))
}

// checkPhoneLayout fails t if the page, at a 390 px wide phone, scrolls
// sideways or a chart's tick labels collide.
func checkPhoneLayout(t *testing.T, tb *tab, what string) {
	t.Helper()
	w := evalAs[struct{ Scroll, Client, Inner int }](t, tb, `({scroll: document.documentElement.scrollWidth,
		client: document.documentElement.clientWidth, inner: window.innerWidth})`)
	if w.Inner != 390 || w.Scroll > w.Client {
		t.Errorf("%s at %d px wide: the page is %d px wide in %d px, a horizontal scroll", what, w.Inner, w.Scroll, w.Client)
	}
	if bad := evalAs[[]string](t, tb, labelOverlaps); len(bad) > 0 {
		t.Errorf("%s at 390 px: %d tick labels collide:\n%s", what, len(bad), strings.Join(bad, "\n"))
	}
}

// testSkillsView checks the Skills view: its table is /analytics/skills,
// row by row; the first skill's detail shows its end states, the tools
// its runs use and its daily chart as /analytics/skills/{name} has them.
func testSkillsView(t *testing.T, b *browser, base string) {
	tb := b.newTab(t)
	var api analytics.SkillsResponse
	apiGet(t, base, "/analytics/skills"+viewsDays, &api)
	if len(api.Skills) == 0 {
		t.Fatal("the seeded serve has no skill runs in 30 days: the seed makes sessions with skill runs")
	}
	first := api.Skills[0].Skill

	t.Run("SkillsTableIsTheAPI", func(t *testing.T) {
		openView(t, tb, base, "skills")
		rows := shownRows(t, tb, "#skills-table tbody tr", "skill")
		var names, want []string
		for _, r := range rows {
			names = append(names, r.Name)
		}
		for _, s := range api.Skills {
			want = append(want, s.Skill)
		}
		if !slices.Equal(names, want) {
			t.Fatalf("skills table rows %q, want the API's %q in its order", names, want)
		}
		for i, s := range api.Skills {
			for _, c := range []struct{ label, want string }{
				{"Runs", fmt.Sprint(s.Runs)}, {"Users", s.Users.String()}, {"Sessions", s.Sessions.String()},
			} {
				if got := rows[i].Cells[c.label]; !countShown(got, c.want) {
					t.Errorf("skill %s: %s cell %q, want %s (the API's)", s.Skill, c.label, got, c.want)
				}
			}
		}
		screenshot(t, tb, "dashboard-skills.png")
		tb.checkClean(t)
	})

	t.Run("SkillDetailOpensOnRowClick", func(t *testing.T) {
		var d analytics.SkillDetailResponse
		apiGet(t, base, "/analytics/skills/"+url.PathEscape(first)+viewsDays, &d)
		openViewDetail(t, tb, "#skills-table tbody tr:first-child", "skill", first)
		if got := detailStats(t, tb)["Runs"]; !countShown(got, fmt.Sprint(d.Runs)) {
			t.Errorf("skill detail Runs %q, want %d", got, d.Runs)
		}
		states := evalAs[map[string]string](t, tb, `Object.fromEntries([...document.querySelectorAll("#skill-end-states li")].map((li) => [li.firstChild.textContent.trim(), li.querySelector("strong").textContent]))`)
		if len(states) != len(d.EndStates) {
			t.Errorf("end states shown %v, want the API's %v", states, d.EndStates)
		}
		for state, n := range d.EndStates {
			if !countShown(states[state], fmt.Sprint(n)) {
				t.Errorf("end state %s shows %q, want %d", state, states[state], n)
			}
		}
		type call struct{ Name, Calls string }
		for _, tc := range []struct {
			id   string
			want []analytics.SkillCallResponse
		}{{"skill-tools", d.Tools}, {"skill-servers", d.MCPServers}} {
			got := evalAs[[]call](t, tb, fmt.Sprintf(`[...document.querySelectorAll("#%s tbody tr")].map((r) => ({name: r.querySelector(".tname").title, calls: r.cells[1].textContent}))`, tc.id))
			if len(tc.want) == 0 {
				t.Errorf("the API lists no %s of %s: the seed's runs call tools and MCP servers", tc.id, first)
			}
			if len(got) != len(tc.want) {
				t.Errorf("#%s shows %d rows %v, want the API's %d", tc.id, len(got), got, len(tc.want))
				continue
			}
			for i, w := range tc.want {
				if got[i].Name != w.Name || !countShown(got[i].Calls, fmt.Sprint(w.Calls)) {
					t.Errorf("#%s row %d: %s with %s calls, want %s with %d", tc.id, i, got[i].Name, got[i].Calls, w.Name, w.Calls)
				}
			}
		}
		var runs int64
		for _, day := range d.Daily {
			runs += day.Runs
		}
		checkDetailChart(t, tb, "skillDetail", "chart-skill-detail", len(d.Daily), runs)
		screenshot(t, tb, "dashboard-skills-detail.png")
		closeViewDetail(t, tb)
		tb.checkClean(t)
	})

	t.Run("SkillsPhone390", func(t *testing.T) {
		checkViewPhone(t, tb, "skills", "#skills-table tbody tr:first-child", "skill", first)
		tb.checkClean(t)
	})
}

// mcpToolShown is how the MCP view names a tool: "" is a call of the
// server that named none.
func mcpToolShown(tool string) string {
	if tool == "" {
		return "(no tool named)"
	}
	return tool
}

// testMCPView checks the MCP view: its table is /analytics/mcp, row by
// row; the first server's detail shows its tools, the skills that call it
// and its daily chart as /analytics/mcp/{server} has them.
func testMCPView(t *testing.T, b *browser, base string) {
	tb := b.newTab(t)
	var api analytics.MCPResponse
	apiGet(t, base, "/analytics/mcp"+viewsDays, &api)
	if len(api.Servers) == 0 {
		t.Fatal("the seeded serve has no MCP calls in 30 days: the seed calls MCP servers")
	}
	first := api.Servers[0].Server

	t.Run("MCPTableIsTheAPI", func(t *testing.T) {
		openView(t, tb, base, "mcp")
		rows := shownRows(t, tb, "#mcp-table tbody tr", "server")
		var names, want []string
		for _, r := range rows {
			names = append(names, r.Name)
		}
		for _, s := range api.Servers {
			want = append(want, s.Server)
		}
		if !slices.Equal(names, want) {
			t.Fatalf("MCP table rows %q, want the API's %q in its order", names, want)
		}
		for i, s := range api.Servers {
			for _, c := range []struct{ label, want string }{
				{"Calls", fmt.Sprint(s.Calls)}, {"Users", s.Users.String()},
			} {
				if got := rows[i].Cells[c.label]; !countShown(got, c.want) {
					t.Errorf("server %s: %s cell %q, want %s (the API's)", s.Server, c.label, got, c.want)
				}
			}
			if len(s.Tools) > 0 && !strings.HasPrefix(rows[i].Cells["Tools"], mcpToolShown(s.Tools[0].Tool)) {
				t.Errorf("server %s: Tools cell %q, want it to start with its most called tool %q", s.Server, rows[i].Cells["Tools"], s.Tools[0].Tool)
			}
		}
		screenshot(t, tb, "dashboard-mcp.png")
		tb.checkClean(t)
	})

	t.Run("MCPDetailOpensOnRowClick", func(t *testing.T) {
		var d analytics.MCPServerDetailResponse
		apiGet(t, base, "/analytics/mcp/"+url.PathEscape(first)+viewsDays, &d)
		openViewDetail(t, tb, "#mcp-table tbody tr:first-child", "mcp", first)
		stats := detailStats(t, tb)
		if !countShown(stats["Calls"], fmt.Sprint(d.Calls)) || !countShown(stats["Users"], d.Users.String()) {
			t.Errorf("MCP detail Calls %q, Users %q, want %d and %s", stats["Calls"], stats["Users"], d.Calls, d.Users)
		}
		type tool struct{ Name, Calls string }
		tools := evalAs[[]tool](t, tb, `[...document.querySelectorAll("#mcp-tools tbody tr")].map((r) => ({name: r.cells[0].textContent, calls: r.cells[1].textContent}))`)
		if len(tools) != len(d.Tools) || len(tools) == 0 {
			t.Errorf("#mcp-tools shows %v, want the API's %d tools", tools, len(d.Tools))
		} else {
			for i, w := range d.Tools {
				if tools[i].Name != mcpToolShown(w.Tool) || !countShown(tools[i].Calls, fmt.Sprint(w.Calls)) {
					t.Errorf("#mcp-tools row %d: %s with %s calls, want %s with %d", i, tools[i].Name, tools[i].Calls, w.Tool, w.Calls)
				}
			}
		}
		skills := evalAs[[]string](t, tb, `[...document.querySelectorAll("#mcp-skills li")].map((li) => li.firstChild.textContent)`)
		var want []string
		for _, s := range d.Skills {
			want = append(want, s.Skill)
		}
		if len(want) == 0 || !slices.Equal(skills, want) {
			t.Errorf("skills calling %s shown %q, want the API's %q", first, skills, want)
		}
		var calls int64
		for _, day := range d.Daily {
			calls += day.Calls
		}
		checkDetailChart(t, tb, "mcpDetail", "chart-mcp-detail", len(d.Daily), calls)
		screenshot(t, tb, "dashboard-mcp-detail.png")
		closeViewDetail(t, tb)
		tb.checkClean(t)
	})

	t.Run("MCPPhone390", func(t *testing.T) {
		checkViewPhone(t, tb, "mcp", "#mcp-table tbody tr:first-child", "mcp", first)
		tb.checkClean(t)
	})
}

// testPortfolioView checks the Portfolio view: its sections are those of
// /analytics/portfolio, in order, each with the API's title, count, rows
// and facts, and the hint to scan when no scan registered anything.
func testPortfolioView(t *testing.T, b *browser, base string) {
	tb := b.newTab(t)
	var api analytics.PortfolioResponse
	apiGet(t, base, "/analytics/portfolio"+viewsDays, &api)

	t.Run("SectionsAreTheAPI", func(t *testing.T) {
		openView(t, tb, base, "portfolio")
		type section struct {
			Title, Count string
			Names, Facts []string
		}
		got := evalAs[[]section](t, tb, `[...document.querySelectorAll("#portfolio-body section.psection")].map((s) => ({
			title: s.querySelector("h3").firstChild.textContent, count: s.querySelector("h3 .muted").textContent,
			names: [...s.querySelectorAll("li[data-name]")].map((li) => li.dataset.name),
			facts: [...s.querySelectorAll("li[data-name] .fact")].map((f) => f.textContent)}))`)
		if len(got) != len(api.Sections) {
			t.Fatalf("portfolio shows %d sections %+v, want the API's %d", len(got), got, len(api.Sections))
		}
		rows := 0
		for i, s := range api.Sections {
			var names, facts []string
			for _, r := range s.Rows {
				names, facts = append(names, r.Name), append(facts, r.Fact)
			}
			rows += len(names)
			g := got[i]
			if g.Title != s.Title || g.Count != fmt.Sprint(len(s.Rows)) || !slices.Equal(g.Names, names) || !slices.Equal(g.Facts, facts) {
				t.Errorf("portfolio section %d shows %+v, want %q (%s) with %d rows %q, facts %q", i, g, s.Title, s.ID, len(names), names, facts)
			}
		}
		if rows == 0 {
			t.Error("the API's portfolio lists nothing: the seed's skills are used without a scan, so \"Used but never registered\" has rows")
		}
		hint := evalAs[bool](t, tb, `!!document.querySelector("#portfolio-body .scan-hint")`)
		if noScan := api.KnownSkills == 0 && api.KnownMCPServers == 0; hint != noScan {
			t.Errorf("scan hint shown %v with %d known skills and %d known MCP servers", hint, api.KnownSkills, api.KnownMCPServers)
		}
		screenshot(t, tb, "dashboard-portfolio.png")
		tb.checkClean(t)
	})

	t.Run("PortfolioPhone390", func(t *testing.T) {
		checkViewPhone(t, tb, "portfolio", "", "", "")
		tb.checkClean(t)
	})
}

// testCostsView checks the Costs view over the model requests that
// TestDashboard_Seeded sent as telemetry: the totals and each breakdown
// are the API's, in its order, a redacted name is marked, a name made of
// markup shows as text, and a phone does not scroll sideways.
func testCostsView(t *testing.T, b *browser, base string) {
	tb := b.newTab(t)
	var api analytics.CostsResponse
	apiGet(t, base, "/analytics/costs"+viewsDays, &api)

	t.Run("CostsAreTheAPI", func(t *testing.T) {
		openView(t, tb, base, "costs")
		totals := evalAs[map[string]string](t, tb, `Object.fromEntries([...document.querySelectorAll("#costs-totals div")].map((d) =>
			[d.querySelector("dt").textContent, d.querySelector("dd").textContent]))`)
		if totals["Cost"] != fmt.Sprintf("$%.4f", api.Totals.CostUSD) || digits(totals["Requests"]) != fmt.Sprint(api.Totals.Requests) {
			t.Errorf("totals %v, want the API's $%.4f and %d requests", totals, api.Totals.CostUSD, api.Totals.Requests)
		}
		for key, entries := range map[string][]analytics.CostEntry{"by_skill": api.BySkill, "by_mcp_server": api.ByMCPServer, "by_model": api.ByModel} {
			rows := shownRows(t, tb, fmt.Sprintf(`table[data-breakdown=%q] tbody tr`, key), "name")
			if len(rows) != len(entries) || len(rows) == 0 {
				t.Fatalf("%s shows %d rows, want the API's %d", key, len(rows), len(entries))
			}
			for i, e := range entries {
				if rows[i].Name != e.Name || digits(rows[i].Cells["Requests"]) != fmt.Sprint(e.Requests) {
					t.Errorf("%s row %d shows %+v, want %q with %d requests", key, i, rows[i], e.Name, e.Requests)
				}
			}
		}
		redacted := evalAs[[]string](t, tb, `[...document.querySelectorAll('table[data-breakdown="by_skill"] tr')].filter((r) =>
			r.querySelector(".badge")).map((r) => r.dataset.name)`)
		if !slices.Equal(redacted, []string{"third-party"}) {
			t.Errorf("redacted skills marked: %q, want third-party", redacted)
		}
		if tip := evalAs[string](t, tb, `document.querySelector('table[data-breakdown="by_skill"] .badge').title`); !strings.Contains(tip, "third-party plugin") {
			t.Errorf("the redacted badge says %q, want what it hides", tip)
		}
		if evalAs[bool](t, tb, `!!document.querySelector('#costs-body img')`) {
			t.Error("a skill name made of markup became an element of the page")
		}
		if !evalAs[bool](t, tb, fmt.Sprintf(`[...document.querySelectorAll('table[data-breakdown="by_skill"] tr')].some((r) => r.dataset.name === %q)`, xssTool)) {
			t.Error("the markup skill name is not shown as text")
		}
		var cov analytics.CoverageResponse
		apiGet(t, base, "/analytics/coverage"+viewsDays, &cov)
		shown := shownRows(t, tb, `#coverage-table tbody tr`, "source")
		if len(shown) != len(cov.Sources) || len(shown) < 2 {
			t.Fatalf("coverage shows %+v, want the API's %d sources (the seed's, and otlp)", shown, len(cov.Sources))
		}
		for i, s := range cov.Sources {
			if shown[i].Name != s.Source || digits(shown[i].Cells["Calls seen"]) != fmt.Sprint(s.CallsSeen) {
				t.Errorf("coverage row %d %+v, want %s with %d calls", i, shown[i], s.Source, s.CallsSeen)
			}
		}
		if red := evalAs[string](t, tb, `document.getElementById("coverage-redacted")?.textContent || ""`); !strings.Contains(red, "mcp_tool") {
			t.Errorf("redacted names note %q, want mcp_tool in it", red)
		}
		screenshot(t, tb, "dashboard-costs.png")
		tb.checkClean(t)
	})

	t.Run("CostsPhone390", func(t *testing.T) {
		checkViewPhone(t, tb, "costs", "", "", "")
		tb.checkClean(t)
	})
}
