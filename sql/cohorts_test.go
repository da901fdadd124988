package sql_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

func TestDB_Cohorts(t *testing.T) {
	// testNow, 2026-02-09, is a Monday.
	if testNow.Weekday() != time.Monday {
		t.Fatalf("testNow is a %s; the expectations assume a Monday", testNow.Weekday())
	}
	db := testkit.MustOpenDB(t)
	var evs []trackskills.Event
	for i, u := range []struct{ user, day string }{
		{"u1", "2026-02-02"}, {"u1", "2026-02-09"}, // cohort 02-02, back a week later
		{"u2", "2026-02-08"},                       // a Sunday: cohort 02-02
		{"u3", "2026-01-28"}, {"u3", "2026-02-03"}, // cohort 01-26
		{"u4", "2026-02-09"}, // cohort 02-09
	} {
		ev := newEvent(fmt.Sprintf("cohort-%d", i))
		ev.Timestamp = mustDay(t, u.day).StartMs() + 3600_000
		ev.ReceivedAt, ev.UserHash = ev.Timestamp, u.user
		evs = append(evs, ev)
	}
	testkit.MustWriteBatch(t, db, evs)
	w := func(s string) sql.Day { return mustDay(t, s) }
	for _, tt := range []struct {
		name                       string
		first, lastCohort, lastDay sql.Day
		want                       []sql.CohortCell
	}{
		{"TwoWeeks", w("2026-02-02"), w("2026-02-09"), w("2026-02-09"), []sql.CohortCell{
			{Cohort: w("2026-02-02"), Week: w("2026-02-02"), Users: 2},
			{Cohort: w("2026-02-02"), Week: w("2026-02-09"), Users: 1},
			{Cohort: w("2026-02-09"), Week: w("2026-02-09"), Users: 1},
		}},
		{"Past", w("2026-01-26"), w("2026-02-02"), w("2026-02-04"), []sql.CohortCell{
			{Cohort: w("2026-01-26"), Week: w("2026-01-26"), Users: 1},
			{Cohort: w("2026-01-26"), Week: w("2026-02-02"), Users: 1},
			{Cohort: w("2026-02-02"), Week: w("2026-02-02"), Users: 1}, // u2 arrives on 02-08, after the last day
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Cohorts(context.Background(), tt.first, tt.lastCohort, tt.lastDay)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}
