package sql_test

import (
	"context"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
)

func lagEvent(id string, ts int64) trackskills.Event {
	d := int64(5)
	return trackskills.Event{
		EventID: id, ToolName: "Read", ToolCategory: "builtin", Status: trackskills.StatusSuccess,
		Timestamp: ts, ReceivedAt: ts, UserHash: "0123456789abcdef0123456789abcdef", Source: "api", DurationMs: &d,
	}
}

func TestDB_CountNewEvents(t *testing.T) {
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	ts := db.Now().UnixMilli()
	write := func(ids ...string) {
		t.Helper()
		evs := make([]trackskills.Event, len(ids))
		for i, id := range ids {
			evs[i] = lagEvent(id, ts)
		}
		if _, err := db.WriteBatch(ctx, evs, nil); err != nil {
			t.Fatal(err)
		}
	}

	if got, err := db.LastEventRowid(ctx); err != nil || got != 0 {
		t.Fatalf("last rowid of an empty table=%d, %v; want 0, nil", got, err)
	}
	// Rows before the start never count, even of the same prefix.
	write("lg-0000000000000000-1", "lg-run-0", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
	start, err := db.LastEventRowid(ctx)
	if err != nil || start != 3 {
		t.Fatalf("last rowid=%d, %v; want 3, nil", start, err)
	}

	// The poller reads through the read-only handle, as loadgen does.
	ro := testkit.MustOpenReadOnly(t, db.Path())

	cursor := start
	for _, tt := range []struct {
		name     string
		write    []string
		wantN    int64
		wantLast int64
	}{
		{name: "NothingNew", wantN: 0, wantLast: 3},
		{name: "OursOnly", write: []string{"lg-run-1", "lg-run-2"}, wantN: 2, wantLast: 5},
		// Other writers' rows move the cursor but do not count; "lg-run."
		// is the first string past the prefix, "lg-run" sorts before it.
		{name: "OthersSkipped", write: []string{"other-lg-run-3", "lg-run.", "lg-run", "lg-run-3", "01ARZ3NDEKTSV4RRFFQ69G5FAW"}, wantN: 1, wantLast: 10},
		{name: "LongerIDs", write: []string{"lg-run-10000", "lg-run-~"}, wantN: 2, wantLast: 12},
		{name: "NothingNewAgain", wantN: 0, wantLast: 12},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.write) > 0 {
				write(tt.write...)
			}
			n, last, err := ro.CountNewEvents(ctx, "lg-run-", cursor)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.wantN || last != tt.wantLast {
				t.Fatalf("count=%d last=%d, want %d and %d", n, last, tt.wantN, tt.wantLast)
			}
			cursor = last
		})
	}

	t.Run("ErrEmptyPrefix", func(t *testing.T) {
		if _, last, err := ro.CountNewEvents(ctx, "", 7); err == nil || last != 7 {
			t.Fatalf("err=%v last=%d, want an error and the cursor kept", err, last)
		}
	})
}
