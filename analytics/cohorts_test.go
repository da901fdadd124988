package analytics_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

func TestServer_Cohorts(t *testing.T) {
	// testNow, 2026-02-09, is a Monday: weeks=4 gives the cohorts of the
	// weeks starting 01-19, 01-26, 02-02 and 02-09.
	if testNow.Weekday() != time.Monday {
		t.Fatalf("testNow is a %s; the expectations assume a Monday", testNow.Weekday())
	}
	db := testkit.MustOpenDB(t)
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
	testkit.MustWriteBatch(t, db, evs)
	e := newRouter(t, db.Path(), analytics.Config{})

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
