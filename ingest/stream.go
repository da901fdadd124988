package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
)

// StreamConfig configures the JetStream stream that ingest declares.
type StreamConfig struct {
	MaxAge     time.Duration // events older than this leave the stream
	MaxBytes   int64         // 0 means no size limit
	Duplicates time.Duration // Nats-Msg-Id deduplication window
	Replicas   int           // 1 unless running on a NATS cluster
}

// DefaultStreamConfig returns the stream settings of docs/CONTRACT.md, The
// stream.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{MaxAge: 90 * 24 * time.Hour, Duplicates: 2 * time.Minute, Replicas: 1}
}

// Validate checks the stream settings.
func (c StreamConfig) Validate() error {
	switch {
	case c.MaxAge < 0:
		return errors.New("stream max age must not be negative")
	case c.MaxBytes < 0:
		return errors.New("stream max bytes must not be negative")
	case c.Duplicates < 0:
		return errors.New("stream duplicate window must not be negative")
	case c.Replicas < 1 || c.Replicas > 5:
		return errors.New("stream replicas must be 1-5")
	}
	return nil
}

// EnsureStream creates the events stream, or updates it to cfg. The
// publisher declares the stream; the consumer only waits for it.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc := jetstream.StreamConfig{
		Name:        trackskills.StreamName,
		Description: "Track Skills events (one or more NDJSON events a message)",
		Subjects:    []string{trackskills.StreamSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    -1,
		Duplicates:  cfg.Duplicates,
		Replicas:    cfg.Replicas,
		Discard:     jetstream.DiscardOld,
	}
	if cfg.MaxBytes > 0 {
		// Retention by size, like by age: the oldest events leave. The
		// stream keeps events after the consumer has stored them, so
		// refusing new ones instead (DiscardNew) would stop ingest for
		// good once the cap is reached, however current the consumer is.
		sc.MaxBytes = cfg.MaxBytes
	}
	if sc.Duplicates > sc.MaxAge && sc.MaxAge > 0 {
		sc.Duplicates = sc.MaxAge
	}
	s, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w", trackskills.StreamName, err)
	}
	return s, nil
}
