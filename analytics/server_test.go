package analytics_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

var seedTargets = []string{
	"/analytics/summary?days=7",
	"/analytics/tools?days=7",
	"/analytics/retention?days=30",
	"/analytics/errors?days=7&limit=50",
}

func TestServer_Empty(t *testing.T) {
	path := testkit.MustOpenDB(t).Path()
	e := newRouter(t, path, analytics.Config{})

	t.Run("Summary", func(t *testing.T) {
		for _, q := range []string{"days=7", "hours=1", "days=365", "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"} {
			var got analytics.SummaryResponse
			mustGetJSON(t, e, "/analytics/summary?"+q, &got)
			got.Period = ""
			want := analytics.SummaryResponse{SuccessRate: "0.00", ErrorRate: "0.00", TimeoutRate: "0.00"}
			if got != want {
				t.Errorf("%s: got %+v, want %+v", q, got, want)
			}
		}
	})
	// Arrays are [], never null: the seed's dashboard iterates them.
	for _, tt := range []struct {
		name, target, want string
	}{
		{"Tools", "/analytics/tools?days=7", `[]`},
		{"Retention", "/analytics/retention?days=30",
			`{"daily_active_users":[],"weekly_active_users":0,"period":"30 days","monthly_active_users":0,"unique_users":0}`},
		{"Errors", "/analytics/errors?days=7&limit=50", `{"errors":[],"count":0}`},
		{"ErrorsHours", "/analytics/errors?hours=168&status=timeout", `{"errors":[],"count":0}`},
		{"ToolsHours", "/analytics/tools?hours=24&tool=x", `[]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := mustGetJSON(t, e, tt.target, nil)
			if got := string(bytes.TrimSpace(body)); got != tt.want {
				t.Errorf("GET %s:\n got  %s\n want %s", tt.target, got, tt.want)
			}
		})
	}
}

func TestServer_NoDataInWindow(t *testing.T) {
	db := testkit.MustOpenDB(t)
	old := testNow.AddDate(0, 0, -20)
	testkit.MustWriteBatch(t, db, []trackskills.Event{
		event("n1", old, "query_data", "default", trackskills.StatusError, 100, "user-a"),
		event("n2", old, "query_data", "default", trackskills.StatusSuccess, 100, "user-b"),
	})
	e := newRouter(t, db.Path(), analytics.Config{})

	var sum analytics.SummaryResponse
	mustGetJSON(t, e, "/analytics/summary?days=7", &sum)
	if want := (analytics.SummaryResponse{Period: "7 days", SuccessRate: "0.00", ErrorRate: "0.00", TimeoutRate: "0.00"}); sum != want {
		t.Errorf("summary: got %+v, want %+v", sum, want)
	}
	for target, want := range map[string]string{
		"/analytics/tools?days=7":     `[]`,
		"/analytics/errors?days=7":    `{"errors":[],"count":0}`,
		"/analytics/retention?days=7": `{"daily_active_users":[],"weekly_active_users":0,"period":"7 days","monthly_active_users":2,"unique_users":0}`,
	} {
		if got := string(bytes.TrimSpace(mustGetJSON(t, e, target, nil))); got != want {
			t.Errorf("GET %s:\n got  %s\n want %s", target, got, want)
		}
	}
	mustGetJSON(t, e, "/analytics/summary?days=30", &sum)
	if sum.TotalInvocations != 2 || sum.UniqueUsers != 2 || sum.ErrorRate != "50.00" {
		t.Errorf("summary days=30: got %+v, want 2 invocations of 2 users, 50.00%% errors", sum)
	}
}

func TestServer_ToolFilter(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, []trackskills.Event{
		event("q1", testNow.Add(-time.Hour), quotedTool, "fun", trackskills.StatusSuccess, 10, "user-a"),
		event("q2", testNow.Add(-2*time.Hour), quotedTool, "fun", trackskills.StatusError, 30, "user-b"),
		event("q3", testNow.Add(-time.Hour), `say "hi"`, "fun", trackskills.StatusSuccess, 10, "user-c"),
		event("q4", testNow.Add(-time.Hour), "say", "fun", trackskills.StatusSuccess, 10, "user-c"),
	})
	e := newRouter(t, db.Path(), analytics.Config{})
	tool := url.QueryEscape(quotedTool)

	var sum analytics.SummaryResponse
	mustGetJSON(t, e, "/analytics/summary?days=1&tool="+tool, &sum)
	if sum.TotalInvocations != 2 || sum.UniqueUsers != 2 || sum.AvgDurationMs != 20 || sum.ErrorRate != "50.00" {
		t.Errorf("summary: got %+v, want 2 invocations, 2 users, avg 20, 50.00%% errors", sum)
	}
	var tools []analytics.ToolResponse
	mustGetJSON(t, e, "/analytics/tools?hours=24&tool="+tool, &tools)
	if len(tools) != 1 || tools[0].ToolName != quotedTool || tools[0].Invocations != 2 {
		t.Errorf("tools: got %+v, want only %q with 2 invocations", tools, quotedTool)
	}
	var errs analytics.ErrorsResponse
	mustGetJSON(t, e, "/analytics/errors?days=1&tool="+tool, &errs)
	if errs.Count != 1 || errs.Errors[0].ToolName != quotedTool {
		t.Errorf("errors: got %+v, want the one error of %q", errs, quotedTool)
	}
	// The name must come back byte for byte, quotes escaped as JSON.
	body := mustGetJSON(t, e, "/analytics/tools?days=1&tool="+tool, nil)
	name, _ := json.Marshal(quotedTool)
	if !bytes.Contains(body, name) {
		t.Errorf("body %s does not hold %s", body, name)
	}
}

func TestServer_BadParams(t *testing.T) {
	path := testkit.MustOpenDB(t).Path()
	e := newRouter(t, path, analytics.Config{})

	for _, tt := range []struct {
		name, query, field string
	}{
		{"DaysZero", "days=0", "days"},
		{"Days366", "days=366", "days"},
		{"DaysAbc", "days=abc", "days"},
		{"DaysNegative", "days=-1", "days"},
		{"DaysFraction", "days=1.5", "days"},
		{"HoursZero", "hours=0", "hours"},
		{"Hours169", "hours=169", "hours"},
		{"DaysAndHours", "days=7&hours=24", "days"},
		{"DaysAndFrom", "days=7&from=2026-02-01T00:00:00Z", "days"},
		{"FromAfterTo", "from=2026-02-09T00:00:00Z&to=2026-02-01T00:00:00Z", "to"},
		{"FromEqualsTo", "from=2026-02-09T00:00:00Z&to=2026-02-09T00:00:00Z", "to"},
		{"BadFrom", "from=2026-02-09", "from"},
		{"BadTo", "from=2026-02-01T00:00:00Z&to=yesterday", "to"},
		{"OnlyTo", "to=2026-02-01T00:00:00Z", "from"},
		{"TooLong", "from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []string{"/analytics/summary", "/analytics/tools", "/analytics/retention", "/analytics/errors"} {
				checkBadParam(t, get(e, p+"?"+tt.query), p+"?"+tt.query, tt.field)
			}
		})
	}
	for _, tt := range []struct {
		name, query, field string
	}{
		{"LimitZero", "limit=0", "limit"},
		{"LimitAbc", "limit=abc", "limit"},
		{"Limit1001", "limit=1001", "limit"},
		{"StatusBogus", "status=bogus", "status"},
		{"StatusSuccess", "status=success", "status"},
		{"StatusAll", "status=all", "status"},
		{"StatusListWithSuccess", "status=error,success", "status"},
		{"StatusEmptyItem", "status=error,", "status"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := "/analytics/errors?days=7&" + tt.query
			checkBadParam(t, get(e, target), target, tt.field)
		})
	}
	// Users are kept per tool, not per category: retention refuses it.
	t.Run("RetentionCategory", func(t *testing.T) {
		target := "/analytics/retention?days=7&category=comm"
		checkBadParam(t, get(e, target), target, "category")
	})
}

func checkBadParam(t *testing.T, rec interface {
	Result() *http.Response
}, target, field string) {
	t.Helper()
	res := rec.Result()
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: decode: %v", target, err)
	}
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("GET %s: status=%d, want 400; body %v", target, res.StatusCode, body)
	}
	if got, want := body["field"], field; got != want {
		t.Errorf("GET %s: field=%v, want %q; body %v", target, got, want, body)
	}
	if msg, _ := body["error"].(string); msg == "" || body["success"] != false {
		t.Errorf("GET %s: body %v, want success false and a message", target, body)
	}
}

func TestServer_ReadKeys(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, goldenEvents())
	e := newRouter(t, db.Path(), analytics.Config{ReadKeys: []string{"rk", "other-key"}})

	for _, tt := range []struct {
		name   string
		header []string
		want   int
	}{
		{"NoKey", nil, http.StatusUnauthorized},
		{"WrongKey", []string{"X-Api-Key", "nope"}, http.StatusUnauthorized},
		{"PrefixOfKey", []string{"X-Api-Key", "r"}, http.StatusUnauthorized},
		{"WrongBearer", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized},
		{"BasicAuth", []string{"Authorization", "Basic cms6"}, http.StatusUnauthorized},
		{"EmptyBearer", []string{"Authorization", "Bearer "}, http.StatusUnauthorized},
		{"ApiKey", []string{"x-api-key", "rk"}, http.StatusOK},
		{"OtherKey", []string{"x-api-key", "other-key"}, http.StatusOK},
		{"Bearer", []string{"Authorization", "Bearer rk"}, http.StatusOK},
		{"BearerLower", []string{"Authorization", "bearer rk"}, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range seedTargets {
				rec := get(e, target, tt.header...)
				if rec.Code != tt.want {
					t.Errorf("GET %s with %q: status=%d, want %d; body %s", target, tt.header, rec.Code, tt.want, rec.Body)
				}
			}
		})
	}
}

func TestServer_CORS(t *testing.T) {
	path := testkit.MustOpenDB(t).Path()
	e := newRouter(t, path, analytics.Config{ReadKeys: []string{"rk"}, AllowOrigins: []string{"https://dash.example"}})

	preflight := func(origin string) http.Header {
		rec := testkit.Serve(e, http.MethodOptions, "/analytics/summary?days=7",
			"Origin", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-api-key")
		if rec.Code >= 300 && origin == "https://dash.example" {
			t.Errorf("preflight from %s: status=%d, want 2xx", origin, rec.Code)
		}
		return rec.Header()
	}
	t.Run("AllowedOrigin", func(t *testing.T) {
		h := preflight("https://dash.example")
		if got, want := h.Get("Access-Control-Allow-Origin"), "https://dash.example"; got != want {
			t.Errorf("Access-Control-Allow-Origin=%q, want %q; headers %v", got, want, h)
		}
		if got := h.Get("Access-Control-Allow-Headers"); got == "" {
			t.Errorf("Access-Control-Allow-Headers empty, want x-api-key allowed; headers %v", h)
		}
		// The actual request carries the header too.
		rec := get(e, "/analytics/summary?days=7", "Origin", "https://dash.example", "x-api-key", "rk")
		if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "https://dash.example" {
			t.Errorf("GET: status=%d Access-Control-Allow-Origin=%q, want 200 and the origin", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("OtherOrigin", func(t *testing.T) {
		if got := preflight("https://evil.example").Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin=%q, want none", got)
		}
		rec := get(e, "/analytics/summary?days=7", "Origin", "https://evil.example", "x-api-key", "rk")
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET: Access-Control-Allow-Origin=%q, want none", got)
		}
	})
}
