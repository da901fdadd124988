package testkit

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
)

// MustEventsStream looks up the events stream, failing tb when it cannot.
// The lookup fetches the stream's info: CachedInfo holds it as of the call.
func MustEventsStream(tb testing.TB, js jetstream.JetStream) jetstream.Stream {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), natsTimeout)
	defer cancel()
	st, err := js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		tb.Fatalf("stream: %v", err)
	}
	return st
}

// MustStreamState returns the state of the events stream now: its message
// count, first and last sequence and bytes.
func MustStreamState(tb testing.TB, js jetstream.JetStream) jetstream.StreamState {
	tb.Helper()
	return MustEventsStream(tb, js).CachedInfo().State
}
