package analytics_test

import (
	"bytes"
	"testing"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

func TestServer_Categories(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, goldenEvents())
	e := newRouter(t, db.Path(), analytics.Config{})
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
