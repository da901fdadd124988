package consumer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// Two databases fed from one stream have a durable each, named after the
// database, and each stores every event.
func TestConsumer_DurableOfTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := testkit.MustRunStream(t)
	a, b := testkit.MustOpenDB(t), testkit.MustOpenDB(t)
	cfg := testConfig()
	cfg.Durable = ""
	runConsumer(t, cfg, js, a)
	runConsumer(t, cfg, js, b)
	events := makeEvents(300, "two")
	publishChunks(t, js, events, 10)
	durables := map[string]bool{}
	for _, db := range []*sql.DB{a, b} {
		id, err := db.Identity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(id.Durable, "trackskills-sqlite-") {
			t.Errorf("durable %q is not named after the database", id.Durable)
		}
		durables[id.Durable] = true
		testkit.Eventually(t, patience, countIs(t, db, int64(len(events))))
		testkit.Eventually(t, patience, func() error { return settled(t, js, id.Durable) })
		checkExactlyOnce(t, db, events)
	}
	if len(durables) != 2 {
		t.Errorf("two databases share a durable: %v", durables)
	}
}

// A second copy of a database (the same identity, so the same durable)
// refuses to consume while the first reads the durable, and says why; with
// Standby it waits, and takes over when the first goes.
func TestConsumer_DurableBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := testkit.MustRunStream(t)
	first, copied := testkit.MustOpenDB(t), testkit.MustOpenDB(t)
	id, err := first.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := copied.SetIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Durable = ""
	c1 := newConsumer(t, cfg, js, first)
	r1 := start(t, c1)
	testkit.Eventually(t, patience, func() error {
		if !c1.Ready() {
			return errors.New("first consumer not reading yet")
		}
		return nil
	})
	before := makeEvents(50, "before")
	publishChunks(t, js, before, 5)
	testkit.Eventually(t, patience, countIs(t, first, int64(len(before))))

	// Without Standby: refused at once, nothing stored.
	refused := newConsumer(t, cfg, js, copied)
	rctx, cancel := context.WithTimeout(ctx, patience)
	err = refused.Run(rctx)
	cancel()
	if !errors.Is(err, consumer.ErrDurableBound) || !strings.Contains(err.Error(), "--standby") || !strings.Contains(err.Error(), id.Durable) {
		t.Fatalf("second consumer of one durable: Run=%v, want ErrDurableBound naming the durable and --standby", err)
	}
	if n := mustCount(t, copied); n != 0 {
		t.Errorf("the refused consumer stored %d events", n)
	}

	// With Standby: waits while the first runs, takes over when it stops.
	cfg.Standby = true
	standby := newConsumer(t, cfg, js, copied)
	r2 := start(t, standby)
	time.Sleep(time.Second) // it must still be standing by
	if standby.Ready() || !r2.running() {
		t.Fatalf("standby ready=%v running=%v while the first consumer reads, want waiting", standby.Ready(), r2.running())
	}
	if err := r1.stop(); err != nil {
		t.Fatal(err)
	}
	after := makeEvents(50, "after")
	publishChunks(t, js, after, 5)
	testkit.Eventually(t, patience, countIs(t, copied, int64(len(after))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, id.Durable) })
	checkExactlyOnce(t, copied, after)
	checkExactlyOnce(t, first, before)
	if got := mustCount(t, first); got != int64(len(before)) {
		t.Errorf("the stopped consumer's database has %d events, want %d", got, len(before))
	}
}
