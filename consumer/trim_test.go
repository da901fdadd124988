package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// trimStreams returns the JetStream handles of an authenticated server
// with cfg's store cap, as serve logs its parts in: ingest's (which has
// declared the stream with maxBytes), the consumer's and the trimmer's
// (admin).
func trimStreams(t *testing.T, maxStore, maxBytes int64) (pub, cons, admin jetstream.JetStream) {
	t.Helper()
	srv := testkit.MustStartNATS(t, embeddednats.Config{Addr: "127.0.0.1:-1", StoreDir: t.TempDir(), CredsDir: t.TempDir(), MaxStore: maxStore})
	pub = testkit.MustJetStreamAs(t, srv, embeddednats.UserIngest)
	cfg := ingest.DefaultStreamConfig()
	cfg.MaxBytes, cfg.Given.MaxBytes = maxBytes, true
	if _, err := ingest.EnsureStream(context.Background(), pub, cfg); err != nil {
		t.Fatal(err)
	}
	return pub, testkit.MustJetStreamAs(t, srv, embeddednats.UserConsumer), testkit.MustJetStreamAs(t, srv, embeddednats.UserAdmin)
}

// publishUntilFull publishes events, ten a message, until the stream
// refuses one with a full store; it returns those it stored.
func publishUntilFull(t *testing.T, js jetstream.JetStream, prefix string) []trackskills.Event {
	t.Helper()
	return publishUntil(t, js, prefix, math.MaxUint64)
}

// publishUntil publishes events, ten a message, until the stream holds
// bytes or refuses one with a full store; it returns those it stored.
func publishUntil(t *testing.T, js jetstream.JetStream, prefix string, bytes uint64) []trackskills.Event {
	t.Helper()
	var stored []trackskills.Event
	for i := 0; testkit.MustStreamState(t, js).Bytes < bytes; i++ {
		evs := makeEvents(10, fmt.Sprintf("%s%04d", prefix, i))
		if err := tryPublish(t, js, evs); err != nil {
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != 503 {
				t.Fatalf("publish %d: %v, want a full store", i, err)
			}
			return stored
		}
		stored = append(stored, evs...)
		if i > 10000 {
			t.Fatal("the stream never filled")
		}
	}
	return stored
}

// tryPublish publishes events as one message.
func tryPublish(tb testing.TB, js jetstream.JetStream, events []trackskills.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := js.PublishMsg(ctx, newMsg(wire.SchemaV1, payload(tb, events...)))
	return err
}

// Ensure the trimmer purges only what every consumer has stored, oldest
// first: down to the low-water mark, never past the lowest ack floor, not
// at all while a durable has read nothing; and that every event published
// is in SQLite once afterwards.
func TestTrimmer_Trim_OnlyConsumed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const maxBytes = 256 << 10
	pub, cons, admin := trimStreams(t, 0, maxBytes)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	tcfg := consumer.DefaultTrimConfig()
	tr, err := consumer.NewTrimmer(admin, tcfg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	// A fifth of the cap consumed, the rest waiting for the consumer.
	consumed := publishUntil(t, pub, "a", maxBytes/5)
	_, stop := runConsumer(t, cfg, cons, db)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(consumed))))
	testkit.Eventually(t, patience, func() error { return settled(t, cons, cfg.Durable) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	floor := testkit.MustStreamState(t, pub).LastSeq
	waiting := publishUntilFull(t, pub, "b")

	// A second durable that has read nothing holds everything back.
	if _, err := admin.CreateOrUpdateConsumer(ctx, trackskills.StreamName, jetstream.ConsumerConfig{Durable: "other", AckPolicy: jetstream.AckAllPolicy}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Trim(ctx); err != nil {
		t.Fatal(err)
	}
	if st := testkit.MustStreamState(t, pub); st.FirstSeq != 1 {
		t.Fatalf("trimmed to seq %d with a durable that has read nothing", st.FirstSeq)
	}
	if err := admin.DeleteConsumer(ctx, trackskills.StreamName, "other"); err != nil {
		t.Fatal(err)
	}

	// The low-water mark asks for more than is consumed: the trim stops at
	// the floor.
	if err := tr.Trim(ctx); err != nil {
		t.Fatal(err)
	}
	st := testkit.MustStreamState(t, pub)
	if st.FirstSeq != floor+1 || st.LastSeq-st.FirstSeq+1 != st.Msgs {
		t.Fatalf("stream state %+v after a trim at ack floor %d: want every consumed message gone, none above the floor", st, floor)
	}
	if h := tr.History(); h.FirstSeq != st.FirstSeq || h.Bytes != st.Bytes || h.TrimmedMessages != floor || h.Floor != floor {
		t.Fatalf("history %+v, want the stream's state %+v, a floor of %d and %d messages trimmed", h, st, floor, floor)
	}

	// Once the consumer has stored the rest, and more up to the cap, a trim
	// brings the stream down to the low-water mark, keeping the newest
	// history.
	runConsumer(t, cfg, cons, db)
	more := publishUntilFull(t, pub, "c")
	testkit.Eventually(t, patience, countIs(t, db, int64(len(consumed)+len(waiting)+len(more))))
	testkit.Eventually(t, patience, func() error { return settled(t, cons, cfg.Durable) })
	if err := tr.Trim(ctx); err != nil {
		t.Fatal(err)
	}
	st = testkit.MustStreamState(t, pub)
	if low := uint64(tcfg.Low * maxBytes); st.Bytes > low || st.Bytes < low*3/4 {
		t.Fatalf("stream holds %d bytes after a trim, want about %d (the low-water mark)", st.Bytes, low)
	}
	last := makeEvents(10, "d")
	if err := tryPublish(t, pub, last); err != nil {
		t.Fatalf("publish after the trim: %v", err)
	}
	testkit.Eventually(t, patience, countIs(t, db, int64(len(consumed)+len(waiting)+len(more)+len(last))))
	checkExactlyOnce(t, db, consumed, waiting, more, last)
}

// Ensure a full JetStream store (its cap reached, the consumer stopped)
// takes events again by itself once the consumer has stored everything:
// the trimmer purges the consumed history, no restart. Every event the
// stream took is in SQLite once.
func TestTrimmer_Run_StoreFullRecovers(t *testing.T) {
	t.Parallel()
	const maxStore = 512 << 10
	pub, cons, admin := trimStreams(t, maxStore, 0)
	db := testkit.MustOpenDB(t)
	stored := publishUntilFull(t, pub, "full")
	tcfg := consumer.DefaultTrimConfig()
	tcfg.Every, tcfg.MaxStore = 50*time.Millisecond, maxStore
	tr, err := consumer.NewTrimmer(admin, tcfg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tr.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// Nothing is consumed yet: the store stays full.
	time.Sleep(5 * tcfg.Every)
	if err := tryPublish(t, pub, makeEvents(1, "early")); err == nil {
		t.Fatal("the store took an event with nothing consumed; want it full")
	}
	runConsumer(t, testConfig(), cons, db)
	var after []trackskills.Event
	testkit.Eventually(t, patience, func() error {
		evs := makeEvents(10, fmt.Sprintf("after%04d", len(after)))
		if err := tryPublish(t, pub, evs); err != nil {
			return err
		}
		after = append(after, evs...)
		return nil
	})
	testkit.Eventually(t, patience, countIs(t, db, int64(len(stored)+len(after))))
	checkExactlyOnce(t, db, stored, after)
	if h := tr.History(); h.TrimmedMessages == 0 || h.FirstSeq <= 1 {
		t.Fatalf("history %+v, want consumed messages trimmed", h)
	}
}

// Ensure the trimmer checks its settings.
func TestTrimConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  consumer.TrimConfig
		want string
	}{
		{"defaults", consumer.DefaultTrimConfig(), ""},
		{"high zero", consumer.TrimConfig{High: 0, Low: 0, Every: time.Second}, "high-water"},
		{"high over 1", consumer.TrimConfig{High: 1.5, Low: 0.5, Every: time.Second}, "high-water"},
		{"low at high", consumer.TrimConfig{High: 0.8, Low: 0.8, Every: time.Second}, "low-water"},
		{"no interval", consumer.TrimConfig{High: 0.9, Low: 0.7}, "interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate()=%v, want %q", err, tt.want)
			}
		})
	}
}
