package sql_test

import (
	"context"
	"maps"
	"testing"

	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

func TestDB_ToolDailyUsers(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, activeEvents())
	today := sql.DayOfTime(testNow)
	got, err := db.ToolDailyUsers(context.Background(), today-6, today, "my_skill")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[sql.Day]int64{today: 2, today - 2: 1}; !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got, err = db.ToolDailyUsers(context.Background(), today-1, today-1, "my_skill")
	if err != nil || len(got) != 0 {
		t.Errorf("day -1: got %v (%v), want none", got, err)
	}
}
