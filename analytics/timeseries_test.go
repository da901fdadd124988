package analytics_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

func TestServer_Timeseries(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, goldenEvents())
	e := newRouter(t, db.Path(), analytics.Config{})

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
