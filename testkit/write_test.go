package testkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure MustWriteBatch stores new events and reports a redelivery as
// ignored.
func TestMustWriteBatch(t *testing.T) {
	db := testkit.MustOpenDB(t)
	now := time.Now().UnixMilli()
	evs := []trackskills.Event{{
		EventID: "write-1", ToolName: "my_skill", ToolCategory: trackskills.DefaultCategory,
		Status: trackskills.StatusSuccess, Timestamp: now, ReceivedAt: now,
		UserHash: "0123456789abcdef0123456789abcdef", Source: trackskills.DefaultSource, StreamSeq: 1,
	}}
	if res := testkit.MustWriteBatch(t, db, evs); res.Inserted != 1 || res.Ignored != 0 {
		t.Fatalf("first write: %+v, want 1 inserted", res)
	}
	if res := testkit.MustWriteBatch(t, db, evs); res.Inserted != 0 || res.Ignored != 1 {
		t.Fatalf("redelivery: %+v, want 1 ignored", res)
	}
	if n, err := db.CountEvents(context.Background()); err != nil || n != 1 {
		t.Fatalf("CountEvents()=%d, %v; want 1", n, err)
	}
}
