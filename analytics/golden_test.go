package analytics_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// quotedTool is a tool name with quotes, a backslash and non-ASCII text.
const quotedTool = `say "hi" \ — café ☕`

// goldenEvents is a fixed set of events over the 30 days before testNow.
func goldenEvents() []trackskills.Event {
	day := testNow.Truncate(24 * time.Hour)
	at := func(daysAgo int, hh, mm int) time.Time {
		return day.AddDate(0, 0, -daysAgo).Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	const ok, fail, timeout = trackskills.StatusSuccess, trackskills.StatusError, trackskills.StatusTimeout
	evs := []trackskills.Event{
		// Today.
		event("g01", at(0, 1, 5), "query_data", "analytics", ok, 110, "user-a"),
		event("g02", at(0, 9, 15), "query_data", "analytics", ok, 95, "user-b"),
		event("g03", at(0, 10, 0), "query_data", "analytics", fail, 5000, "user-a"),
		event("g04", at(0, 21, 30), quotedTool, "fun", ok, 12, "user-c"),
		event("g05", at(0, 21, 31), quotedTool, "fun", timeout, 30000, "user-c"),
		event("g06", at(0, 20, 0), "send_email", "comm", ok, -1, "user-d"),
		// Yesterday and the days before, inside days=7.
		event("g07", at(1, 23, 59), "query_data", "analytics", ok, 130, "user-e"),
		event("g08", at(1, 12, 0), "send_email", "comm", fail, 250, "user-a"),
		event("g09", at(2, 8, 0), "search", "default", ok, 40, "user-b"),
		event("g10", at(2, 8, 1), "search", "default", ok, 60, "user-b"),
		event("g11", at(5, 0, 0), quotedTool, "fun", fail, -1, "user-f"),
		event("g12", at(6, 0, 0), "query_data", "reports", ok, 200, "user-f"),
		// Outside days=7, inside days=30.
		event("g13", at(7, 23, 59), "query_data", "analytics", fail, 900, "user-g"),
		event("g14", at(12, 6, 0), "send_email", "comm", ok, 300, "user-h"),
		event("g15", at(29, 0, 0), "search", "default", timeout, 10000, "user-i"),
		// Outside days=30.
		event("g16", at(30, 12, 0), "search", "default", fail, 1, "user-j"),
	}
	for i := range evs {
		switch evs[i].Status {
		case fail:
			evs[i].ErrorType, evs[i].ErrorMessage = "internal", "Connection \"timeout\" — réessayer"
		case timeout:
			evs[i].ErrorType = "timeout"
		}
	}
	evs[10].ErrorType = "" // an error without a type: error_type is null
	return evs
}

func TestGolden(t *testing.T) {
	db := testkit.MustOpenDB(t)
	evs := goldenEvents()
	testkit.MustWriteBatch(t, db, evs[:7])
	testkit.MustWriteBatch(t, db, evs[5:]) // overlaps: g06 and g07 are redeliveries
	e := newRouter(t, db.Path(), analytics.Config{})

	for _, tt := range []struct {
		name   string
		target string
	}{
		{"summary", "/analytics/summary?days=7"},
		{"tools", "/analytics/tools?days=7"},
		{"retention", "/analytics/retention?days=30"},
		{"errors", "/analytics/errors?days=7&limit=50"},
		{"summary_tool", "/analytics/summary?days=7&tool=" + urlQuery(quotedTool)},
		{"errors_hours", "/analytics/errors?hours=24&limit=2"},
		{"errors_timeout", "/analytics/errors?days=7&status=timeout"},
		{"errors_both", "/analytics/errors?days=7&status=error,timeout"},
		{"errors_both_limit", "/analytics/errors?days=7&status=timeout,error&limit=2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := mustGetJSON(t, e, tt.target, nil)
			var got bytes.Buffer
			if err := json.Indent(&got, bytes.TrimSpace(body), "", "  "); err != nil {
				t.Fatalf("indent %s: %v", body, err)
			}
			got.WriteByte('\n')
			file := filepath.Join("testdata", "TestGolden", tt.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("read golden file (run go test ./analytics -update to create it): %v", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("GET %s differs from %s:\n got  %s\n want %s", tt.target, file, got.Bytes(), want)
			}
		})
	}
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

var (
	rateRe  = regexp.MustCompile(`^\d{1,3}\.\d\d$`)
	dateRe  = regexp.MustCompile(`^\d{4}-\d\d-\d\d$`)
	stampRe = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)
)

// checkFields checks that obj has every field of want with its JSON type
// (a type may be "string|null"), and that rates are two-decimal strings.
func checkFields(t *testing.T, where string, obj any, want map[string]string) map[string]any {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("%s: got %s, want an object", where, jsonType(obj))
	}
	for name, typ := range want {
		v, ok := m[name]
		if !ok {
			t.Errorf("%s: field %q missing", where, name)
			continue
		}
		got := jsonType(v)
		if got != typ && !(typ == "string|null" && (got == "string" || got == "null")) &&
			!(typ == "number|null" && (got == "number" || got == "null")) {
			t.Errorf("%s: %s is a %s (%v), want %s", where, name, got, v, typ)
		}
		if n, ok := v.(float64); ok && n != float64(int64(n)) {
			t.Errorf("%s: %s=%v, want a whole number", where, name, n)
		}
		if (name == "success_rate" || name == "error_rate") && got == "string" && !rateRe.MatchString(v.(string)) {
			t.Errorf("%s: %s=%q, want a percentage with two decimals", where, name, v)
		}
	}
	return m
}

// TestSeedShapes pins the field names and JSON types of the seed's four
// endpoints exactly as its README documents them; extra fields are allowed.
func TestSeedShapes(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, goldenEvents())
	e := newRouter(t, db.Path(), analytics.Config{})

	t.Run("Summary", func(t *testing.T) {
		var v any
		mustGetJSON(t, e, "/analytics/summary?days=7", &v)
		m := checkFields(t, "summary", v, map[string]string{
			"period": "string", "total_invocations": "number", "unique_users": "number",
			"avg_duration_ms": "number", "success_rate": "string", "error_rate": "string",
		})
		if got, want := m["period"], "7 days"; got != want {
			t.Errorf("period=%v, want %q", got, want)
		}
		if got, want := m["total_invocations"], 12.0; got != want {
			t.Errorf("total_invocations=%v, want %v", got, want)
		}
	})

	t.Run("Tools", func(t *testing.T) {
		var v any
		mustGetJSON(t, e, "/analytics/tools?days=7", &v)
		arr, ok := v.([]any)
		if !ok || len(arr) == 0 {
			t.Fatalf("tools: got %s %v, want a non-empty array", jsonType(v), v)
		}
		prev := -1.0
		for i, el := range arr {
			m := checkFields(t, "tools["+string(rune('0'+i))+"]", el, map[string]string{
				"tool_name": "string", "invocations": "number", "avg_duration_ms": "number",
				"success_rate": "string", "error_rate": "string",
			})
			n, _ := m["invocations"].(float64)
			if prev >= 0 && n > prev {
				t.Errorf("tools[%d] has %v invocations, more than the one before (%v): want most used first", i, n, prev)
			}
			prev = n
		}
	})

	t.Run("Retention", func(t *testing.T) {
		var v any
		mustGetJSON(t, e, "/analytics/retention?days=30", &v)
		m := checkFields(t, "retention", v, map[string]string{
			"daily_active_users": "array", "weekly_active_users": "number", "period": "string",
		})
		if got, want := m["period"], "30 days"; got != want {
			t.Errorf("period=%v, want %q", got, want)
		}
		dau, _ := m["daily_active_users"].([]any)
		if len(dau) == 0 {
			t.Fatal("daily_active_users is empty")
		}
		for _, d := range dau {
			dm := checkFields(t, "daily_active_users[]", d, map[string]string{"date": "string", "dau": "number"})
			if s, _ := dm["date"].(string); !dateRe.MatchString(s) {
				t.Errorf("date=%q, want YYYY-MM-DD", s)
			}
		}
	})

	t.Run("Errors", func(t *testing.T) {
		var v any
		mustGetJSON(t, e, "/analytics/errors?days=7&limit=50", &v)
		m := checkFields(t, "errors", v, map[string]string{"errors": "array", "count": "number"})
		list, _ := m["errors"].([]any)
		if got, want := m["count"], float64(len(list)); got != want || len(list) == 0 {
			t.Fatalf("count=%v with %d errors, want equal and non-zero", got, len(list))
		}
		for _, el := range list {
			em := checkFields(t, "errors[]", el, map[string]string{
				"timestamp": "string", "tool_name": "string", "error_type": "string|null",
				"error_message": "string|null", "duration_ms": "number|null",
			})
			if s, _ := em["timestamp"].(string); !stampRe.MatchString(s) {
				t.Errorf("timestamp=%q, want YYYY-MM-DD HH:MM:SS", s)
			}
		}
	})
}
