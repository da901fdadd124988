package testkit

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/wire"
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

// StreamState returns the state of the events stream now, or the error
// of the lookup: for a poll that retries while a cluster settles, where
// one lookup may time out without the test having failed.
func StreamState(ctx context.Context, js jetstream.JetStream) (jetstream.StreamState, error) {
	st, err := js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		return jetstream.StreamState{}, fmt.Errorf("stream: %w", err)
	}
	return st.CachedInfo().State, nil
}

// MustStreamState returns the state of the events stream now: its message
// count, first and last sequence and bytes.
func MustStreamState(tb testing.TB, js jetstream.JetStream) jetstream.StreamState {
	tb.Helper()
	return MustEventsStream(tb, js).CachedInfo().State
}

// MustStreamPayloads returns the payload of every message of the events
// stream, decompressed: what a scan for data that must not be stored
// reads, since the files of the stream hold batches compressed.
func MustStreamPayloads(tb testing.TB, js jetstream.JetStream) [][]byte {
	tb.Helper()
	st := MustEventsStream(tb, js)
	ctx, cancel := context.WithTimeout(context.Background(), natsTimeout)
	defer cancel()
	info, err := st.Info(ctx)
	if err != nil {
		tb.Fatalf("stream info: %v", err)
	}
	var out [][]byte
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		} else if err != nil {
			tb.Fatalf("get msg %d: %v", seq, err)
		}
		p, err := wire.Payload(m.Header, m.Data)
		if err != nil {
			tb.Fatalf("payload of msg %d: %v", seq, err)
		}
		out = append(out, p)
	}
	return out
}
