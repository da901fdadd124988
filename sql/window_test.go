package sql_test

import (
	"testing"
	"time"

	"github.com/trackskills/trackskills/sql"
)

// mustDay reads a YYYY-MM-DD day.
func mustDay(tb testing.TB, s string) sql.Day {
	tb.Helper()
	d, err := sql.ParseDay(s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestWindow_Days(t *testing.T) {
	at := func(s string) int64 {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts.UnixMilli()
	}
	for _, tt := range []struct {
		name        string
		w           sql.Window
		first, last string
	}{
		{"OneDay", sql.Window{From: at("2026-02-09T00:00:00Z"), To: at("2026-02-10T00:00:00Z")}, "2026-02-09", "2026-02-09"},
		{"EndsInsideADay", sql.Window{From: at("2026-02-03T00:00:00Z"), To: at("2026-02-09T21:30:00.001Z")}, "2026-02-03", "2026-02-09"},
		{"Hours", sql.Window{From: at("2026-02-08T22:00:00Z"), To: at("2026-02-09T01:00:00Z"), Hourly: true}, "2026-02-08", "2026-02-09"},
		{"LastMillisecond", sql.Window{From: at("2026-02-09T23:59:59.999Z"), To: at("2026-02-10T00:00:00Z")}, "2026-02-09", "2026-02-09"},
		{"Before1970", sql.Window{From: at("1969-12-31T12:00:00Z"), To: at("1970-01-01T00:00:00.001Z")}, "1969-12-31", "1970-01-01"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := tt.w.FirstDay(), mustDay(t, tt.first); got != want {
				t.Errorf("FirstDay=%s, want %s", got, want)
			}
			if got, want := tt.w.LastDay(), mustDay(t, tt.last); got != want {
				t.Errorf("LastDay=%s, want %s", got, want)
			}
		})
	}
}
