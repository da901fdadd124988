// Package streamlag reads how far a durable consumer is behind the events
// stream, from JetStream's own state: the one reading behind the
// pipeline's health, the consumer-lag metrics and `trackskills status`.
package streamlag

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Of returns how far the durable described by ci is behind s, a stream
// whose CachedInfo is fresh: the messages after its ack floor, and the age
// at now of the oldest of them (one read of that message; nil when it
// cannot be read). A nil ci is a durable that does not exist yet: every
// message of the stream waits, the oldest since the stream's first.
func Of(ctx context.Context, s jetstream.Stream, ci *jetstream.ConsumerInfo, now time.Time) (messages uint64, seconds *float64) {
	ss := s.CachedInfo().State
	if ci == nil {
		if ss.Msgs == 0 {
			return 0, new(0.0)
		}
		return ss.Msgs, new(max(now.Sub(ss.FirstTime).Seconds(), 0))
	}
	if ss.LastSeq > ci.AckFloor.Stream {
		messages = ss.LastSeq - ci.AckFloor.Stream
	}
	if messages == 0 {
		return 0, new(0.0)
	}
	// The oldest unacknowledged message is the one after the ack floor,
	// or the stream's first when retention removed that one.
	m, err := s.GetMsg(ctx, max(ci.AckFloor.Stream+1, ss.FirstSeq))
	if err != nil {
		return messages, nil
	}
	return messages, new(max(now.Sub(m.Time).Seconds(), 0))
}
