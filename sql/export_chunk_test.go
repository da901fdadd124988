package sql_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// exportIDs returns the event ids that db.Export gives, in order.
func exportIDs(t *testing.T, db *sql.DB, w sql.Window, f sql.Filter, status string, limit int) []string {
	t.Helper()
	var ids []string
	err := db.Export(context.Background(), w, f, status, limit, func(r *sql.ExportRow) error {
		ids = append(ids, r.EventID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// Ensure an export read in chunks gives every row once, in timestamp then
// insertion order, when rows of one millisecond straddle a chunk's end and
// a limit ends inside or at the end of a chunk.
func TestDB_Export_Chunks(t *testing.T) {
	sql.SetExportChunkRows(t, 4)
	db := testkit.MustOpenDB(t)
	base := time.Now().Add(-time.Hour).UnixMilli()
	evs := testkit.Events(23, "chunk")
	for i := range evs {
		// Groups of three events share a millisecond, written newest
		// group first, so that row id order is not timestamp order.
		evs[i].Timestamp = base + int64(len(evs)-i)/3*1000
	}
	testkit.MustWriteBatch(t, db, evs)
	sorted := slices.Clone(evs)
	slices.SortStableFunc(sorted, func(a, b trackskills.Event) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
	var all []string
	for _, ev := range sorted {
		all = append(all, ev.EventID)
	}
	w := sql.Window{From: base, To: base + 3_600_000}
	tests := []struct {
		name   string
		f      sql.Filter
		status string
		limit  int
		want   []string
	}{
		{"All", sql.Filter{}, "", 0, all},
		{"LimitInsideChunk", sql.Filter{}, "", 6, all[:6]},
		{"LimitAtChunkEnd", sql.Filter{}, "", 8, all[:8]},
		{"LimitOne", sql.Filter{}, "", 1, all[:1]},
		{"LimitBeyond", sql.Filter{}, "", 100, all},
		{"Tool", sql.Filter{Tool: "tool_1"}, "", 0, filterIDs(sorted, func(ev *trackskills.Event) bool { return ev.ToolName == "tool_1" })},
		{"Status", sql.Filter{}, trackskills.StatusError, 0, filterIDs(sorted, func(ev *trackskills.Event) bool { return ev.Status == trackskills.StatusError })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exportIDs(t, db, w, tt.f, tt.status, tt.limit); !slices.Equal(got, tt.want) {
				t.Errorf("ids\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

func filterIDs(evs []trackskills.Event, keep func(*trackskills.Event) bool) []string {
	var ids []string
	for i := range evs {
		if keep(&evs[i]) {
			ids = append(ids, evs[i].EventID)
		}
	}
	return ids
}

// Ensure an export holds no read snapshot while its callback runs (as it
// does while a client reads slowly): the writer commits and truncates the
// write-ahead log in the middle of it.
func TestDB_Export_NoSnapshotBetweenChunks(t *testing.T) {
	sql.SetExportChunkRows(t, 4)
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, testkit.Events(10, "snap"))
	ro := testkit.MustOpenReadOnly(t, db.Path())
	now := time.Now()
	w := sql.Window{From: now.Add(-time.Hour).UnixMilli(), To: now.Add(time.Hour).UnixMilli()}
	ctx := context.Background()
	n := 0
	err := ro.Export(ctx, w, sql.Filter{}, "", 0, func(*sql.ExportRow) error {
		if n++; n != 2 {
			return nil
		}
		testkit.MustWriteBatch(t, db, testkit.Events(3, fmt.Sprintf("during-%d", n)))
		if err := db.Checkpoint(ctx); err != nil {
			return fmt.Errorf("checkpoint in the middle of an export: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("%d rows, want at least 10", n)
	}
	stop := errors.New("stop")
	if err := ro.Export(ctx, w, sql.Filter{}, "", 0, func(*sql.ExportRow) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("export err %v, want the callback's", err)
	}
}
