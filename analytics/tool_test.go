package analytics_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

func TestServer_Tool(t *testing.T) {
	db := testkit.MustOpenDB(t)
	evs := append(goldenEvents(),
		event("s1", dayAt(1).Add(time.Hour), "a/b 100%", "paths", trackskills.StatusSuccess, 10, "user-z"))
	testkit.MustWriteBatch(t, db, evs)
	e := newRouter(t, db.Path(), analytics.Config{})

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
			rec := get(e, target)
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
