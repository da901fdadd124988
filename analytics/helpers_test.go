package analytics_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/testkit"
)

// testNow is the fixed clock of the tests: not on an hour boundary, so that
// windows start before it.
var testNow = time.Date(2026, 2, 9, 21, 37, 12, 345_000_000, time.UTC)

// newRouter serves the analytics API of the database at path, opened
// read-only, on the product's echo (httpapi.NewEcho) with the fixed clock.
func newRouter(tb testing.TB, path string, cfg analytics.Config) *echo.Echo {
	tb.Helper()
	srv := analytics.New(cfg, testkit.MustOpenReadOnly(tb, path), slog.New(slog.DiscardHandler))
	srv.Now = func() time.Time { return testNow }
	e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
	if err := srv.Register(e); err != nil {
		tb.Fatal(err)
	}
	return e
}

// errorBody is the body of every error answer.
type errorBody = httpapi.ErrorBody

// errorHandler is the product's error mapping, for routers built by hand.
var errorHandler = httpapi.ErrorHandler(slog.New(slog.DiscardHandler))

// get sends a GET with the given header pairs (name, value, ...).
func get(e *echo.Echo, target string, header ...string) *httptest.ResponseRecorder {
	return testkit.Serve(e, http.MethodGet, target, header...)
}

// mustGetJSON GETs target, expects a 200 and decodes the body into v.
func mustGetJSON(tb testing.TB, e *echo.Echo, target string, v any) []byte {
	tb.Helper()
	rec := get(e, target)
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET %s: status=%d, want 200; body %s", target, rec.Code, rec.Body)
	}
	body := rec.Body.Bytes()
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			tb.Fatalf("GET %s: decode %s: %v", target, body, err)
		}
	}
	return body
}

func i64(n int64) *int64 { return &n }

// event returns a stored event; dur < 0 means no duration_ms.
func event(id string, ts time.Time, tool, category, status string, dur int64, user string) trackskills.Event {
	ev := trackskills.Event{
		EventID: id, ToolName: tool, ToolCategory: category, Status: status,
		Timestamp: ts.UnixMilli(), ReceivedAt: ts.UnixMilli(), UserHash: user, Source: trackskills.DefaultSource,
	}
	if dur >= 0 {
		ev.DurationMs = i64(dur)
	}
	return ev
}

// urlQuery escapes a query parameter value.
func urlQuery(s string) string { return url.QueryEscape(s) }

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

// checkBad expects a 400 naming field.
func checkBad(t *testing.T, e *echo.Echo, target, field string) {
	t.Helper()
	rec := get(e, target)
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusBadRequest || body.Field != field || body.Error == "" {
		t.Errorf("GET %s: %d %s, want 400 naming %s", target, rec.Code, rec.Body, field)
	}
}

func jsonString(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return string(b)
}
