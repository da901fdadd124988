package sql_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

var costBase = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).UnixMilli()

// apiRequest is an api_request event of user, day days after costBase,
// with 7 cache reads and 1 cache creation.
func apiRequest(id, source string, user, day int, model, skill, mcp string, micros, in, out int64, failed bool) trackskills.Event {
	return testkit.APIRequestEvent(testkit.APIRequest{ID: id, Source: source, At: costBase + int64(day)*86_400_000, User: user,
		Model: model, Skill: skill, MCPServer: mcp, CostMicros: micros, Input: in, Output: out, CacheRead: 7, CacheCreation: 1,
		Failed: failed})
}

// The ledger counts each request once, whatever repeats it (a redelivery,
// the same request from a second source, twice in one batch), with
// rollups per batch and held alike.
func TestDB_Costs(t *testing.T) {
	first := []trackskills.Event{
		apiRequest("ar_1", "otlp", 0, 0, "sonnet", "pdf-report", "", 12_300, 1200, 340, false),
		apiRequest("ar_2", "otlp", 1, 0, "sonnet", "pdf-report", "", 5_000, 800, 120, false),
		apiRequest("ae_3", "otlp", 1, 0, "opus", "", "", 0, 0, 0, true),
		apiRequest("ar_2", "otlp", 1, 0, "sonnet", "pdf-report", "", 5_000, 800, 120, false), // twice in the batch
		{EventID: "call1", ToolName: "Read", ToolCategory: "builtin", Status: "success", Timestamp: costBase,
			ReceivedAt: costBase, UserHash: userHash(0), Source: "hook"},
	}
	second := []trackskills.Event{
		apiRequest("ar_1", "otlp", 0, 0, "sonnet", "pdf-report", "", 12_300, 1200, 340, false), // redelivered
		apiRequest("ar_2", "import", 1, 0, "sonnet", "pdf-report", "", 5_000, 800, 120, false), // from a transcript
		apiRequest("ar_4", "otlp", 2, 1, "sonnet", "third-party", "github", 1_000, 10, 20, false),
	}
	want := []sql.CostRow{
		{Day: sql.DayOf(costBase), Model: "opus", Requests: 1, Failed: 1, CacheReadTokens: 7, CacheCreationTokens: 1},
		{Day: sql.DayOf(costBase), Skill: "pdf-report", Model: "sonnet", Requests: 2, CostMicros: 17_300, InputTokens: 2000,
			OutputTokens: 460, CacheReadTokens: 14, CacheCreationTokens: 2},
		{Day: sql.DayOf(costBase) + 1, Skill: "third-party", MCPServer: "github", Model: "sonnet", Requests: 1, CostMicros: 1_000,
			InputTokens: 10, OutputTokens: 20, CacheReadTokens: 7, CacheCreationTokens: 1},
	}
	for _, tc := range []struct {
		name string
		opts []sql.Option
	}{
		{"per batch", nil},
		{"held", []sql.Option{sql.WithRollupDelay(time.Hour, 0), sql.WithRollupQuiet(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "costs.db")
			db := testkit.MustOpenDBAt(t, path, tc.opts...)
			testkit.MustWriteBatch(t, db, first)
			testkit.MustWriteBatch(t, db, second)
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			w := sql.Window{From: costBase - 86_400_000, To: costBase + 3*86_400_000}
			got, err := db.Costs(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("cost_daily\n got %+v\nwant %+v", got, want)
			}
			if n := mustCount(t, db); n != 1 {
				t.Errorf("%d raw tool calls, want 1: a model request is no tool call", n)
			}
			// One day only.
			if got, _ := db.Costs(ctx, sql.Window{From: costBase + 86_400_000, To: costBase + 2*86_400_000}); len(got) != 1 {
				t.Errorf("the second day: %+v, want its one row", got)
			}
		})
	}
}

// The raw rows of the requests go with the raw events' retention; the
// daily sums stay.
func TestDB_CostsRetention(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, []trackskills.Event{
		apiRequest("ar_old", "otlp", 0, 0, "sonnet", "a", "", 10, 1, 1, false),
		apiRequest("ar_new", "otlp", 0, 5, "sonnet", "a", "", 20, 1, 1, false),
	})
	if _, err := db.DeleteEventsBefore(ctx, costBase+86_400_000, 100); err != nil {
		t.Fatal(err)
	}
	// The old request's id is gone, so its redelivery would count again;
	// the stream has dropped it by then (it keeps events for the same
	// retention). The sums are untouched.
	got, err := db.Costs(ctx, sql.Window{From: costBase, To: costBase + 6*86_400_000})
	if err != nil || len(got) != 2 || got[0].CostMicros != 10 || got[1].CostMicros != 20 {
		t.Errorf("after retention: %+v %v, want both days kept", got, err)
	}
	// The aggregates' retention removes the old day's sums, and the
	// coverage of its calls.
	testkit.MustWriteBatch(t, db, []trackskills.Event{call("old1", "hook", 0)})
	testkit.MustWriteBatch(t, db, []trackskills.Event{call("old1", "otlp", 0)})
	if _, err := db.DeleteAggregatesBefore(ctx, costBase+86_400_000); err != nil {
		t.Fatal(err)
	}
	w := sql.Window{From: costBase, To: costBase + 6*86_400_000}
	if got, err := db.Costs(ctx, w); err != nil || len(got) != 1 || got[0].CostMicros != 20 {
		t.Errorf("after the aggregates' retention: %+v %v, want the newer day", got, err)
	}
	if cov, err := db.Coverage(ctx, w); err != nil || len(cov) != 0 {
		t.Errorf("coverage after the aggregates' retention: %+v %v, want none", cov, err)
	}
}
