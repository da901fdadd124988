package consumer_test

import (
	"context"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure a durable that someone deletes under a running consumer is made
// again, starting after what was acknowledged, instead of the consumer
// exiting: every event, before and after the delete, ends in SQLite once,
// and none is read twice.
func TestConsumer_DurableDeleted(t *testing.T) {
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	c := newConsumer(t, testConfig(), js, db)
	r := start(t, c)
	before := makeEvents(50, "before")
	publishChunks(t, js, before, 10)
	testkit.Eventually(t, patience, func() error { return settled(t, js, testDurable) })

	if err := js.DeleteConsumer(context.Background(), trackskills.StreamName, testDurable); err != nil {
		t.Fatal(err)
	}
	after := makeEvents(30, "after")
	publishChunks(t, js, after, 10)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(before)+len(after))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, testDurable) })
	if !r.running() {
		t.Fatalf("consumer exited: %v", r.err)
	}
	checkExactlyOnce(t, db, before, after)
	if got := c.Stats().Ignored; got != 0 {
		t.Errorf("%d events read again, want 0: the new durable starts after the ack floor", got)
	}
}
