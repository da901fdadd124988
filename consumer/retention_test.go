package consumer_test

import (
	"context"
	"testing"
	"time"
)

// Ensure the consumer's retention job deletes raw events past the
// retention while it consumes, and keeps the rest.
func TestConsumer_Run_Retention(t *testing.T) {
	t.Parallel()
	js := mustRunStream(t)
	db := MustOpenDB(t)
	old := makeEvents(1200, "expired")
	for i := range old {
		old[i].Timestamp = time.Now().Add(-91 * 24 * time.Hour).UnixMilli()
	}
	if _, err := db.WriteBatch(context.Background(), old, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.RetentionRaw, cfg.RetentionEvery, cfg.RetentionChunk = 90*24*time.Hour, 50*time.Millisecond, 500
	runConsumer(t, cfg, js, db)
	fresh := makeEvents(300, "fresh")
	publishChunks(t, js, fresh, 50)
	eventually(t, patience, countIs(t, db, int64(len(fresh))))
}
