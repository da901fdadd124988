package consumer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/testkit"
)

// errNotYet is what a poll returns before its condition holds.
var errNotYet = errors.New("not yet")

// Ensure messages the consumer holds for longer than the ack wait (a batch
// slow to commit and ack, and the batches queued behind it) are kept in
// progress: every event is stored once and the stream delivers no message
// twice.
func TestConsumer_Run_HeldBatchesInProgress(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	cfg.BatchEvents = 100
	c := newConsumer(t, cfg, js, db)
	var calls atomic.Int64
	release := make(chan struct{})
	consumer.SetAfterCommit(c, func() error {
		if calls.Add(1) == 1 {
			<-release // the first batch is held between commit and ack
		}
		return nil
	})
	start(t, c)
	first := makeEvents(100, "first")
	publish(t, js, first...)
	testkit.Eventually(t, patience, func() error {
		if calls.Load() == 0 {
			return errNotYet
		}
		return nil
	})
	queued := makeEvents(2000, "queued")
	publishChunks(t, js, queued, 100)
	// Hold the batches for three ack waits: without progress signals the
	// server would deliver all of them again.
	time.Sleep(3 * cfg.AckWait)
	close(release)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(first)+len(queued))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	checkExactlyOnce(t, db, first, queued)
	if n := redeliveries(t, js, cfg.Durable); n != 0 {
		t.Errorf("%d redeliveries, want none: held messages are kept in progress", n)
	}
	if s := c.Stats(); s.Ignored != 0 {
		t.Errorf("stats=%+v, want none ignored", s)
	}
}

// Ensure the ack wait of an existing durable (made with the former 30 s
// default) is updated in place to the configured one.
func TestConsumer_Run_UpdatesAckWait(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if _, err := js.CreateOrUpdateConsumer(ctx, trackskills.StreamName, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: cfg.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: trackskills.StreamSubjects,
		MaxDeliver:    -1,
	}); err != nil {
		t.Fatal(err)
	}
	c, _ := runConsumer(t, cfg, js, db)
	testkit.Eventually(t, patience, func() error {
		if !c.Ready() {
			return errNotYet
		}
		return nil
	})
	info, err := consumerInfo(t, js, cfg.Durable)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Config.AckWait, cfg.AckWait; got != want {
		t.Fatalf("ack wait=%s, want %s", got, want)
	}
}
