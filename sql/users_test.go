package sql_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// activeEvents are the events of the user reads: on day 0 (testNow's)
// u1 and u2 use my_skill; on day -1 u3 uses other; on day -2 u1 uses
// my_skill.
func activeEvents() []trackskills.Event {
	ev := func(i, daysAgo int, tool, user string) trackskills.Event {
		e := newEvent(fmt.Sprintf("active-%d", i))
		e.Timestamp = testNow.AddDate(0, 0, -daysAgo).UnixMilli()
		e.ReceivedAt, e.ToolName, e.UserHash = e.Timestamp, tool, user
		return e
	}
	return []trackskills.Event{
		ev(1, 0, "my_skill", "u1"), ev(2, 0, "my_skill", "u2"), ev(3, 0, "my_skill", "u1"),
		ev(4, 1, "other", "u3"),
		ev(5, 2, "my_skill", "u1"),
	}
}

func TestDB_DailyActiveUsers(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, activeEvents())
	today := sql.DayOfTime(testNow)
	for _, tt := range []struct {
		name        string
		first, last sql.Day
		tool        string
		want        []sql.DailyActive
	}{
		{"All", today - 2, today, "", []sql.DailyActive{{Day: today, Users: 2}, {Day: today - 1, Users: 1}, {Day: today - 2, Users: 1}}},
		{"Tool", today - 2, today, "my_skill", []sql.DailyActive{{Day: today, Users: 2}, {Day: today - 2, Users: 1}}},
		{"Past", today - 5, today - 1, "", []sql.DailyActive{{Day: today - 1, Users: 1}, {Day: today - 2, Users: 1}}},
		{"None", today - 9, today - 3, "", []sql.DailyActive{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.DailyActiveUsers(context.Background(), tt.first, tt.last, tt.tool)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDB_ActiveUsers(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, activeEvents())
	today := sql.DayOfTime(testNow)
	for _, tt := range []struct {
		name        string
		first, last sql.Day
		tool        string
		want        int64
	}{
		{"All", today - 2, today, "", 3},
		{"Today", today, today, "", 2},
		{"Tool", today - 2, today, "my_skill", 2},
		{"Past", today - 2, today - 1, "", 2}, // not up to the last seen day
		{"PastTool", today - 2, today - 1, "my_skill", 1},
		{"None", today - 9, today - 3, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.ActiveUsers(context.Background(), tt.first, tt.last, tt.tool)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}
