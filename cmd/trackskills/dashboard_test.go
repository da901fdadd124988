package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// The dashboard tests drive Debian's headless Chromium (installed by
// .ci/run) with chromedp against a real serve. Without a browser they are
// skipped, unless CI is set: there a missing browser fails them.
// TRACKSKILLS_CHROMIUM names the browser binary; TRACKSKILLS_SCREENSHOTS a
// directory where they write screenshots of the seeded dashboard.

const xssTool = `<img src=x onerror=alert(1)>`
const xssMessage = `</script><script>alert(2)</script>`

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TRACKSKILLS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium found: .ci/run installs Debian's chromium (apt-get install chromium)")
	}
	t.Skip("no chromium found; set TRACKSKILLS_CHROMIUM or install Debian's chromium")
	return ""
}

// browser is one headless Chromium; each tab collects the page's console
// errors, uncaught exceptions and JavaScript dialogs (alert would be XSS).
type browser struct {
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // containers and CI run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	return &browser{ctx: bctx}
}

type tab struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string // console errors, exceptions, dialogs
}

func (b *browser) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				tb.add("%s (%s:%d)", m, m.URL, m.Line)
			}
		}
	}()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.add("dialog %s: %q", ev.Type, ev.Message)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return tb
}

func (tb *tab) add(format string, args ...any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.problems = append(tb.problems, fmt.Sprintf(format, args...))
}

// checkClean fails t with every problem the page reported so far.
func (tb *tab) checkClean(t *testing.T) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, p := range tb.problems {
		t.Errorf("page: %s", p)
	}
	tb.problems = nil
}

func (tb *tab) do(t *testing.T, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// evalAs runs a JavaScript expression and returns its JSON value as T.
func evalAs[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitState waits until <html data-state> is one of states, and returns it.
func (tb *tab) waitState(t *testing.T, timeout time.Duration, states ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		state := evalAs[string](t, tb, `document.documentElement.dataset.state || ""`)
		for _, s := range states {
			if state == s {
				return state
			}
		}
		if time.Now().After(deadline) {
			banner := evalAs[string](t, tb, `(document.getElementById("error-banner") || {}).textContent || ""`)
			t.Fatalf("page state %q after %v, want one of %v (banner %q)", state, timeout, states, banner)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiGet decodes a GET of the API.
func apiGet(t *testing.T, base, path string, out any) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func postEvent(t *testing.T, base string, ev map[string]any) {
	t.Helper()
	body, _ := json.Marshal(ev)
	if code, err := testkit.PostJSON(http.DefaultClient, base+"/api/track", body, nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("POST /api/track: %d %v", code, err)
	}
}

// canvasesDrawn is a script listing the chart canvases with no drawn pixel.
const canvasesDrawn = `(() => {
  const blank = [];
  for (const id of %s) {
    const c = document.getElementById(id);
    if (!c || !c.width || !c.height) { blank.push(id + " (missing)"); continue; }
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let drawn = false;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) { drawn = true; break; }
    if (!drawn) blank.push(id);
  }
  return blank;
})()`

func screenshot(t *testing.T, tb *tab, name string) {
	t.Helper()
	dir := os.Getenv("TRACKSKILLS_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func darkMode(dark bool) chromedp.Action[chromedp.Void] {
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

type summaryTotals struct {
	Total int `json:"total_invocations"`
}

func TestDashboard_Seeded(t *testing.T) {
	b := newBrowser(t)
	o := serveOptions(t)
	args := []string{"seed", "--data-dir", o.dataDir, "--events", "40000", "--days", "95", "--users", "400", "--tools", "40", "--seed", "3"}
	if err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatalf("seed: %v", err)
	}
	app := mustStartServe(t, o)
	base := app.URL()
	// An event made to break out of the page: it must show as text only.
	postEvent(t, base, map[string]any{"tool_name": xssTool, "status": "error", "error_type": xssTool,
		"error_message": xssMessage, "duration_ms": 7})
	testkit.Eventually(t, 10*time.Second, func() error {
		var res struct{ Count int }
		apiGet(t, base, "/analytics/errors?hours=2&tool="+url.QueryEscape(xssTool), &res)
		if res.Count != 1 {
			return fmt.Errorf("the XSS event is not stored yet")
		}
		return nil
	})
	// Claude Code's telemetry: the model requests of the Costs view, one
	// attributed to a skill whose name is markup.
	otlpReq := testkit.ClaudeCodeLogs(t, time.Now())
	sl := otlpReq.ResourceLogs[0].ScopeLogs[0]
	sl.LogRecords = append(sl.LogRecords, apiRequestRecord(xssTool, "req_xss", 0.0004))
	postOTLPLogs(t, base, otlpReq)
	testkit.Eventually(t, 10*time.Second, func() error {
		var costs analytics.CostsResponse
		apiGet(t, base, "/analytics/costs?days=1", &costs)
		if costs.Totals.Requests != 4 {
			return fmt.Errorf("%d model requests stored, want 4", costs.Totals.Requests)
		}
		return nil
	})
	testkit.WaitRolledUp(t, o.dbPath(), 10*time.Second) // and counted in the cards

	tb := b.newTab(t)
	charts := `["chart-timeseries", "chart-tools", "chart-status", "chart-dau", "chart-latency"]`

	t.Run("Loads", func(t *testing.T) {
		start := time.Now()
		tb.do(t, 30*time.Second, chromedp.Navigate(base+"/?range=30d#tools"))
		tb.waitState(t, 20*time.Second, "ready")
		t.Logf("dashboard drawn: %.0f ms after navigation start (wall %v)",
			evalAs[float64](t, tb, `window.trackskills.loadedMs`), time.Since(start).Round(time.Millisecond))
		if blank := evalAs[[]string](t, tb, fmt.Sprintf(canvasesDrawn, charts)); len(blank) > 0 {
			t.Errorf("charts not drawn: %v", blank)
		}
		var sum summaryTotals
		apiGet(t, base, "/analytics/summary?days=30", &sum)
		if card := evalAs[string](t, tb, `document.querySelector("#card-invocations .value").textContent`); digits(card) != fmt.Sprint(sum.Total) {
			t.Errorf("invocations card %q, want %d (the API's days=30)", card, sum.Total)
		}
		rows := evalAs[int](t, tb, `document.querySelectorAll("#errors tbody tr").length`)
		cohortRows := evalAs[int](t, tb, `document.querySelectorAll("#cohorts tbody tr").length`)
		if rows == 0 || cohortRows == 0 {
			t.Errorf("%d error rows and %d cohort rows, want some of each", rows, cohortRows)
		}
		screenshot(t, tb, "dashboard-desktop.png")
		tb.checkClean(t)
	})

	t.Run("XSSShownAsText", func(t *testing.T) {
		injected := `!!document.querySelector('img[src="x"]') || [...document.scripts].some(s => s.textContent.includes("alert"))`
		if evalAs[bool](t, tb, injected) {
			t.Error("the event's markup became elements of the page")
		}
		texts := evalAs[[]string](t, tb, `[...document.querySelectorAll("#errors tbody tr")].map(r => r.textContent)`)
		found := false
		for _, txt := range texts {
			if strings.Contains(txt, xssTool) && strings.Contains(txt, "</script><script>") {
				found = true
			}
		}
		if !found {
			t.Errorf("the XSS event is not shown as literal text in the errors table: %q", texts)
		}
		// The full message opens on click, still as text.
		evalAs[bool](t, tb, `(() => { [...document.querySelectorAll("#errors tbody tr")].find(r => r.textContent.includes("</script>")).querySelector(".msg").click(); return true })()`)
		time.Sleep(300 * time.Millisecond)
		if evalAs[bool](t, tb, injected) {
			t.Error("opening the message injected markup")
		}
		if !evalAs[bool](t, tb, `document.body.innerText.includes("</script><script>alert(2)</script>")`) {
			t.Error("the full message is not shown as text")
		}
		tb.do(t, 5*time.Second, chromedp.KeyEvent(kb.Escape)) // closes a dialog, if one opened
		tb.checkClean(t)                                      // an alert() would be reported here
	})

	t.Run("RangeChangesCallsAndNumbers", func(t *testing.T) {
		before := evalAs[int](t, tb, `window.trackskills.requests.length`)
		tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`button[data-range="7d"]`)))
		tb.waitState(t, 20*time.Second, "ready")
		reqs := evalAs[[]string](t, tb, fmt.Sprintf(`window.trackskills.requests.slice(%d)`, before))
		saw := false
		for _, r := range reqs {
			if strings.Contains(r, "/analytics/summary") && strings.Contains(r, "days=7") {
				saw = true
			}
		}
		if !saw {
			t.Errorf("after 7d the page called %v, want /analytics/summary?days=7", reqs)
		}
		var sum summaryTotals
		apiGet(t, base, "/analytics/summary?days=7", &sum)
		card := evalAs[string](t, tb, `document.querySelector("#card-invocations .value").textContent`)
		loc := evalAs[string](t, tb, `location.search`)
		pressed := evalAs[string](t, tb, `document.querySelector('button[data-range="7d"]').getAttribute("aria-pressed")`)
		if digits(card) != fmt.Sprint(sum.Total) {
			t.Errorf("invocations card %q after 7d, want %d", card, sum.Total)
		}
		if !strings.Contains(loc, "range=7d") || pressed != "true" {
			t.Errorf("URL %q, aria-pressed %q: want range=7d kept in the URL and the button pressed", loc, pressed)
		}
		tb.checkClean(t)
	})

	t.Run("ToolDetailOpensOnBarClick", func(t *testing.T) {
		var top []struct {
			ToolName string `json:"tool_name"`
		}
		apiGet(t, base, "/analytics/tools?days=7", &top)
		pt := evalAs[struct{ X, Y float64 }](t, tb, `(() => {
			const c = document.getElementById("chart-tools");
			c.scrollIntoView({block: "center"});
			const bar = Chart.getChart(c).getDatasetMeta(0).data[0];
			const r = c.getBoundingClientRect();
			return {x: r.left + (bar.x + bar.base) / 2, y: r.top + bar.y};
		})()`)
		tb.do(t, 10*time.Second, chromedp.MouseClickXY(pt.X, pt.Y))
		tb.do(t, 10*time.Second, chromedp.WaitVisible(chromedp.CSS(`#tool-detail[open]`)))
		testkit.Eventually(t, 10*time.Second, func() error {
			name := evalAs[string](t, tb, `document.getElementById("tool-detail-name").textContent`)
			blank := evalAs[[]string](t, tb, fmt.Sprintf(canvasesDrawn, `["chart-detail"]`))
			if strings.TrimSpace(name) != top[0].ToolName || len(blank) > 0 {
				return fmt.Errorf("detail shows %q (blank charts %v), want %q drawn", name, blank, top[0].ToolName)
			}
			return nil
		})
		if loc := evalAs[string](t, tb, `location.search`); !strings.Contains(loc, "detail=") {
			t.Errorf("URL %q does not name the open detail", loc)
		}
		tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#tool-detail-close`)),
			chromedp.WaitNotPresent(chromedp.CSS(`#tool-detail[open]`)))
		tb.checkClean(t)
	})

	t.Run("LiveShowsANewEventWithin2s", func(t *testing.T) {
		tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#live-toggle`)))
		testkit.Eventually(t, 10*time.Second, func() error {
			status := strings.ToLower(evalAs[string](t, tb, `document.getElementById("live-status").textContent`))
			if !strings.Contains(status, "connected") || strings.Contains(status, "reconnect") {
				return fmt.Errorf("live status %q", status)
			}
			return nil
		})
		name := fmt.Sprintf("live-check-%d", time.Now().UnixNano())
		sent := time.Now()
		postEvent(t, base, map[string]any{"tool_name": name, "status": "success", "duration_ms": 42})
		for {
			text := evalAs[string](t, tb, `document.getElementById("live-feed").textContent`)
			if strings.Contains(text, name) {
				t.Logf("live: event shown %v after its POST", time.Since(sent).Round(time.Millisecond))
				break
			}
			if time.Since(sent) > 2*time.Second {
				t.Fatalf("the live feed did not show %s within 2 s: %q", name, text)
			}
			time.Sleep(20 * time.Millisecond)
		}
		tb.do(t, 10*time.Second, chromedp.Click(chromedp.CSS(`#live-toggle`)))
		tb.checkClean(t)
	})

	t.Run("Phone375AndDark", func(t *testing.T) {
		tb.do(t, 20*time.Second,
			chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			chromedp.Navigate(base+"/?range=30d#tools"))
		tb.waitState(t, 20*time.Second, "ready")
		w := evalAs[struct{ Scroll, Inner int }](t, tb, `({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})`)
		if w.Scroll > w.Inner || w.Inner != 375 {
			t.Errorf("at %d px wide the page is %d px wide: horizontal scroll", w.Inner, w.Scroll)
		}
		screenshot(t, tb, "dashboard-phone.png")
		tb.do(t, 20*time.Second, darkMode(true), chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/?range=90d#tools"))
		tb.waitState(t, 20*time.Second, "ready")
		if bg := evalAs[string](t, tb, `getComputedStyle(document.body).backgroundColor`); !isDark(bg) {
			t.Errorf("dark mode background %q is not dark", bg)
		}
		screenshot(t, tb, "dashboard-dark.png")
		tb.do(t, 5*time.Second, darkMode(false))
		tb.checkClean(t)
	})

	testToolsView(t, b, base)
	testSkillsView(t, b, base)
	testMCPView(t, b, base)
	testPortfolioView(t, b, base)
	testCostsView(t, b, base)
	testViewTabs(t, b, base)
}

func TestDashboard_EmptyAndKeys(t *testing.T) {
	b := newBrowser(t)
	o := serveOptions(t)
	o.readKeys = "s3cret-read-key"
	app := mustStartServe(t, o)
	base := app.URL()
	tb := b.newTab(t)

	tb.do(t, 20*time.Second, chromedp.Navigate(base+"/#tools"))
	tb.waitState(t, 20*time.Second, "needs-key")
	tb.do(t, 10*time.Second, chromedp.WaitVisible(chromedp.CSS(`#key-dialog[open]`)),
		chromedp.SendKeys(chromedp.CSS(`#key-input`), "wrong-key"),
		chromedp.Click(chromedp.CSS(`#key-submit`)))
	tb.waitState(t, 20*time.Second, "needs-key")
	testkit.Eventually(t, 10*time.Second, func() error {
		msg := evalAs[string](t, tb, `document.getElementById("key-message").textContent`)
		if !strings.Contains(strings.ToLower(msg), "refused") {
			return fmt.Errorf("key message %q does not say the key was refused", msg)
		}
		return nil
	})
	evalAs[string](t, tb, `document.getElementById("key-input").value = ""`)
	tb.do(t, 10*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#key-dialog[open]`)),
		chromedp.SendKeys(chromedp.CSS(`#key-input`), "s3cret-read-key"),
		chromedp.Click(chromedp.CSS(`#key-submit`)))
	tb.waitState(t, 20*time.Second, "empty")
	guide := evalAs[string](t, tb, `document.getElementById("empty-state").innerText`)
	for _, want := range []string{"curl", base + "/api/track", "trackskills hook install"} {
		if !strings.Contains(guide, want) {
			t.Errorf("empty-state guide lacks %q:\n%s", want, guide)
		}
	}
	// The key is kept: a reload goes straight to the data.
	tb.do(t, 20*time.Second, chromedp.Reload())
	tb.waitState(t, 20*time.Second, "empty")
	// The browser logs the refused requests (401); nothing else may be reported.
	tb.mu.Lock()
	var rest []string
	for _, p := range tb.problems {
		if !strings.Contains(p, "401") {
			rest = append(rest, p)
		}
	}
	tb.problems = rest
	tb.mu.Unlock()
	tb.checkClean(t)
}

// digits keeps the digits of a formatted number ("12,345" -> "12345").
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isDark reports whether a CSS rgb()/rgba() colour is dark.
func isDark(css string) bool {
	var r, g, b int
	if _, err := fmt.Sscanf(strings.Replace(css, "rgba", "rgb", 1), "rgb(%d, %d, %d", &r, &g, &b); err != nil {
		return false
	}
	return r+g+b < 3*100
}

// TestDashboard_LoadTime measures how long the dashboard takes to be fully
// drawn (every chart and table) over a large seeded data dir, for
// BENCHMARKS.md: bash bench/dashboard.sh <data-dir>. It is skipped unless
// TRACKSKILLS_BENCH_DATA_DIR names the data dir; it reports, never asserts.
func TestDashboard_LoadTime(t *testing.T) {
	dir := os.Getenv("TRACKSKILLS_BENCH_DATA_DIR")
	if dir == "" {
		t.Skip("set TRACKSKILLS_BENCH_DATA_DIR to a seeded data dir (bench/dashboard.sh)")
	}
	b := newBrowser(t)
	o := serveOptions(t)
	o.dataDir = dir
	app := mustStartServe(t, o)
	tb := b.newTab(t)
	const loads = 7
	for _, r := range []string{"24h", "7d", "30d", "90d"} {
		var ms []float64
		for i := 0; i < loads; i++ {
			tb.do(t, 60*time.Second, chromedp.Navigate(app.URL()+"/?range="+r+"#tools"))
			tb.waitState(t, 60*time.Second, "ready")
			ms = append(ms, evalAs[float64](t, tb, `window.trackskills.loadedMs`))
		}
		first := ms[0]
		slices.Sort(ms)
		t.Logf("range %-3s fully drawn: first load %4.0f ms; of %d loads min %4.0f, median %4.0f, max %4.0f ms",
			r, first, loads, ms[0], ms[len(ms)/2], ms[len(ms)-1])
	}
	tb.checkClean(t)
}

// Ensure the page shows a count of users that --min-group-size hides as
// the API's text ("fewer than 3"), never NaN, 0 or a dash, and that an
// exact total beside it stays a number.
func TestDashboard_MinGroupSize(t *testing.T) {
	b := newBrowser(t)
	o := serveOptions(t)
	o.minGroupSize = 3
	app := mustStartServe(t, o)
	base := app.URL()
	for _, user := range []string{"solo", "crowd-1", "crowd-2", "crowd-3"} {
		tool := "crowd"
		if user == "solo" {
			tool = "solo"
		}
		postEvent(t, base, map[string]any{"tool_name": tool, "status": "success", "duration_ms": 5, "user_id": user})
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		var sum summaryTotals
		apiGet(t, base, "/analytics/summary?days=7", &sum)
		if sum.Total != 4 {
			return fmt.Errorf("%d of 4 events stored", sum.Total)
		}
		return nil
	})

	tb := b.newTab(t)
	users := `document.querySelector("#card-users .value").textContent`
	tb.do(t, 20*time.Second, chromedp.Navigate(base+"/?range=7d#tools"))
	tb.waitState(t, 20*time.Second, "ready")
	if got, want := evalAs[string](t, tb, users), "4"; got != want {
		t.Errorf("users card of every tool %q, want %q", got, want)
	}
	tb.do(t, 20*time.Second, chromedp.Navigate(base+"/?range=7d&tool=solo&detail=solo#tools"))
	tb.waitState(t, 20*time.Second, "ready")
	if got, want := evalAs[string](t, tb, users), "fewer than 3"; got != want {
		t.Errorf("users card of tool solo %q, want %q", got, want)
	}
	if note := evalAs[string](t, tb, `document.getElementById("dau-note").textContent`); note != "WAU fewer than 3 · MAU fewer than 3" {
		t.Errorf("DAU note %q, want WAU and MAU hidden", note)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		stat := evalAs[string](t, tb, `[...document.querySelectorAll("#tool-detail-stats div")].find(d => d.querySelector("dt").textContent === "Users")?.querySelector("dd").textContent || ""`)
		if stat != "fewer than 3" {
			return fmt.Errorf("tool detail users %q, want %q", stat, "fewer than 3")
		}
		return nil
	})
	tb.checkClean(t)
}
