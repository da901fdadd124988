package analytics_test

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// stored is a distinct event as the brute force sees it: the first write
// of each event_id, with its insertion order (the table's id).
type stored struct {
	trackskills.Event
	seq int
}

// genEvents returns random batches as the consumer would write them:
// several tools (one with quotes and unicode), categories, statuses, 50
// users, timestamps over the 40 days before testNow, some without duration,
// some repeating an earlier event_id, some batches delivered twice.
func genEvents(r *rand.Rand, n int) [][]trackskills.Event {
	tools := []string{"query_data", "send_email", "search", quotedTool, "deploy", "lint"}
	cats := []string{"default", "analytics", "comm"}
	var all []trackskills.Event
	var batches [][]trackskills.Event
	var batch []trackskills.Event
	for i := range n {
		var ev trackskills.Event
		if len(all) > 0 && r.IntN(100) < 5 {
			ev = all[r.IntN(len(all))] // a duplicate event_id, same content
		} else {
			ts := testNow.Add(-time.Duration(1+r.Int64N(int64(40*24*time.Hour/time.Millisecond))) * time.Millisecond)
			tool := tools[r.IntN(len(tools))]
			if r.IntN(3) == 0 {
				tool = tools[0] // skewed, so that the order of the tools matters
			}
			status := trackskills.StatusSuccess
			switch x := r.IntN(100); {
			case x < 12:
				status = trackskills.StatusError
			case x < 18:
				status = trackskills.StatusTimeout
			}
			dur := int64(-1)
			switch x := r.IntN(100); {
			case x < 20: // no duration
			case x < 23:
				dur = 0
			default:
				dur = int64(math.Exp(r.Float64() * 12)) // 1 ms to ~160 s
			}
			ev = event(fmt.Sprintf("ev-%06d", i), ts, tool, cats[r.IntN(len(cats))], status, dur,
				fmt.Sprintf("user-%02d", r.IntN(50)))
			if status != trackskills.StatusSuccess {
				ev.ErrorType = []string{"", "internal", "network"}[r.IntN(3)]
				ev.ErrorMessage = []string{"", "boom", "Connection \"timeout\""}[r.IntN(3)]
			}
		}
		all = append(all, ev)
		batch = append(batch, ev)
		if len(batch) >= 1+r.IntN(400) || i == n-1 {
			batches = append(batches, batch)
			if r.IntN(5) == 0 {
				batches = append(batches, batch) // a redelivery of the whole batch
			}
			batch = nil
		}
	}
	return batches
}

// distinct returns the first write of each event_id, in insertion order.
func distinct(batches [][]trackskills.Event) []stored {
	seen := map[string]bool{}
	var out []stored
	for _, b := range batches {
		for _, ev := range b {
			if !seen[ev.EventID] {
				seen[ev.EventID] = true
				out = append(out, stored{ev, len(out)})
			}
		}
	}
	return out
}

// window is a query window as the API's window parameters define it:
// days=N runs from the start of the UTC day N-1 days before today to now,
// hours=N from the start of the hour N-1 hours ago to now (both ends in
// ms, To exclusive).
type window struct {
	query    string
	period   string
	from, to int64
}

func daysWindow(n int) window {
	start := testNow.Truncate(24*time.Hour).AddDate(0, 0, -(n - 1))
	return window{fmt.Sprintf("days=%d", n), fmt.Sprintf("%d days", n), start.UnixMilli(), testNow.UnixMilli() + 1}
}

func hoursWindow(n int) window {
	start := testNow.Truncate(time.Hour).Add(-time.Duration(n-1) * time.Hour)
	return window{fmt.Sprintf("hours=%d", n), fmt.Sprintf("%d hours", n), start.UnixMilli(), testNow.UnixMilli() + 1}
}

func day(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.DateOnly) }

// in reports whether ev is inside w.
func (w window) in(ev *stored) bool { return ev.Timestamp >= w.from && ev.Timestamp < w.to }

// inDays reports whether ev falls on a UTC day that w touches. Unique users
// are counted over whole UTC days, by design, also for hours windows: the
// per-user aggregates are daily (docs/CONTRACT.md, Storage), so hours=1
// counts the users of today (and of yesterday when the hour crosses
// midnight).
func (w window) inDays(ev *stored) bool {
	d := day(ev.Timestamp)
	return d >= day(w.from) && d <= day(w.to-1)
}

type expStats struct {
	invocations, successes, errors, timeouts int64
	durs                                     []int64
	users                                    map[string]bool
}

func (s *expStats) add(ev *stored) {
	s.invocations++
	switch ev.Status {
	case trackskills.StatusSuccess:
		s.successes++
	case trackskills.StatusError:
		s.errors++
	case trackskills.StatusTimeout:
		s.timeouts++
	}
	if ev.DurationMs != nil {
		s.durs = append(s.durs, *ev.DurationMs)
	}
}

func rate(part, total int64) string {
	if total == 0 {
		return "0.00"
	}
	return fmt.Sprintf("%.2f", 100*float64(part)/float64(total))
}

func (s *expStats) avg() int64 {
	if len(s.durs) == 0 {
		return 0
	}
	var sum int64
	for _, d := range s.durs {
		sum += d
	}
	return int64(math.Round(float64(sum) / float64(len(s.durs))))
}

// quantile is the exact nearest-rank q-quantile of the durations.
func (s *expStats) quantile(q float64) int64 {
	if len(s.durs) == 0 {
		return 0
	}
	d := slices.Clone(s.durs)
	slices.Sort(d)
	rank := max(1, int(math.Ceil(q*float64(len(d)))))
	return d[min(rank, len(d))-1]
}

func (s *expStats) max() int64 {
	if len(s.durs) == 0 {
		return 0
	}
	return slices.Max(s.durs)
}

// checkPct checks a percentile against the exact one: within the
// histogram's stated 5% relative error, or 1 ms, since the API reports
// whole milliseconds (the representative 16.59 of the bucket holding 16
// and 17 rounds to 17, 6.25% off 16), and equal when the exact one is 0.
func checkPct(t *testing.T, where, name string, got, exact int64) {
	t.Helper()
	if exact == 0 {
		if got != 0 {
			t.Errorf("%s: %s=%d, want 0", where, name, got)
		}
		return
	}
	if diff := math.Abs(float64(got - exact)); diff > max(0.05*float64(exact), 1) {
		t.Errorf("%s: %s=%d, exact %d: off by %.2f%%", where, name, got, exact, 100*diff/float64(exact))
	}
}

type filter struct {
	name, query   string
	tool, cat     string
	usersFiltered bool // false when unique_users ignores the filter
}

func (f filter) match(ev *stored) bool {
	return (f.tool == "" || ev.ToolName == f.tool) && (f.cat == "" || ev.ToolCategory == f.cat)
}

func TestProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(20260209, 3))
	batches := genEvents(r, 4000)
	db := testkit.MustOpenDB(t)
	written, ignored := 0, 0
	for _, b := range batches {
		res := testkit.MustWriteBatch(t, db, b)
		written, ignored = written+len(b), ignored+res.Ignored
	}
	evs := distinct(batches)
	// The generator must exercise what it claims: duplicates and
	// redeliveries were ignored, and the windows hold data.
	if got, want := ignored, written-len(evs); got != want || ignored < 100 {
		t.Fatalf("ignored=%d, want %d (and at least 100)", got, want)
	}
	t.Logf("%d events written in %d batches, %d distinct", written, len(batches), len(evs))
	e := newRouter(t, db.Path(), analytics.Config{})

	windows := []window{daysWindow(1), daysWindow(7), daysWindow(30), hoursWindow(1), hoursWindow(24), hoursWindow(168)}
	filters := []filter{
		{name: "all", usersFiltered: true},
		{name: "tool", query: "&tool=" + url.QueryEscape(quotedTool), tool: quotedTool, usersFiltered: true},
		{name: "tool2", query: "&tool=query_data", tool: "query_data", usersFiltered: true},
		// unique_users ignores the category: user aggregates have no
		// category (see the report); only the other numbers are checked.
		{name: "category", query: "&category=comm", cat: "comm"},
		{name: "nomatch", query: "&tool=nope", tool: "nope", usersFiltered: true},
	}
	for _, w := range windows {
		for _, f := range filters {
			t.Run(w.query+"/"+f.name, func(t *testing.T) {
				checkSummary(t, e, evs, w, f)
				checkTools(t, e, evs, w, f)
				checkErrors(t, e, evs, w, f, "", 50) // the default: errors only
				checkErrors(t, e, evs, w, f, "", 1000)
				checkErrors(t, e, evs, w, f, "timeout", 1000)
				checkErrors(t, e, evs, w, f, "error,timeout", 50)
				checkErrors(t, e, evs, w, f, "timeout,error", 1000)
			})
		}
		t.Run(w.query+"/retention", func(t *testing.T) { checkRetention(t, e, evs, w, "") })
		t.Run(w.query+"/retention/tool", func(t *testing.T) { checkRetention(t, e, evs, w, quotedTool) })
		t.Run(w.query+"/retention/tool2", func(t *testing.T) { checkRetention(t, e, evs, w, "query_data") })
	}
}

func checkSummary(t *testing.T, e *echo.Echo, evs []stored, w window, f filter) {
	t.Helper()
	var want expStats
	want.users = map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		if !f.match(ev) && f.usersFiltered {
			continue
		}
		if w.inDays(ev) {
			want.users[ev.UserHash] = true
		}
		if f.match(ev) && w.in(ev) {
			want.add(ev)
		}
	}
	var got analytics.SummaryResponse
	target := "/analytics/summary?" + w.query + f.query
	mustGetJSON(t, e, target, &got)
	exp := analytics.SummaryResponse{
		Period: w.period, TotalInvocations: want.invocations, UniqueUsers: analytics.GroupCount(len(want.users)),
		AvgDurationMs: want.avg(), SuccessRate: rate(want.successes, want.invocations),
		ErrorRate: rate(want.errors, want.invocations), TimeoutRate: rate(want.timeouts, want.invocations),
		MaxDurationMs: want.max(),
		// Percentiles are checked apart.
		P50DurationMs: got.P50DurationMs, P95DurationMs: got.P95DurationMs, P99DurationMs: got.P99DurationMs,
	}
	if !f.usersFiltered {
		// Users are kept per tool: with a category they are the users
		// of the tools seen in that category in the window's days.
		inCat, users := map[string]bool{}, map[string]bool{}
		for i := range evs {
			if ev := &evs[i]; w.inDays(ev) && ev.ToolCategory == f.cat {
				inCat[ev.ToolName] = true
			}
		}
		for i := range evs {
			if ev := &evs[i]; w.inDays(ev) && inCat[ev.ToolName] && (f.tool == "" || ev.ToolName == f.tool) {
				users[ev.UserHash] = true
			}
		}
		exp.UniqueUsers = analytics.GroupCount(len(users))
	}
	if got != exp {
		t.Errorf("GET %s:\n got  %+v\n want %+v", target, got, exp)
	}
	checkPct(t, target, "p50", got.P50DurationMs, want.quantile(0.50))
	checkPct(t, target, "p95", got.P95DurationMs, want.quantile(0.95))
	checkPct(t, target, "p99", got.P99DurationMs, want.quantile(0.99))
}

func checkTools(t *testing.T, e *echo.Echo, evs []stored, w window, f filter) {
	t.Helper()
	per := map[string]*expStats{}
	users := map[string]map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		if w.inDays(ev) {
			if users[ev.ToolName] == nil {
				users[ev.ToolName] = map[string]bool{}
			}
			users[ev.ToolName][ev.UserHash] = true
		}
		if f.match(ev) && w.in(ev) {
			if per[ev.ToolName] == nil {
				per[ev.ToolName] = &expStats{}
			}
			per[ev.ToolName].add(ev)
		}
	}
	names := make([]string, 0, len(per))
	for name := range per {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(per[b].invocations, per[a].invocations), cmp.Compare(a, b))
	})

	var got []analytics.ToolResponse
	target := "/analytics/tools?" + w.query + f.query
	mustGetJSON(t, e, target, &got)
	if len(got) != len(names) {
		t.Fatalf("GET %s: %d tools, want %d (%q)", target, len(got), len(names), names)
	}
	for i, name := range names {
		want, g := per[name], got[i]
		exp := analytics.ToolResponse{
			ToolName: name, Invocations: want.invocations, AvgDurationMs: want.avg(),
			SuccessRate: rate(want.successes, want.invocations), ErrorRate: rate(want.errors, want.invocations),
			TimeoutRate: rate(want.timeouts, want.invocations), UniqueUsers: analytics.GroupCount(len(users[name])),
			P50DurationMs: g.P50DurationMs, P95DurationMs: g.P95DurationMs, P99DurationMs: g.P99DurationMs,
		}
		if !f.usersFiltered {
			exp.UniqueUsers = g.UniqueUsers
		}
		if g != exp {
			t.Errorf("GET %s [%d]:\n got  %+v\n want %+v", target, i, g, exp)
		}
		where := fmt.Sprintf("%s [%s]", target, name)
		checkPct(t, where, "p50", g.P50DurationMs, want.quantile(0.50))
		checkPct(t, where, "p95", g.P95DurationMs, want.quantile(0.95))
		checkPct(t, where, "p99", g.P99DurationMs, want.quantile(0.99))
	}
}

func checkRetention(t *testing.T, e *echo.Echo, evs []stored, w window, tool string) {
	t.Helper()
	last := testNow.Truncate(24 * time.Hour)
	dau := map[string]map[string]bool{}
	wau, mau, all := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		if tool != "" && ev.ToolName != tool {
			continue
		}
		d := day(ev.Timestamp)
		if w.inDays(ev) {
			if dau[d] == nil {
				dau[d] = map[string]bool{}
			}
			dau[d][ev.UserHash] = true
			all[ev.UserHash] = true
		}
		if d <= day(last.UnixMilli()) && d >= day(last.AddDate(0, 0, -6).UnixMilli()) {
			wau[ev.UserHash] = true
		}
		if d <= day(last.UnixMilli()) && d >= day(last.AddDate(0, 0, -29).UnixMilli()) {
			mau[ev.UserHash] = true
		}
	}
	exp := analytics.RetentionResponse{
		DailyActiveUsers:  []analytics.DailyActiveUsers{},
		WeeklyActiveUsers: analytics.GroupCount(len(wau)), Period: w.period, MonthlyActive: analytics.GroupCount(len(mau)), UniqueUsers: analytics.GroupCount(len(all)),
	}
	for d := last; d.UnixMilli() >= w.from-int64(24*time.Hour/time.Millisecond)+1; d = d.AddDate(0, 0, -1) {
		if n := len(dau[day(d.UnixMilli())]); n > 0 {
			exp.DailyActiveUsers = append(exp.DailyActiveUsers, analytics.DailyActiveUsers{Date: day(d.UnixMilli()), DAU: analytics.GroupCount(n)})
		}
	}
	var got analytics.RetentionResponse
	target := "/analytics/retention?" + w.query
	if tool != "" {
		target += "&tool=" + url.QueryEscape(tool)
	}
	mustGetJSON(t, e, target, &got)
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", exp) {
		t.Errorf("GET %s:\n got  %+v\n want %+v", target, got, exp)
	}
}

// checkErrors compares /analytics/errors with status= set to statuses (a
// comma list; empty: the default, errors only) with the brute force.
func checkErrors(t *testing.T, e *echo.Echo, evs []stored, w window, f filter, statuses string, limit int) {
	t.Helper()
	want := []string{trackskills.StatusError}
	query := ""
	if statuses != "" {
		want, query = strings.Split(statuses, ","), "&status="+statuses
	}
	var fails []*stored
	for i := range evs {
		ev := &evs[i]
		if slices.Contains(want, ev.Status) && f.match(ev) && w.in(ev) {
			fails = append(fails, ev)
		}
	}
	slices.SortFunc(fails, func(a, b *stored) int {
		return cmp.Or(cmp.Compare(b.Timestamp, a.Timestamp), cmp.Compare(b.seq, a.seq))
	})
	fails = fails[:min(limit, len(fails))]
	exp := analytics.ErrorsResponse{Errors: []analytics.ErrorResponse{}, Count: len(fails)}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	for _, ev := range fails {
		exp.Errors = append(exp.Errors, analytics.ErrorResponse{
			Timestamp: time.UnixMilli(ev.Timestamp).UTC().Format("2006-01-02 15:04:05"), ToolName: ev.ToolName,
			ErrorType: opt(ev.ErrorType), ErrorMessage: opt(ev.ErrorMessage), DurationMs: ev.DurationMs,
			Status: ev.Status, ToolCategory: ev.ToolCategory, TimestampMs: ev.Timestamp,
		})
	}
	var got analytics.ErrorsResponse
	target := fmt.Sprintf("/analytics/errors?%s%s%s&limit=%d", w.query, f.query, query, limit)
	mustGetJSON(t, e, target, &got)
	if g, x := show(got), show(exp); g != x {
		t.Errorf("GET %s:\n got  %s\n want %s", target, g, x)
	}
}

// show prints an errors response with its pointers followed.
func show(r analytics.ErrorsResponse) string {
	s := fmt.Sprintf("count=%d", r.Count)
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return fmt.Sprintf("%q", *p)
	}
	for _, er := range r.Errors {
		dur := "<nil>"
		if er.DurationMs != nil {
			dur = fmt.Sprint(*er.DurationMs)
		}
		s += fmt.Sprintf("\n  %s %q %s %s %s %s %s %d", er.Timestamp, er.ToolName, str(er.ErrorType), str(er.ErrorMessage),
			dur, er.Status, er.ToolCategory, er.TimestampMs)
	}
	return s
}

// TestProperty_TimeseriesCategories compares timeseries and categories
// (and the size of an export) with a brute force over the random events
// of TestProperty.
func TestProperty_TimeseriesCategories(t *testing.T) {
	r := rand.New(rand.NewPCG(20260209, 7))
	batches := genEvents(r, 4000)
	db := testkit.MustOpenDB(t)
	for _, b := range batches {
		testkit.MustWriteBatch(t, db, b)
	}
	evs := distinct(batches)
	e := newRouter(t, db.Path(), analytics.Config{})

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
		rec := get(e, "/analytics/export.csv?days=30")
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
