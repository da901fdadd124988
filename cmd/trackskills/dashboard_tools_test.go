package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/trackskills/trackskills/testkit"
)

// The Tools view and the tabs, over the seeded serve of TestDashboard_Seeded.

// A plugin's MCP server: its name holds "_" and the tool's name is long.
const mcpLongTool = "mcp__plugin_acme_tracker__file_bug_with_a_very_long_descriptive_name"

// A tool whose events carry no duration.
const noDurationTool = "no-durations-tool"

// labelOverlaps is a script listing, for every chart drawn in the page,
// the tick labels that overlap another label of the same axis, are
// rotated, or stick out of the canvas. It measures each label's box from
// the positions Chart.js drew it at (Scale.getLabelItems).
const labelOverlaps = `(() => {
  const out = [];
  const ctx = document.createElement("canvas").getContext("2d");
  for (const [name, chart] of Object.entries(window.trackskills.charts)) {
    if (!chart || !chart.canvas.isConnected || chart.canvas.getClientRects().length === 0) continue;
    for (const [id, scale] of Object.entries(chart.scales)) {
      if (scale.options.display === false || scale.options.ticks.display === false) continue;
      const boxes = [];
      for (const it of scale.getLabelItems()) {
        const lines = (Array.isArray(it.label) ? it.label : [it.label]).map(String);
        if (!lines.some((l) => l.trim() !== "")) continue;
        ctx.font = it.font.string;
        const w = Math.max(...lines.map((l) => ctx.measureText(l).width));
        const lh = it.font.lineHeight;
        const [x, y] = it.options.translation;
        const a = it.options.textAlign;
        const x0 = a === "left" || a === "start" ? x : a === "right" || a === "end" ? x - w : x - w / 2;
        const top = it.options.textBaseline === "top" ? y + it.textOffset : y + it.textOffset - lh / 2;
        const b = { label: lines.join(" "), x0, x1: x0 + w, y0: top, y1: top + lines.length * lh };
        if (it.options.rotation) out.push(name + "." + id + ": " + b.label + " is rotated");
        if (b.x0 < -0.5 || b.x1 > chart.width + 0.5) out.push(name + "." + id + ": " + b.label + " sticks out of the canvas");
        for (const o of boxes) {
          if (b.x0 < o.x1 - 0.5 && o.x0 < b.x1 - 0.5 && b.y0 < o.y1 - 0.5 && o.y0 < b.y1 - 0.5) {
            out.push(name + "." + id + ": " + JSON.stringify(o.label) + " overlaps " + JSON.stringify(b.label));
          }
        }
        boxes.push(b);
      }
    }
  }
  return out;
})()`

// testToolsView checks the Tools view: status bars per tool, MCP names as
// "server · tool" with the full name as a tooltip, "no data" for a tool
// without durations, and a 390 px phone without overlapping tick labels
// or a sideways scroll of the errors list.
func testToolsView(t *testing.T, b *browser, base string) {
	postEvent(t, base, map[string]any{"tool_name": mcpLongTool, "status": "error", "error_type": "RateLimitedByTheTrackerUpstreamService",
		"error_message": strings.Repeat("the tracker refused the request because its quota is spent; ", 6), "duration_ms": 310})
	for range 3 {
		postEvent(t, base, map[string]any{"tool_name": noDurationTool, "status": "success"})
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		var sum summaryTotals
		apiGet(t, base, "/analytics/summary?hours=2&tool="+noDurationTool, &sum)
		var errs struct{ Count int }
		apiGet(t, base, "/analytics/errors?hours=2&tool="+url.QueryEscape(mcpLongTool), &errs)
		if sum.Total != 3 || errs.Count != 1 {
			return fmt.Errorf("%d of 3 events without duration, %d of 1 MCP error stored", sum.Total, errs.Count)
		}
		return nil
	})
	tb := b.newTab(t)

	t.Run("StatusBarsPerTool", func(t *testing.T) {
		tb.do(t, 30*time.Second, chromedp.Navigate(base+"/?range=30d#tools"))
		tb.waitState(t, 20*time.Second, "ready")
		type chartInfo struct {
			Type, IndexAxis string
			Stacked         bool
			Datasets        []string
			Labels          []string
			ToolLabels      []string
		}
		got := evalAs[chartInfo](t, tb, `(() => {
			const c = window.trackskills.charts.status, tools = window.trackskills.charts.tools;
			return {type: c.config.type, indexAxis: c.options.indexAxis, stacked: !!c.options.scales.x.stacked,
				datasets: c.data.datasets.map((d) => d.label), labels: c.data.labels, toolLabels: tools.data.labels};
		})()`)
		if got.Type != "bar" || got.IndexAxis != "y" || !got.Stacked {
			t.Errorf("status chart %s, index axis %q, stacked %v: want stacked horizontal bars", got.Type, got.IndexAxis, got.Stacked)
		}
		if strings.Join(got.Datasets, ",") != "Success,Error,Timeout" {
			t.Errorf("status bars %v, want Success, Error, Timeout", got.Datasets)
		}
		if len(got.Labels) == 0 || strings.Join(got.Labels, "\n") != strings.Join(got.ToolLabels, "\n") {
			t.Errorf("status bars per %q, want the top tools %q", got.Labels, got.ToolLabels)
		}
		// Each bar is the tool's shares: they add up to 100%.
		sums := evalAs[[]float64](t, tb, `(() => { const d = window.trackskills.charts.status.data.datasets;
			return d[0].data.map((_, i) => d.reduce((a, x) => a + x.data[i], 0)); })()`)
		for i, s := range sums {
			if s < 99.9 || s > 100.1 {
				t.Errorf("status bar %d (%s) adds up to %.2f%%, want 100", i, got.Labels[i], s)
			}
		}
		if blank := evalAs[[]string](t, tb, fmt.Sprintf(canvasesDrawn, `["chart-status"]`)); len(blank) > 0 {
			t.Errorf("status bars not drawn: %v", blank)
		}
		tb.checkClean(t)
	})

	t.Run("MCPNamesSplitWithTooltip", func(t *testing.T) {
		labels := evalAs[[]string](t, tb, `window.trackskills.charts.tools.data.labels`)
		split := false
		for _, l := range labels {
			if strings.HasPrefix(l, "mcp__") {
				t.Errorf("chart label %q is the raw MCP name", l)
			}
			if strings.Contains(l, " · ") {
				split = true
			}
		}
		if !split {
			t.Errorf("top tools %q: want an MCP tool shown as server · tool (the seed calls MCP tools)", labels)
		}
		// The tooltip's title of a bar is the full name.
		title := evalAs[string](t, tb, `(() => { const c = window.trackskills.charts.tools;
			const i = c.data.labels.findIndex((l) => l.includes(" · "));
			return c.options.plugins.tooltip.callbacks.title([{dataIndex: i}]); })()`)
		if !strings.HasPrefix(title, "mcp__") {
			t.Errorf("tooltip title %q, want the full mcp__ name", title)
		}
		row := evalAs[struct{ Text, Title string }](t, tb, fmt.Sprintf(`(() => {
			const b = [...document.querySelectorAll("#errors tbody td.tool button")].find((b) => b.title === %q);
			return b ? {text: b.textContent, title: b.title} : {text: "", title: ""}; })()`, mcpLongTool))
		if want := "plugin_acme_tracker · file_bug_with_a_very_long_descriptive_name"; row.Text != want || row.Title != mcpLongTool {
			t.Errorf("errors table shows %q (title %q), want %q with the full name as title", row.Text, row.Title, want)
		}
		tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#errors td.tool button[title=%q]`, mcpLongTool))),
			chromedp.WaitVisible(chromedp.CSS(`#tool-detail[open]`)))
		testkit.Eventually(t, 10*time.Second, func() error {
			h := evalAs[struct{ Text, Title string }](t, tb, `(() => { const s = document.querySelector("#tool-detail-name .tname");
				return s ? {text: s.textContent, title: s.title} : {text: "", title: ""}; })()`)
			if h.Text != "plugin_acme_tracker · file_bug_with_a_very_long_descriptive_name" || h.Title != mcpLongTool {
				return fmt.Errorf("detail title %q (tooltip %q)", h.Text, h.Title)
			}
			return nil
		})
		tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#tool-detail-close`)),
			chromedp.WaitNotPresent(chromedp.CSS(`#tool-detail[open]`)))
		tb.checkClean(t)
	})

	t.Run("NoDataWithoutDurations", func(t *testing.T) {
		tb.do(t, 30*time.Second, chromedp.Navigate(base+"/?range=30d&tool="+noDurationTool+"&detail="+noDurationTool+"#tools"))
		tb.waitState(t, 20*time.Second, "ready")
		for _, card := range []string{"avg", "p95"} {
			if got := evalAs[string](t, tb, `document.querySelector("#card-`+card+` .value").textContent`); got != "no data" {
				t.Errorf("%s card %q, want \"no data\"", card, got)
			}
		}
		if got := evalAs[string](t, tb, `document.getElementById("chart-latency").dataset.noData || ""`); !strings.Contains(got, noDurationTool) {
			t.Errorf("latency chart marks %s as no data for %q, want the tool", got, noDurationTool)
		}
		if got := evalAs[[]any](t, tb, `window.trackskills.charts.latency.data.datasets.flatMap((d) => d.data)`); len(got) == 0 || got[0] != nil {
			t.Errorf("latency bars %v, want none (null) for a tool without durations", got)
		}
		testkit.Eventually(t, 10*time.Second, func() error {
			stats := evalAs[map[string]string](t, tb, `Object.fromEntries([...document.querySelectorAll("#tool-detail-stats div")].map((d) => [d.querySelector("dt").textContent, d.querySelector("dd").textContent]))`)
			for _, k := range []string{"Average", "p50", "p95", "p99", "Max"} {
				if stats[k] != "no data" {
					return fmt.Errorf("tool detail %s %q, want \"no data\" (all: %v)", k, stats[k], stats)
				}
			}
			return nil
		})
		if evalAs[bool](t, tb, `/(^|[^0-9.,])0 ms/.test(document.getElementById("dashboard").innerText + "\n" + document.getElementById("tool-detail").innerText)`) {
			t.Error(`the page shows "0 ms" for a tool without durations`)
		}
		tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#tool-detail-close`)),
			chromedp.WaitNotPresent(chromedp.CSS(`#tool-detail[open]`)))
		tb.checkClean(t)
	})

	t.Run("Phone390", func(t *testing.T) {
		tb.do(t, 20*time.Second,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			chromedp.Navigate(base+"/?range=24h#tools"))
		tb.waitState(t, 20*time.Second, "ready")
		for _, r := range []string{"24h", "30d"} {
			if r != "24h" {
				tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`button[data-range="`+r+`"]`)))
				tb.waitState(t, 20*time.Second, "ready")
			}
			if bad := evalAs[[]string](t, tb, labelOverlaps); len(bad) > 0 {
				t.Errorf("range %s at 390 px: %d tick labels collide:\n%s", r, len(bad), strings.Join(bad, "\n"))
			}
		}
		w := evalAs[struct{ Scroll, Inner int }](t, tb, `({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})`)
		if w.Scroll > w.Inner || w.Inner != 390 {
			t.Errorf("at %d px wide the page is %d px wide: horizontal scroll", w.Inner, w.Scroll)
		}
		errs := evalAs[struct {
			Scroll, Client, Rows int
			Outside              []string
		}](t, tb, `(() => {
			const box = document.getElementById("errors").closest(".scroll");
			const outside = [];
			for (const td of document.querySelectorAll("#errors tbody td.type, #errors tbody td.msg")) {
				const r = td.getBoundingClientRect();
				if (r.width === 0 || r.left < 0 || r.right > window.innerWidth) outside.push(td.textContent.slice(0, 40));
			}
			return {scroll: box.scrollWidth, client: box.clientWidth, rows: document.querySelectorAll("#errors tbody tr").length, outside};
		})()`)
		if errs.Rows == 0 || errs.Scroll > errs.Client {
			t.Errorf("errors list: %d rows, %d px wide in %d px: want rows and no horizontal scroll", errs.Rows, errs.Scroll, errs.Client)
		}
		if len(errs.Outside) > 0 {
			t.Errorf("errors list: type or message hidden or off screen: %q", errs.Outside)
		}
		screenshot(t, tb, "dashboard-phone-390.png")
		tb.do(t, 10*time.Second, chromedp.EmulateViewport(1280, 900))
		tb.checkClean(t)
	})
}

// testViewTabs checks that the tabs and the location hash switch views,
// from the mouse and the keyboard, and that the time range is shared.
func testViewTabs(t *testing.T, b *browser, base string) {
	t.Run("TabsSwitchViewsByHash", func(t *testing.T) {
		tb := b.newTab(t)
		// The Skills view is the default.
		tb.do(t, 30*time.Second, chromedp.Navigate(base+"/?range=7d"))
		tb.waitState(t, 20*time.Second, "ready", "empty", "error")
		type view struct {
			View, Hash, Selected string
			Visible              []string
		}
		current := func() view {
			return evalAs[view](t, tb, `({view: document.documentElement.dataset.view, hash: location.hash,
				selected: document.querySelector('.tabs [aria-selected="true"]').dataset.view,
				visible: [...document.querySelectorAll(".view")].filter((v) => !v.hidden).map((v) => v.dataset.view)})`)
		}
		check := func(want string) {
			t.Helper()
			testkit.Eventually(t, 10*time.Second, func() error {
				v := current()
				if v.View != want || v.Hash != "#"+want || v.Selected != want || len(v.Visible) != 1 || v.Visible[0] != want {
					return fmt.Errorf("view %+v, want %s alone", v, want)
				}
				return nil
			})
		}
		check("skills")
		// Each view ends drawn, empty, or with a banner naming what failed.
		settled := func(v string) {
			t.Helper()
			tb.waitState(t, 20*time.Second, "ready", "empty", "error")
			got := evalAs[struct{ State, Banner string }](t, tb, `({state: document.querySelector(".view:not([hidden])")?.dataset.state || "",
				banner: document.getElementById("error-banner").hidden ? "" : document.getElementById("error-banner").textContent})`)
			switch {
			case got.State == "error" && !strings.Contains(got.Banner, "Could not load the"):
				t.Errorf("view %s failed with the banner %q, want it to say what could not load", v, got.Banner)
			case got.State != "error" && got.State != "ready" && got.State != "empty":
				t.Errorf("view %s: state %q", v, got.State)
			}
		}
		settled("skills")
		tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#tab-mcp`)))
		check("mcp")
		settled("mcp")
		// The keyboard: arrows move to the next tab and open it.
		tb.do(t, 10*time.Second, chromedp.Focus(chromedp.CSS(`#tab-mcp`)), chromedp.KeyEvent(kb.ArrowRight))
		check("portfolio")
		settled("portfolio")
		tb.do(t, 10*time.Second, chromedp.Focus(chromedp.CSS(`#tab-portfolio`)), chromedp.KeyEvent(kb.ArrowRight))
		check("costs")
		settled("costs")
		tb.do(t, 10*time.Second, chromedp.Focus(chromedp.CSS(`#tab-costs`)), chromedp.KeyEvent(kb.ArrowRight))
		check("tools")
		if focused := evalAs[string](t, tb, `document.activeElement.id`); focused != "tab-tools" {
			t.Errorf("focus on %q after the arrow keys, want tab-tools", focused)
		}
		tb.waitState(t, 20*time.Second, "ready")
		// A hash typed in (or a link) switches too; the range stays.
		evalAs[bool](t, tb, `(location.hash = "#skills", true)`)
		check("skills")
		if loc := evalAs[string](t, tb, `location.search`); !strings.Contains(loc, "range=7d") {
			t.Errorf("URL %q lost the range on a switch of view", loc)
		}
		tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#tab-tools`)))
		check("tools")
		tb.waitState(t, 20*time.Second, "ready")
		// Only the Tools view has the tool and category filters.
		if evalAs[bool](t, tb, `document.getElementById("filter-tool").closest("label").getClientRects().length === 0`) {
			t.Error("the tool filter is hidden in the Tools view")
		}
		screenshot(t, tb, "dashboard-tabs.png")
		// The views' endpoints are not all served yet: their refusals (404)
		// are the browser's console errors; anything else is reported.
		tb.mu.Lock()
		var rest []string
		for _, p := range tb.problems {
			if !strings.Contains(p, "404") {
				rest = append(rest, p)
			}
		}
		tb.problems = rest
		tb.mu.Unlock()
		tb.checkClean(t)
	})
}
