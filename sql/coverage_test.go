package sql_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// call is a tool call of session s reported by source.
func call(id, source string, s int) trackskills.Event {
	return trackskills.Event{EventID: id, ToolName: "Bash", ToolCategory: "builtin", Status: "success", Timestamp: costBase,
		ReceivedAt: costBase, UserHash: userHash(0), SessionHash: userHash(s + 20), Source: source}
}

// What each source reported: the calls it stored first, those it saw, and
// those another source saw too, exact across redeliveries and duplicates
// within a batch.
func TestDB_Coverage(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, []trackskills.Event{call("c1", "hook", 0), call("c2", "hook", 0), call("c3", "hook", 0)})
	// Telemetry reports c1 and c2 again, and c4 that the hook missed (in
	// another session); c4 twice in one batch, once from the import too.
	second := []trackskills.Event{call("c1", "otlp", 0), call("c2", "otlp", 0), call("c4", "otlp", 1), call("c4", "import", 1)}
	testkit.MustWriteBatch(t, db, second)
	testkit.MustWriteBatch(t, db, second)                                       // redelivered
	testkit.MustWriteBatch(t, db, []trackskills.Event{call("c1", "import", 0)}) // a third source of c1
	got, err := db.Coverage(ctx, sql.Window{From: costBase - 86_400_000, To: costBase + 86_400_000})
	if err != nil {
		t.Fatal(err)
	}
	want := []sql.SourceCoverage{
		{Source: "hook", Stored: 3, Seen: 3, Shared: 2},
		{Source: "otlp", Stored: 1, Seen: 3, Shared: 3},
		{Source: "import", Stored: 0, Seen: 2, Shared: 2},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("coverage\n got %+v\nwant %+v", got, want)
	}
	n, err := db.SessionsWithout(ctx, sql.Window{From: costBase - 1, To: costBase + 1}, "otlp", "hook")
	if err != nil || n != 1 {
		t.Errorf("sessions telemetry saw and the hook did not: %d %v, want 1", n, err)
	}
}
