package streamlag_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/streamlag"
	"github.com/trackskills/trackskills/testkit"
)

// TestOf reads the lag of a real durable on a real stream: every message
// before the durable exists, those after its ack floor once it acknowledged
// some, none once it acknowledged all.
func TestOf(t *testing.T) {
	ctx := context.Background()
	js := testkit.MustRunStream(t)
	for _, ev := range testkit.Events(5, "lag") {
		testkit.MustPublish(t, js, ev)
	}
	stream := func() jetstream.Stream {
		s, err := js.Stream(ctx, trackskills.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now().Add(time.Minute)
	if n, secs := streamlag.Of(ctx, stream(), nil, now); n != 5 || secs == nil || *secs < 59 {
		t.Errorf("no durable: lag %d messages, %v s; want 5, about 60", n, secs)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, trackskills.StreamName, jetstream.ConsumerConfig{Durable: "lag", AckPolicy: jetstream.AckAllPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var last jetstream.Msg
	for m := range batch.Messages() {
		last = m
	}
	if last == nil {
		t.Fatal("fetched nothing")
	}
	if err := last.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, secs := streamlag.Of(ctx, stream(), info, now); n != 3 || secs == nil || *secs < 59 {
		t.Errorf("two acknowledged: lag %d messages, %v s; want 3, about 60", n, secs)
	}
	batch, err = cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		last = m
	}
	if err := last.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err = cons.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if n, secs := streamlag.Of(ctx, stream(), info, now); n != 0 || secs == nil || *secs != 0 {
		t.Errorf("all acknowledged: lag %d messages, %v s; want 0, 0", n, secs)
	}
}
