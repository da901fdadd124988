package analytics_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
)

// histPct is the API's percentile of durations: the histogram's quantile
// in whole ms, for hand-checked figures.
func histPct(q float64, durs ...int64) int64 {
	var h trackskills.Histogram
	for _, d := range durs {
		h.Add(d)
	}
	return int64(h.Quantile(q) + 0.5)
}

func dayAt(daysAgo int) time.Time { return testNow.Truncate(24*time.Hour).AddDate(0, 0, -daysAgo) }

func TestTimeseries_Known(t *testing.T) {
	db, path := MustOpenDB(t)
	mustWrite(t, db, goldenEvents())
	e := newRouter(t, path, analytics.Config{})

	t.Run("Days", func(t *testing.T) {
		var got analytics.TimeseriesResponse
		body := mustGetJSON(t, e, "/analytics/timeseries?days=7", &got)
		if strings.Contains(string(body), `"tools"`) {
			t.Errorf("tools present without by=tool: %s", body)
		}
		if got.Interval != "day" || got.Period != "7 days" || len(got.Buckets) != 7 {
			t.Fatalf("interval=%q period=%q buckets=%d, want day, 7 days, 7", got.Interval, got.Period, len(got.Buckets))
		}
		b := func(daysAgo int) string { return dayAt(daysAgo).Format(time.RFC3339) }
		want := []analytics.Bucket{
			{Bucket: b(6), Invocations: 1, Successes: 1, P50DurationMs: histPct(0.5, 200), P95DurationMs: histPct(0.95, 200)},
			{Bucket: b(5), Invocations: 1, Errors: 1},
			{Bucket: b(4)},
			{Bucket: b(3)},
			{Bucket: b(2), Invocations: 2, Successes: 2, P50DurationMs: histPct(0.5, 40, 60), P95DurationMs: histPct(0.95, 40, 60)},
			{Bucket: b(1), Invocations: 2, Successes: 1, Errors: 1, P50DurationMs: histPct(0.5, 130, 250), P95DurationMs: histPct(0.95, 130, 250)},
			{Bucket: b(0), Invocations: 6, Successes: 4, Errors: 1, Timeouts: 1,
				P50DurationMs: histPct(0.5, 110, 95, 5000, 12, 30000), P95DurationMs: histPct(0.95, 110, 95, 5000, 12, 30000)},
		}
		if !slices.Equal(got.Buckets, want) {
			t.Errorf("buckets:\n got  %+v\n want %+v", got.Buckets, want)
		}
		if got, want := got.Buckets[0].Bucket, "2026-02-03T00:00:00Z"; got != want {
			t.Errorf("first bucket %s, want %s", got, want)
		}
	})

	t.Run("HoursByTool", func(t *testing.T) {
		var got analytics.TimeseriesResponse
		mustGetJSON(t, e, "/analytics/timeseries?hours=2&by=tool", &got)
		// testNow is 21:37: the buckets are 20:00 and 21:00 of today.
		h := func(hh int) string { return dayAt(0).Add(time.Duration(hh) * time.Hour).Format(time.RFC3339) }
		want := analytics.TimeseriesResponse{Interval: "hour", Period: "2 hours", Buckets: []analytics.Bucket{
			{Bucket: h(20), Invocations: 1, Successes: 1},
			{Bucket: h(21), Invocations: 2, Successes: 1, Timeouts: 1, P50DurationMs: histPct(0.5, 12, 30000), P95DurationMs: histPct(0.95, 12, 30000)},
		}, Tools: []analytics.ToolSeries{
			{ToolName: quotedTool, Buckets: []analytics.Bucket{
				{Bucket: h(20)},
				{Bucket: h(21), Invocations: 2, Successes: 1, Timeouts: 1, P50DurationMs: histPct(0.5, 12, 30000), P95DurationMs: histPct(0.95, 12, 30000)},
			}},
			{ToolName: "send_email", Buckets: []analytics.Bucket{{Bucket: h(20), Invocations: 1, Successes: 1}, {Bucket: h(21)}}},
		}}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("FilterAndEmpty", func(t *testing.T) {
		var got analytics.TimeseriesResponse
		mustGetJSON(t, e, "/analytics/timeseries?days=3&interval=hour&tool=search&by=tool", &got)
		if len(got.Buckets) != 2*24+22 {
			t.Fatalf("%d buckets, want %d", len(got.Buckets), 2*24+22)
		}
		var sum int64
		for _, b := range got.Buckets {
			sum += b.Invocations
		}
		if sum != 2 || len(got.Tools) != 1 || got.Tools[0].ToolName != "search" {
			t.Errorf("invocations=%d tools=%+v, want 2 and search only", sum, got.Tools)
		}
		body := mustGetJSON(t, e, "/analytics/timeseries?days=1&tool=nope&by=tool", nil)
		want := `{"interval":"day","period":"1 days","buckets":[{"bucket":"2026-02-09T00:00:00Z","invocations":0,"successes":0,"errors":0,"timeouts":0,"p50_duration_ms":0,"p95_duration_ms":0}],"tools":[]}`
		if got := string(bytes.TrimSpace(body)); got != want {
			t.Errorf("empty:\n got  %s\n want %s", got, want)
		}
	})

	t.Run("BadParams", func(t *testing.T) {
		for q, field := range map[string]string{
			"interval=week":          "interval",
			"by=category":            "by",
			"days=60&interval=hour":  "interval",
			"days=0":                 "days",
			"from=2026-01-01&to=now": "from",
		} {
			checkBad(t, e, "/analytics/timeseries?"+q, field)
		}
	})
}

// checkBad expects a 400 naming field.
func checkBad(t *testing.T, e *echo.Echo, target, field string) {
	t.Helper()
	rec := get(t, e, target)
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusBadRequest || body.Field != field || body.Error == "" {
		t.Errorf("GET %s: %d %s, want 400 naming %s", target, rec.Code, rec.Body, field)
	}
}

func TestToolDetail(t *testing.T) {
	db, path := MustOpenDB(t)
	evs := append(goldenEvents(),
		event("s1", dayAt(1).Add(time.Hour), "a/b 100%", "paths", trackskills.StatusSuccess, 10, "user-z"))
	mustWrite(t, db, evs)
	e := newRouter(t, path, analytics.Config{})

	t.Run("OK", func(t *testing.T) {
		var got analytics.ToolDetailResponse
		mustGetJSON(t, e, "/analytics/tools/query_data?days=7", &got)
		internal := "internal"
		days := make([]analytics.ToolDay, 7)
		for i := range days {
			days[i].Date = dayAt(6 - i).Format(time.DateOnly)
		}
		days[0].Invocations, days[0].Users = 1, 1
		days[0].P50DurationMs, days[0].P95DurationMs = histPct(0.5, 200), histPct(0.95, 200)
		days[5].Invocations, days[5].Users = 1, 1
		days[5].P50DurationMs, days[5].P95DurationMs = histPct(0.5, 130), histPct(0.95, 130)
		days[6].Invocations, days[6].Errors, days[6].Users = 3, 1, 2
		days[6].P50DurationMs, days[6].P95DurationMs = histPct(0.5, 110, 95, 5000), histPct(0.95, 110, 95, 5000)
		all := []int64{110, 95, 5000, 130, 200}
		want := analytics.ToolDetailResponse{
			ToolName: "query_data", Period: "7 days", Invocations: 5, SuccessRate: "80.00", ErrorRate: "20.00",
			TimeoutRate: "0.00", AvgDurationMs: 1107, P50DurationMs: histPct(0.5, all...), P95DurationMs: histPct(0.95, all...),
			P99DurationMs: histPct(0.99, all...), MaxDurationMs: 5000, UniqueUsers: 4,
			ErrorTypes: []analytics.ErrorTypeCount{{ErrorType: &internal, Count: 1}},
			Categories: []analytics.CategoryCount{{ToolCategory: "analytics", Invocations: 4}, {ToolCategory: "reports", Invocations: 1}},
			Daily:      days,
		}
		if g, w := jsonString(t, got), jsonString(t, want); g != w {
			t.Errorf("got  %s\nwant %s", g, w)
		}
	})

	t.Run("Unicode", func(t *testing.T) {
		for _, target := range []string{
			"/analytics/tools/" + url.PathEscape(quotedTool) + "?days=7",
			"/analytics/tool?days=7&name=" + url.QueryEscape(quotedTool),
		} {
			var got analytics.ToolDetailResponse
			mustGetJSON(t, e, target, &got)
			timeout := "timeout"
			if got.ToolName != quotedTool || got.Invocations != 3 || got.UniqueUsers != 2 || got.TimeoutRate != "33.33" ||
				jsonString(t, got.ErrorTypes) != jsonString(t, []analytics.ErrorTypeCount{{Count: 1}, {ErrorType: &timeout, Count: 1}}) {
				t.Errorf("GET %s: %s", target, jsonString(t, got))
			}
		}
	})

	t.Run("Slash", func(t *testing.T) {
		for _, target := range []string{
			"/analytics/tools/" + url.PathEscape("a/b 100%") + "?days=7",
			"/analytics/tools/a%2Fb%20100%25",
			"/analytics/tool?name=" + url.QueryEscape("a/b 100%"),
		} {
			var got analytics.ToolDetailResponse
			mustGetJSON(t, e, target, &got)
			if got.ToolName != "a/b 100%" || got.Invocations != 1 || len(got.Categories) != 1 || got.Categories[0].ToolCategory != "paths" {
				t.Errorf("GET %s: %s", target, jsonString(t, got))
			}
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		for _, target := range []string{
			"/analytics/tools/nope",
			"/analytics/tools/search?days=1", // events, but not in the window
			"/analytics/tools/query_data?days=7&category=comm",
		} {
			rec := get(t, e, target)
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusNotFound ||
				body.Success || !strings.Contains(body.Error, "no events") {
				t.Errorf("GET %s: %d %s, want 404 with an error", target, rec.Code, rec.Body)
			}
		}
		checkBad(t, e, "/analytics/tool", "name")
		checkBad(t, e, "/analytics/tools/search?hours=0", "hours")
	})
}

func jsonString(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func TestCategories_Known(t *testing.T) {
	db, path := MustOpenDB(t)
	mustWrite(t, db, goldenEvents())
	e := newRouter(t, path, analytics.Config{})
	var got []analytics.CategoryResponse
	mustGetJSON(t, e, "/analytics/categories?days=7", &got)
	want := []analytics.CategoryResponse{
		{ToolCategory: "analytics", Invocations: 4, Tools: 1, SuccessRate: "75.00", ErrorRate: "25.00", TimeoutRate: "0.00",
			AvgDurationMs: 1334, P50DurationMs: histPct(0.5, 110, 95, 5000, 130), P95DurationMs: histPct(0.95, 110, 95, 5000, 130)},
		{ToolCategory: "fun", Invocations: 3, Tools: 1, SuccessRate: "33.33", ErrorRate: "33.33", TimeoutRate: "33.33",
			AvgDurationMs: 15006, P50DurationMs: histPct(0.5, 12, 30000), P95DurationMs: histPct(0.95, 12, 30000)},
		{ToolCategory: "comm", Invocations: 2, Tools: 1, SuccessRate: "50.00", ErrorRate: "50.00", TimeoutRate: "0.00",
			AvgDurationMs: 250, P50DurationMs: histPct(0.5, 250), P95DurationMs: histPct(0.95, 250)},
		{ToolCategory: "default", Invocations: 2, Tools: 1, SuccessRate: "100.00", ErrorRate: "0.00", TimeoutRate: "0.00",
			AvgDurationMs: 50, P50DurationMs: histPct(0.5, 40, 60), P95DurationMs: histPct(0.95, 40, 60)},
		{ToolCategory: "reports", Invocations: 1, Tools: 1, SuccessRate: "100.00", ErrorRate: "0.00", TimeoutRate: "0.00",
			AvgDurationMs: 200, P50DurationMs: histPct(0.5, 200), P95DurationMs: histPct(0.95, 200)},
	}
	if g, w := jsonString(t, got), jsonString(t, want); g != w {
		t.Errorf("got  %s\nwant %s", g, w)
	}
	if body := string(bytes.TrimSpace(mustGetJSON(t, e, "/analytics/categories?days=7&tool=nope", nil))); body != `[]` {
		t.Errorf("no match: %s, want []", body)
	}
}

// TestMore_Property compares timeseries and categories with a brute
// force over the random events of TestProperty.
func TestMore_Property(t *testing.T) {
	r := rand.New(rand.NewPCG(20260209, 7))
	batches := genEvents(r, 4000)
	db, path := MustOpenDB(t)
	for _, b := range batches {
		mustWrite(t, db, b)
	}
	evs := distinct(batches)
	e := newRouter(t, path, analytics.Config{})

	windows := []window{daysWindow(1), daysWindow(7), daysWindow(30), hoursWindow(1), hoursWindow(24), hoursWindow(168)}
	filters := []filter{
		{name: "all"},
		{name: "tool", query: "&tool=" + url.QueryEscape(quotedTool), tool: quotedTool},
		{name: "category", query: "&category=comm", cat: "comm"},
		{name: "nomatch", query: "&tool=nope", tool: "nope"},
	}
	for _, w := range windows {
		for _, f := range filters {
			for _, interval := range []string{"hour", "day"} {
				t.Run(w.query+"/"+f.name+"/"+interval, func(t *testing.T) { checkTimeseries(t, e, evs, w, f, interval) })
			}
			t.Run(w.query+"/"+f.name+"/categories", func(t *testing.T) { checkCategories(t, e, evs, w, f) })
		}
	}
	t.Run("Export", func(t *testing.T) {
		w := daysWindow(30)
		var want int
		for i := range evs {
			if w.in(&evs[i]) {
				want++
			}
		}
		rec := get(t, e, "/analytics/export.csv?days=30")
		recs, err := csv.NewReader(rec.Body).ReadAll()
		if err != nil || len(recs) != want+1 || want < 2*1000 {
			t.Errorf("export: %d records (%v), want %d + header (over 2,000)", len(recs), err, want)
		}
	})
}

func checkTimeseries(t *testing.T, e *echo.Echo, evs []stored, w window, f filter, interval string) {
	t.Helper()
	step := int64(time.Hour / time.Millisecond)
	if interval == "day" {
		step *= 24
	}
	first, last := w.from/step*step, (w.to-1)/step*step
	total := map[int64]*expStats{}
	per := map[string]map[int64]*expStats{}
	count := map[string]int64{}
	for i := range evs {
		ev := &evs[i]
		if !f.match(ev) || !w.in(ev) {
			continue
		}
		b := ev.Timestamp / step * step
		if total[b] == nil {
			total[b] = &expStats{}
		}
		total[b].add(ev)
		if per[ev.ToolName] == nil {
			per[ev.ToolName] = map[int64]*expStats{}
		}
		if per[ev.ToolName][b] == nil {
			per[ev.ToolName][b] = &expStats{}
		}
		per[ev.ToolName][b].add(ev)
		count[ev.ToolName]++
	}
	var got analytics.TimeseriesResponse
	target := "/analytics/timeseries?" + w.query + f.query + "&by=tool&interval=" + interval
	mustGetJSON(t, e, target, &got)
	check := func(where string, bs []analytics.Bucket, want map[int64]*expStats) {
		if got, want := len(bs), int((last-first)/step+1); got != want {
			t.Fatalf("%s: %d buckets, want %d", where, got, want)
		}
		for i, b := range bs {
			start := first + int64(i)*step
			s := want[start]
			if s == nil {
				s = &expStats{}
			}
			exp := analytics.Bucket{Bucket: time.UnixMilli(start).UTC().Format(time.RFC3339), Invocations: s.invocations,
				Successes: s.successes, Errors: s.errors, Timeouts: s.timeouts, P50DurationMs: b.P50DurationMs, P95DurationMs: b.P95DurationMs}
			if b != exp {
				t.Errorf("%s [%d]:\n got  %+v\n want %+v", where, i, b, exp)
			}
			checkPct(t, where+" "+exp.Bucket, "p50", b.P50DurationMs, s.quantile(0.5))
			checkPct(t, where+" "+exp.Bucket, "p95", b.P95DurationMs, s.quantile(0.95))
		}
	}
	check(target, got.Buckets, total)
	names := make([]string, 0, len(count))
	for n := range count {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b)) })
	names = names[:min(10, len(names))]
	if len(got.Tools) != len(names) {
		t.Fatalf("%s: %d tool series, want %d", target, len(got.Tools), len(names))
	}
	for i, name := range names {
		if got.Tools[i].ToolName != name {
			t.Fatalf("%s: tool %d is %q, want %q", target, i, got.Tools[i].ToolName, name)
		}
		check(target+" "+name, got.Tools[i].Buckets, per[name])
	}
}

func checkCategories(t *testing.T, e *echo.Echo, evs []stored, w window, f filter) {
	t.Helper()
	per := map[string]*expStats{}
	tools := map[string]map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		if !f.match(ev) || !w.in(ev) {
			continue
		}
		if per[ev.ToolCategory] == nil {
			per[ev.ToolCategory], tools[ev.ToolCategory] = &expStats{}, map[string]bool{}
		}
		per[ev.ToolCategory].add(ev)
		tools[ev.ToolCategory][ev.ToolName] = true
	}
	names := make([]string, 0, len(per))
	for n := range per {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(per[b].invocations, per[a].invocations), cmp.Compare(a, b))
	})
	var got []analytics.CategoryResponse
	target := "/analytics/categories?" + w.query + f.query
	mustGetJSON(t, e, target, &got)
	if len(got) != len(names) {
		t.Fatalf("%s: %d categories, want %d", target, len(got), len(names))
	}
	for i, name := range names {
		s, g := per[name], got[i]
		exp := analytics.CategoryResponse{ToolCategory: name, Invocations: s.invocations, Tools: int64(len(tools[name])),
			SuccessRate: rate(s.successes, s.invocations), ErrorRate: rate(s.errors, s.invocations),
			TimeoutRate: rate(s.timeouts, s.invocations), AvgDurationMs: s.avg(),
			P50DurationMs: g.P50DurationMs, P95DurationMs: g.P95DurationMs}
		if g != exp {
			t.Errorf("%s [%d]:\n got  %+v\n want %+v", target, i, g, exp)
		}
		checkPct(t, target+" "+name, "p50", g.P50DurationMs, s.quantile(0.5))
		checkPct(t, target+" "+name, "p95", g.P95DurationMs, s.quantile(0.95))
	}
}

func TestCohorts(t *testing.T) {
	// testNow, 2026-02-09, is a Monday: weeks=4 gives the cohorts of the
	// weeks starting 01-19, 01-26, 02-02 and 02-09.
	if testNow.Weekday() != time.Monday {
		t.Fatalf("testNow is a %s; the expectations assume a Monday", testNow.Weekday())
	}
	db, path := MustOpenDB(t)
	at := func(date string) time.Time {
		d, err := time.Parse(time.DateOnly, date)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(30 * time.Minute)
	}
	var evs []trackskills.Event
	for user, days := range map[string][]string{
		"u1": {"2026-01-14", "2026-01-20"},               // first seen before the window
		"u2": {"2026-01-19", "2026-01-27", "2026-02-09"}, // cohort 01-19, W+1 and W+3
		"u3": {"2026-01-25", "2026-02-03"},               // a Sunday: cohort 01-19, W+2
		"u4": {"2026-01-21", "2026-02-04", "2026-02-05"}, // cohort 01-19, W+2
		"u5": {"2026-01-26", "2026-01-28", "2026-02-02"}, // cohort 01-26, W+1
		"u6": {"2026-02-09"},                             // cohort 02-09
	} {
		for i, d := range days {
			evs = append(evs, event(fmt.Sprintf("%s-%d", user, i), at(d), "t", "default", trackskills.StatusSuccess, 1, user))
		}
	}
	mustWrite(t, db, evs)
	e := newRouter(t, path, analytics.Config{})

	for _, tt := range []struct{ name, query, want string }{
		{"Weeks4", "weeks=4", `[{"week":"2026-01-19","users":3,"retention":[0.3333,0.6667,0.3333]},` +
			`{"week":"2026-01-26","users":1,"retention":[1,0]},{"week":"2026-02-02","users":0,"retention":[0]},` +
			`{"week":"2026-02-09","users":1,"retention":[]}]`},
		{"Weeks1", "weeks=1", `[{"week":"2026-02-09","users":1,"retention":[]}]`},
		// The window starts on Tuesday 01-27: its first Monday is 02-02.
		{"Days14", "days=14", `[{"week":"2026-02-02","users":0,"retention":[0]},{"week":"2026-02-09","users":1,"retention":[]}]`},
		{"FromTo", "from=2026-01-12T00:00:00Z&to=2026-02-01T00:00:00Z",
			`[{"week":"2026-01-12","users":1,"retention":[1,0]},{"week":"2026-01-19","users":3,"retention":[0.3333]},` +
				`{"week":"2026-01-26","users":1,"retention":[]}]`},
		{"NoMonday", "from=2026-01-27T00:00:00Z&to=2026-02-01T00:00:00Z", `[]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := string(bytes.TrimSpace(mustGetJSON(t, e, "/analytics/cohorts?"+tt.query, nil)))
			if got != tt.want {
				t.Errorf("GET cohorts?%s:\n got  %s\n want %s", tt.query, got, tt.want)
			}
		})
	}
	var def []analytics.CohortResponse
	mustGetJSON(t, e, "/analytics/cohorts", &def)
	if len(def) != 8 || def[0].Week != "2025-12-22" || len(def[0].Retention) != 7 {
		t.Errorf("default: %+v, want 8 weeks from 2025-12-22", def)
	}
	for q, field := range map[string]string{"weeks=0": "weeks", "weeks=27": "weeks", "weeks=x": "weeks", "weeks=2&days=7": "weeks", "days=400": "days"} {
		checkBad(t, e, "/analytics/cohorts?"+q, field)
	}
}

// exportEvents are events with every column set or empty, and a message
// that needs CSV quoting.
func exportEvents() []trackskills.Event {
	evs := goldenEvents()
	evs[2].ErrorMessage = "He said \"no\", then, well,\nleft — twice\n"
	evs[2].Metadata = json.RawMessage(`{"k":"v, \"x\"","n":[1,2]}`)
	evs[2].RequestSizeBytes, evs[2].ResponseSizeBytes = i64(120), i64(0)
	evs[2].SessionHash = "sess-1"
	evs[0].Source = "sdk"
	// Two events in the same millisecond keep their insertion order.
	evs[1].Timestamp = evs[0].Timestamp
	return evs
}

func csvRecord(ev *trackskills.Event) []string {
	opt := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	return []string{ev.EventID, time.UnixMilli(ev.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		ev.ToolName, ev.ToolCategory, ev.Status, opt(ev.DurationMs), ev.ErrorType, ev.ErrorMessage,
		opt(ev.RequestSizeBytes), opt(ev.ResponseSizeBytes), string(ev.Metadata), ev.Source, ev.UserHash, ev.SessionHash}
}

func TestExport(t *testing.T) {
	db, path := MustOpenDB(t)
	mustWrite(t, db, exportEvents())
	e := newRouter(t, path, analytics.Config{})
	stored, err := db.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(stored, func(a, b trackskills.Event) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
	// want returns the stored events of the last days days matching keep.
	want := func(days int, keep func(*trackskills.Event) bool) []trackskills.Event {
		from := dayAt(days - 1).UnixMilli()
		var out []trackskills.Event
		for _, ev := range stored {
			if ev.Timestamp >= from && keep(&ev) {
				out = append(out, ev)
			}
		}
		return out
	}
	all := func(*trackskills.Event) bool { return true }
	header := "event_id,timestamp,tool_name,tool_category,status,duration_ms,error_type,error_message," +
		"request_size_bytes,response_size_bytes,metadata,source,user_id_hash,session_hash"

	t.Run("CSV", func(t *testing.T) {
		for _, tt := range []struct {
			name, query string
			want        []trackskills.Event
		}{
			{"Days7", "days=7", want(7, all)},
			{"Default", "", want(7, all)},
			{"Days30", "days=30", want(30, all)},
			{"Filtered", "days=30&status=error&tool=query_data", want(30, func(ev *trackskills.Event) bool {
				return ev.Status == trackskills.StatusError && ev.ToolName == "query_data"
			})},
			{"Limit", "days=30&limit=3", want(30, all)[:3]},
			{"Category", "days=30&category=fun", want(30, func(ev *trackskills.Event) bool { return ev.ToolCategory == "fun" })},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rec := get(t, e, "/analytics/export.csv?"+tt.query)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				if got, want := rec.Header().Get("Content-Type"), "text/csv; charset=utf-8"; got != want {
					t.Errorf("content type %q, want %q", got, want)
				}
				if got, want := rec.Header().Get("Content-Disposition"), `attachment; filename="trackskills-events.csv"`; got != want {
					t.Errorf("content disposition %q, want %q", got, want)
				}
				recs, err := csv.NewReader(rec.Body).ReadAll()
				if err != nil {
					t.Fatalf("parse CSV: %v", err)
				}
				if got := strings.Join(recs[0], ","); got != header {
					t.Errorf("header %s, want %s", got, header)
				}
				exp := [][]string{}
				for i := range tt.want {
					exp = append(exp, csvRecord(&tt.want[i]))
				}
				if len(exp) == 0 {
					t.Fatal("the case has no events")
				}
				if !slices.EqualFunc(recs[1:], exp, slices.Equal) {
					t.Errorf("records:\n got  %q\n want %q", recs[1:], exp)
				}
			})
		}
	})

	t.Run("NDJSON", func(t *testing.T) {
		rec := get(t, e, "/analytics/export.ndjson?days=30")
		if got, want := rec.Header().Get("Content-Type"), "application/x-ndjson"; rec.Code != http.StatusOK || got != want {
			t.Fatalf("status %d content type %q, want 200 %q", rec.Code, got, want)
		}
		if got, want := rec.Header().Get("Content-Disposition"), `attachment; filename="trackskills-events.ndjson"`; got != want {
			t.Errorf("content disposition %q, want %q", got, want)
		}
		exp := want(30, all)
		sc := bufio.NewScanner(rec.Body)
		i := 0
		for ; sc.Scan(); i++ {
			var got struct {
				analytics.ExportEvent
				Metadata json.RawMessage `json:"metadata"`
			}
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("line %d: %v: %s", i+1, err, sc.Bytes())
			}
			if i >= len(exp) {
				t.Fatalf("more lines than the %d events", len(exp))
			}
			ev := &exp[i]
			str := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			gotRec := []string{got.EventID, got.Timestamp, got.ToolName, got.ToolCategory, got.Status, opt64(got.DurationMs),
				str(got.ErrorType), str(got.ErrorMessage), opt64(got.RequestSizeBytes), opt64(got.ResponseSizeBytes), "",
				got.Source, got.UserIDHash, str(got.SessionHash)}
			if string(got.Metadata) != "null" {
				gotRec[10] = string(got.Metadata)
			}
			if w := csvRecord(ev); !slices.Equal(gotRec, w) {
				t.Errorf("line %d:\n got  %q\n want %q", i+1, gotRec, w)
			}
			if (ev.ErrorType == "") != (got.ErrorType == nil) || (ev.DurationMs == nil) != (got.DurationMs == nil) {
				t.Errorf("line %d: absent values must be null: %s", i+1, sc.Bytes())
			}
		}
		if err := sc.Err(); err != nil || i != len(exp) {
			t.Errorf("%d lines (%v), want %d", i, err, len(exp))
		}
	})

	t.Run("Empty", func(t *testing.T) {
		for target, want := range map[string]string{
			"/analytics/export.csv?days=7&tool=nope":                                     header + "\n",
			"/analytics/export.ndjson?days=7&tool=nope":                                  "",
			"/analytics/export.csv?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z":    header + "\n",
			"/analytics/export.ndjson?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z": "",
			"/analytics/export.ndjson?hours=1&status=timeout&category=comm":              "",
		} {
			rec := get(t, e, target)
			body, _ := io.ReadAll(rec.Body) // a recorder's body does not fail
			if rec.Code != http.StatusOK || string(body) != want {
				t.Errorf("GET %s: %d %q, want 200 %q", target, rec.Code, body, want)
			}
		}
	})

	t.Run("BadParams", func(t *testing.T) {
		for q, field := range map[string]string{
			"limit=0": "limit", "limit=1000001": "limit", "limit=x": "limit", "status=ok": "status", "days=366": "days",
		} {
			checkBad(t, e, "/analytics/export.csv?"+q, field)
			checkBad(t, e, "/analytics/export.ndjson?"+q, field)
		}
	})
}

func opt64(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}
