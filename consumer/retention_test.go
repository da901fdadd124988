package consumer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure the consumer's retention job deletes raw events past the
// retention while it consumes, and keeps the rest.
func TestConsumer_Run_Retention(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	old := makeEvents(1200, "expired")
	for i := range old {
		old[i].Timestamp = time.Now().Add(-91 * 24 * time.Hour).UnixMilli()
		old[i].ReceivedAt = old[i].Timestamp
	}
	if _, err := db.WriteBatch(context.Background(), old, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.RetentionRaw, cfg.RetentionEvery, cfg.RetentionChunk = 90*24*time.Hour, 50*time.Millisecond, 500
	runConsumer(t, cfg, js, db)
	fresh := makeEvents(300, "fresh")
	publishChunks(t, js, fresh, 50)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(fresh))))
}

// Ensure Run returns (with an error) when its connection closes while the
// retention job runs, instead of waiting for the job forever.
func TestConsumer_Run_ConnectionClosedWithRetention(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	cfg.RetentionRaw, cfg.RetentionEvery = 90*24*time.Hour, time.Hour
	c := newConsumer(t, cfg, js, db)
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	testkit.Eventually(t, patience, func() error {
		if !c.Ready() {
			return errors.New("not ready")
		}
		return nil
	})
	js.Conn().Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned nil after its connection closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its connection closed")
	}
}
