package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/metrics"
	"github.com/trackskills/trackskills/testkit"
)

// durableConfig is a durable pull consumer named name.
func durableConfig(name string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckAllPolicy}
}

// Ensure the stream collector reads the stream, and the lag of a durable
// in messages after its ack floor and in the age of the oldest waiting
// message; without a durable, no lag.
func TestRegisterStream(t *testing.T) {
	js := testkit.MustRunStream(t)
	ctx := context.Background()
	s := testkit.MustEventsStream(t, js)
	if _, err := s.CreateOrUpdateConsumer(ctx, durableConfig("d")); err != nil {
		t.Fatal(err)
	}
	testkit.MustPublish(t, js, testkit.Events(1, "a")...)
	testkit.MustPublish(t, js, testkit.Events(1, "b")...)
	testkit.MustPublish(t, js, testkit.Events(1, "c")...)

	reg := metrics.New()
	if err := reg.RegisterStream(js, func(context.Context) (string, error) { return "d", nil }); err != nil {
		t.Fatal(err)
	}
	m := scrape(t, reg)
	for name, want := range map[string]float64{
		"trackskills_stream_up": 1, "trackskills_stream_messages": 3, "trackskills_consumer_lag_messages": 3,
	} {
		if got, _ := m.Value(name); got != want {
			t.Errorf("%s=%v, want %v", name, got, want)
		}
	}
	if got, ok := m.Value("trackskills_consumer_lag_seconds"); !ok || got <= 0 {
		t.Errorf("lag seconds=%v (found %v), want above 0", got, ok)
	}
	if got, _ := m.Value("trackskills_stream_bytes"); got <= 0 {
		t.Errorf("stream bytes=%v", got)
	}

	// Acknowledging the first two leaves one to lag.
	c, err := s.Consumer(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	// Fetch waits for the two: FetchNoWait may come back before the
	// server has them ready for the consumer, under load.
	batch, err := c.Fetch(2, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var last jetstream.Msg
	n := 0
	for msg := range batch.Messages() {
		last = msg
		n++
	}
	if n != 2 {
		t.Fatalf("fetched %d messages, want 2 (%v)", n, batch.Error())
	}
	if err := last.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := scrape(t, reg).Value("trackskills_consumer_lag_messages"); got != 1 {
		t.Errorf("lag after acking 2 of 3: %v, want 1", got)
	}

	t.Run("NoDurable", func(t *testing.T) {
		reg := metrics.New()
		if err := reg.RegisterStream(js, nil); err != nil {
			t.Fatal(err)
		}
		m := scrape(t, reg)
		if _, ok := m["trackskills_consumer_lag_messages"]; ok {
			t.Error("lag without a durable")
		}
		if got, _ := m.Value("trackskills_stream_messages"); got != 3 {
			t.Errorf("stream messages=%v, want 3", got)
		}
	})
	t.Run("DurableUnknown", func(t *testing.T) {
		reg := metrics.New()
		if err := reg.RegisterStream(js, func(context.Context) (string, error) { return "", errors.New("no database") }); err != nil {
			t.Fatal(err)
		}
		m := scrape(t, reg)
		if _, ok := m["trackskills_consumer_lag_messages"]; ok {
			t.Error("lag of an unknown durable")
		}
		if got, _ := m.Value("trackskills_stream_up"); got != 1 {
			t.Errorf("stream up=%v, want 1", got)
		}
	})
}
