package consumer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure WriteErr says "cannot write" with the reason while SQLite cannot
// take a batch (a full disk), and clears by itself once it can, with every
// event stored once.
func TestConsumer_WriteErr(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	c, _ := runConsumer(t, testConfig(), js, db)
	warm := makeEvents(10, "warm")
	publish(t, js, warm...)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(warm))))
	if err := c.WriteErr(); err != nil {
		t.Fatalf("WriteErr()=%v with the writes going through", err)
	}
	fillDisk(t, db)
	events := makeEvents(2000, "full")
	publishChunks(t, js, events, 500)
	testkit.Eventually(t, patience, func() error {
		if err := c.WriteErr(); err == nil || !strings.HasPrefix(err.Error(), "cannot write: ") {
			return errors.New("WriteErr() says nothing while the disk is full")
		}
		return nil
	})
	if err := db.LimitSize(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, patience, countIs(t, db, int64(len(warm)+len(events))))
	if err := c.WriteErr(); err != nil {
		t.Fatalf("WriteErr()=%v once the disk has room", err)
	}
	checkExactlyOnce(t, db, warm, events)
}
