package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// mustReference returns a database that holds events written once, in one
// batch: what the consumer's database must hold however often the stream
// delivered them.
func mustReference(tb testing.TB, events ...[]trackskills.Event) *sql.DB {
	tb.Helper()
	db := testkit.MustOpenDB(tb)
	var all []trackskills.Event
	for _, evs := range events {
		all = append(all, evs...)
	}
	if _, err := db.WriteBatch(context.Background(), all, nil); err != nil {
		tb.Fatal(err)
	}
	return db
}

// ackPolicy returns the ack policy of the durable consumer.
func ackPolicy(tb testing.TB, js jetstream.JetStream, durable string) jetstream.AckPolicy {
	tb.Helper()
	info, err := consumerInfo(tb, js, durable)
	if err != nil {
		tb.Fatal(err)
	}
	return info.Config.AckPolicy
}

// Ensure a consumer that stopped holding messages, committed and not
// acknowledged (a crash between commit and ack) or delivered and not
// committed (a crash before the commit), loses and duplicates nothing when
// the next consumer gets newer messages first: one cumulative ack of those
// would acknowledge the held ones too, so it waits until the stream has
// delivered them again.
func TestConsumer_Run_AckAllAfterCrash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		crash func(t *testing.T, js jetstream.JetStream, db *sql.DB) // leaves messages pending
	}{
		{name: "CommittedNotAcknowledged", crash: func(t *testing.T, js jetstream.JetStream, db *sql.DB) {
			c := newConsumer(t, testConfig(), js, db)
			crashAfterFirstCommit(t, c)
			if mustCount(t, db) == 0 {
				t.Fatal("no row committed before the crash")
			}
		}},
		{name: "DeliveredNotCommitted", crash: func(t *testing.T, js jetstream.JetStream, db *sql.DB) {
			// A reader that never acknowledges takes the messages.
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			cons, err := js.Consumer(ctx, trackskills.StreamName, testDurable)
			if err != nil {
				t.Fatal(err)
			}
			info, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			batch, err := cons.Fetch(int(info.NumPending), jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for range batch.Messages() {
				n++
			}
			if n == 0 || mustCount(t, db) != 0 {
				t.Fatalf("%d messages taken, %d events stored; want some taken, none stored", n, mustCount(t, db))
			}
		}},
	}
	for _, tt := range tests {
		for _, delay := range []time.Duration{0, time.Hour} {
			t.Run(fmt.Sprintf("%s/rollup-delay=%v", tt.name, delay), func(t *testing.T) {
				t.Parallel()
				testAckAllAfterCrash(t, tt.crash, delay)
			})
		}
	}
}

// testAckAllAfterCrash is a case of TestConsumer_Run_AckAllAfterCrash, its
// database holding the rollups for delay (WithRollupDelay).
func testAckAllAfterCrash(t *testing.T, crash func(t *testing.T, js jetstream.JetStream, db *sql.DB), delay time.Duration) {
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t, sql.WithRollupDelay(delay, 0), sql.WithRollupQuiet(0)) // held through its pauses
	cfg := testConfig()
	// The consumer makes its durable on the empty stream.
	c := newConsumer(t, cfg, js, db)
	r := start(t, c)
	testkit.Eventually(t, patience, func() error {
		if !c.Ready() {
			return errors.New("the consumer has not made its durable yet")
		}
		return nil
	})
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	held := makeEvents(300, "held")
	publishChunks(t, js, held, 30)
	costs := makeAPIRequests(60, "cost") // marks, no raw rows: their ledger counts each once too
	publishChunks(t, js, costs, 20)
	publishRaw(t, js, wire.SchemaV1, "", []byte("poison {"))
	crash(t, js, db)
	if got := ackPolicy(t, js, cfg.Durable); got != jetstream.AckAllPolicy {
		t.Fatalf("ack policy %v, want %v", got, jetstream.AckAllPolicy)
	}
	info, err := consumerInfo(t, js, cfg.Durable)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending == 0 {
		t.Fatal("no message left pending by the crash")
	}

	newer := makeEvents(300, "newer")
	publishChunks(t, js, newer, 30)
	c, _ = runConsumer(t, cfg, js, db)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(held)+len(newer))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	checkExactlyOnce(t, db, held, newer)
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ref := mustReference(t, held, newer, costs)
	sameAggregates(t, db, ref)
	if c, err := ref.Costs(context.Background(), sql.Window{From: 0, To: time.Now().Add(time.Hour).UnixMilli()}); err != nil || len(c) != 12 {
		t.Errorf("reference costs %d rows (%v), want 12 (3 models x 4 skills)", len(c), err)
	}
	reasons, err := db.DeadLetterReasons(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(reasons) != 1 {
		t.Errorf("dead letters %q, want the one poison message", reasons)
	}
	if n := redeliveries(t, js, cfg.Durable); n == 0 {
		t.Error("nothing delivered again: the held messages were acknowledged without being stored")
	}
	t.Logf("stats=%+v", c.Stats())
}

// Ensure a batch that cannot be committed (a full disk) is written again
// in place, its messages kept from redelivery meanwhile, for longer than
// the ack wait: once the disk has room every event is stored once, and
// the stream never delivered a message twice.
func TestConsumer_Run_RetryInPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	cfg.BatchEvents, cfg.BatchWait = 5000, time.Second // every message below in one batch
	warm := makeEvents(10, "warm")
	publish(t, js, warm...)
	_, stop := runConsumer(t, cfg, js, db)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(warm))))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	fillDisk(t, db)

	events := makeEvents(2000, "retry")
	publishChunks(t, js, events, 500)
	c, _ := runConsumer(t, cfg, js, db)
	failing := time.Now()
	testkit.Eventually(t, patience, func() error {
		if s := c.Stats(); s.Failures < 3 || time.Since(failing) < 2*cfg.AckWait {
			return fmt.Errorf("stats=%+v after %s, want 3 failures over twice the ack wait", s, time.Since(failing).Round(time.Millisecond))
		}
		return nil
	})
	if got := mustCount(t, db); got != int64(len(warm)) {
		t.Errorf("%d events stored while the disk is full, want %d", got, len(warm))
	}
	if err := db.LimitSize(ctx, 0); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, patience, countIs(t, db, int64(len(warm)+len(events))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	checkExactlyOnce(t, db, warm, events)
	sameAggregates(t, db, mustReference(t, warm, events))
	if n := redeliveries(t, js, cfg.Durable); n != 0 {
		t.Errorf("%d redeliveries, want none: the retried batch is kept in progress", n)
	}
	if s := c.Stats(); s.Inserted != int64(len(events)) || s.Ignored != 0 {
		t.Errorf("stats=%+v, want %d inserted and none ignored", s, len(events))
	}
}

// Ensure the messages of an outage longer than the ack wait (small batches
// queued behind the failing one, and any delivered again) are stored once,
// in the rows and in the rollups.
func TestConsumer_Run_RedeliveredWhileRetrying(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	cfg.AckWait = time.Second
	cfg.BatchEvents = 100
	// A small client buffer: the batches queued behind the failing one
	// soon fill it, and the messages left in the client's buffer, which
	// cannot be marked in progress, come back after the ack wait.
	cfg.PullMaxBytes = 64 << 10
	c := newConsumer(t, cfg, js, db)
	start(t, c)
	warm := makeEvents(10, "warm")
	publish(t, js, warm...)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(warm))))
	fillDisk(t, db)
	events := makeEvents(2000, "again")
	publishChunks(t, js, events, 100)
	// An outage of three ack waits. The batches queued behind the failing
	// one are kept in progress; messages the client still buffers may come
	// back meanwhile.
	failing := time.Now()
	testkit.Eventually(t, patience, func() error {
		if time.Since(failing) < 3*cfg.AckWait {
			return fmt.Errorf("stats=%+v, the outage goes on", c.Stats())
		}
		return nil
	})
	t.Logf("%d redeliveries during the outage", redeliveries(t, js, cfg.Durable))
	if err := db.LimitSize(ctx, 0); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, patience, countIs(t, db, int64(len(warm)+len(events))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	checkExactlyOnce(t, db, warm, events)
	sameAggregates(t, db, mustReference(t, warm, events))
	if s := c.Stats(); s.Inserted != int64(len(warm)+len(events)) {
		t.Errorf("stats=%+v, want %d inserted", s, len(warm)+len(events))
	}
}

// Ensure a durable made before cumulative acks (AckExplicit, which
// JetStream cannot change) keeps its policy and works: each message
// acknowledged, a poison message terminated and kept once.
func TestConsumer_Run_ExplicitAckDurable(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	// The configuration the consumer gave its durable before.
	if _, err := js.CreateOrUpdateConsumer(ctx, trackskills.StreamName, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   "Track Skills SQLite writer",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: cfg.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: trackskills.StreamSubjects,
		MaxDeliver:    -1,
	}); err != nil {
		t.Fatal(err)
	}
	events := makeEvents(500, "explicit")
	publishChunks(t, js, events[:250], 10)
	publishRaw(t, js, wire.SchemaV1, "", []byte("poison {"))
	publishChunks(t, js, events[250:], 10)

	c, _ := runConsumer(t, cfg, js, db)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(events))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	checkExactlyOnce(t, db, events)
	sameAggregates(t, db, mustReference(t, events))
	if got := ackPolicy(t, js, cfg.Durable); got != jetstream.AckExplicitPolicy {
		t.Errorf("ack policy %v, want %v kept", got, jetstream.AckExplicitPolicy)
	}
	testkit.Eventually(t, patience, func() error {
		if s := c.Stats(); s.DeadLetters != 1 || s.Messages < 51 {
			return fmt.Errorf("stats=%+v, want 1 dead letter and 51 messages", s)
		}
		return nil
	})
}

// Ensure a new durable acknowledges cumulatively.
func TestConsumer_Run_AckAllDurable(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	runConsumer(t, cfg, js, db)
	events := makeEvents(100, "all")
	publishChunks(t, js, events, 1)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(events))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	if got := ackPolicy(t, js, cfg.Durable); got != jetstream.AckAllPolicy {
		t.Errorf("ack policy %v, want %v", got, jetstream.AckAllPolicy)
	}
	checkExactlyOnce(t, db, events)
}

// Ensure a message on a subject outside the durable's filter (one an
// operator added to the stream) does not hold the cumulative ack back: the
// events after it are acknowledged too.
func TestConsumer_Run_AckAllPastAnotherSubject(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	js := testkit.MustRunStream(t)
	stream := testkit.MustEventsStream(t, js)
	cfg := stream.CachedInfo().Config
	cfg.Subjects = append(cfg.Subjects, "ops.>")
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	db := testkit.MustOpenDB(t)
	before, after := makeEvents(100, "before"), makeEvents(100, "after")
	publishChunks(t, js, before, 10)
	if _, err := js.Publish(ctx, "ops.note", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	publishChunks(t, js, after, 10)
	runConsumer(t, testConfig(), js, db)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(before)+len(after))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, testDurable) })
	checkExactlyOnce(t, db, before, after)
}
