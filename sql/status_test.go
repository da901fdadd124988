package sql_test

import (
	"context"
	"maps"
	"testing"

	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

func TestDB_Status(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	ro := testkit.MustOpenReadOnly(t, db.Path())
	st, err := ro.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 0 || !st.LastEventAt.IsZero() || st.DeadLetters != 0 || st.ReplayPosition != 0 {
		t.Errorf("empty database: %+v", st)
	}
	if st.Migrations == 0 || st.Migrations != st.KnownMigrations {
		t.Errorf("migrations %d of %d, want all of them", st.Migrations, st.KnownMigrations)
	}
	if st.Path != db.Path() || st.FileBytes <= 0 {
		t.Errorf("path %q size %d, want %q and a size", st.Path, st.FileBytes, db.Path())
	}

	evs := newEvents("st", 3)
	evs[2].Timestamp += 5000
	dead := []sql.DeadLetter{
		{StreamSeq: 10, Subject: "s", Reason: "decode", Headers: "{}"},
		{StreamSeq: 11, Subject: "s", Reason: "decode", Headers: "{}"},
		{StreamSeq: 12, Subject: "s", Reason: "invalid", Headers: "{}"},
	}
	if _, err := db.WriteBatchAt(ctx, evs, dead, 12); err != nil {
		t.Fatal(err)
	}
	st, err = ro.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 3 {
		t.Errorf("events %d, want 3", st.Events)
	}
	if got, want := st.LastEventAt.UnixMilli(), evs[2].Timestamp; got != want {
		t.Errorf("last event at %d, want %d", got, want)
	}
	if st.ReplayPosition != 12 {
		t.Errorf("replay position %d, want 12", st.ReplayPosition)
	}
	if want := map[string]int64{"decode": 2, "invalid": 1}; st.DeadLetters != 3 || !maps.Equal(st.DeadLetterReasons, want) {
		t.Errorf("dead letters %d %v, want 3 %v", st.DeadLetters, st.DeadLetterReasons, want)
	}
}
