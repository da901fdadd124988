package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
)

// TrimConfig configures a Trimmer.
type TrimConfig struct {
	// High is the share of a limit (the stream's MaxBytes, MaxStore) past
	// which consumed history is trimmed; Low the share it is trimmed down
	// to.
	High, Low float64
	// Every is how often the stream is looked at.
	Every time.Duration
	// MaxStore is the JetStream store's cap in bytes, the server's
	// (embeddednats.Config.MaxStore); 0 when it has none.
	MaxStore int64
}

// DefaultTrimConfig returns the defaults of docs/CONTRACT.md, The stream.
func DefaultTrimConfig() TrimConfig {
	return TrimConfig{High: 0.9, Low: 0.7, Every: time.Second}
}

// Validate checks the configuration.
func (c TrimConfig) Validate() error {
	switch {
	case c.High <= 0 || c.High > 1:
		return errors.New("trim high-water mark must be above 0 and at most 1 (100%)")
	case c.Low < 0 || c.Low >= c.High:
		return errors.New("trim low-water mark must be at least 0 and below the high-water mark")
	case c.Every <= 0:
		return errors.New("trim interval must be positive")
	case c.MaxStore < 0:
		return errors.New("max store must not be negative")
	}
	return nil
}

// History is the replay history the stream holds: what replay and rebuild
// can read again.
type History struct {
	FirstSeq  uint64    // oldest message kept
	FirstTime time.Time // when it was stored
	Messages  uint64
	Bytes     uint64
	// Floor is the lowest ack floor of the stream's consumers: every
	// message up to it is consumed (stored in SQLite) by all of them.
	Floor uint64
	// TrimmedMessages and TrimmedBytes count what the trimmer removed
	// since it started.
	TrimmedMessages, TrimmedBytes uint64
}

// Trimmer makes room in the events stream when it passes a high-water
// mark, by purging its consumed history oldest first: only messages below
// the ack floor of every consumer of the stream, which all of them have
// stored, so that no event is lost that is not in SQLite. The stream
// refuses new events when full (DiscardNew); without trimming, consumed
// events would fill it for the whole replay window and ingest would
// refuse events for good.
//
// It runs in the process that runs the NATS server (serve, trackskills
// nats), with a connection allowed to purge the stream and list its
// consumers.
type Trimmer struct {
	js     jetstream.JetStream
	cfg    TrimConfig
	logger *slog.Logger

	mu      sync.Mutex
	history History
	stuck   bool // over the mark with nothing consumed to trim: logged once
	// active is set from a pass of the high-water mark until the low one
	// is reached: a trim cut short by the ack floor goes on as the floor
	// moves, instead of waiting for the next pass of the high mark.
	active bool
}

// NewTrimmer returns a trimmer of the events stream on js.
func NewTrimmer(js jetstream.JetStream, cfg TrimConfig, logger *slog.Logger) (*Trimmer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Trimmer{js: js, cfg: cfg, logger: logger}, nil
}

// History returns the replay history as last seen.
func (t *Trimmer) History() History {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.history
}

// Run trims every cfg.Every until ctx ends. Its failures are logged: the
// next round tries again.
func (t *Trimmer) Run(ctx context.Context) {
	for {
		if err := t.Trim(ctx); err != nil && ctx.Err() == nil {
			t.logger.Debug("trim the stream", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(t.cfg.Every):
		}
	}
}

// trimRounds bounds the purges of one Trim: each cuts at an estimate from
// the average message size, and the next corrects it.
const trimRounds = 8

// Trim purges consumed history when the stream, or the store, is past the
// high-water mark, down to the low-water mark or to the consumers' ack
// floor, whichever comes first.
func (t *Trimmer) Trim(ctx context.Context) error {
	s, err := t.js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		return fmt.Errorf("look at the stream: %w", err)
	}
	var purgedMsgs, purgedBytes, floor uint64
	var holder string
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("look at the stream: %w", err)
	}
	for round := 0; round < trimRounds; round++ {
		st := info.State
		excess, err := t.excess(ctx, info)
		if err != nil {
			return err
		}
		t.mu.Lock()
		t.active = excess > 0
		t.mu.Unlock()
		if excess == 0 {
			break
		}
		if round == 0 {
			if floor, holder, err = t.floor(ctx, s); err != nil {
				return err
			}
		}
		// Cut at the sequence below which about excess bytes are, by the
		// average message size; never past the floor.
		avg := float64(st.Bytes) / float64(max(st.Msgs, 1))
		cut := min(st.FirstSeq+uint64(math.Ceil(float64(excess)/max(avg, 1))), floor+1)
		if cut <= st.FirstSeq {
			t.stuckOnce(st, floor, holder, excess)
			break
		}
		if err := s.Purge(ctx, jetstream.WithPurgeSequence(cut)); err != nil {
			return fmt.Errorf("purge the stream below seq %d: %w", cut, err)
		}
		if info, err = s.Info(ctx); err != nil {
			return fmt.Errorf("look at the stream: %w", err)
		}
		purgedMsgs += st.Msgs - min(info.State.Msgs, st.Msgs)
		purgedBytes += st.Bytes - min(info.State.Bytes, st.Bytes)
		t.mu.Lock()
		t.stuck = false
		t.mu.Unlock()
	}
	t.record(info.State, floor, purgedMsgs, purgedBytes)
	if purgedMsgs > 0 {
		h := t.History()
		t.logger.Info("trimmed consumed history from the stream", "messages", purgedMsgs, "bytes", purgedBytes,
			"history_first_seq", h.FirstSeq, "history_first_time", h.FirstTime.UTC().Format(time.RFC3339),
			"history_messages", h.Messages, "history_bytes", h.Bytes, "ack_floor", h.Floor)
	}
	return nil
}

// excess returns how many bytes the stream must lose to be back at the
// low-water mark, when it or the store is past the high-water mark (or,
// while a trim is active, past the low one); else 0.
func (t *Trimmer) excess(ctx context.Context, info *jetstream.StreamInfo) (uint64, error) {
	t.mu.Lock()
	mark := t.cfg.High
	if t.active {
		mark = t.cfg.Low
	}
	t.mu.Unlock()
	var excess uint64
	over := func(used uint64, limit int64) {
		if limit <= 0 || float64(used) <= mark*float64(limit) {
			return
		}
		excess = max(excess, used-min(used, uint64(t.cfg.Low*float64(limit))))
	}
	over(info.State.Bytes, info.Config.MaxBytes)
	if t.cfg.MaxStore > 0 {
		ai, err := t.js.AccountInfo(ctx)
		if err != nil {
			return 0, fmt.Errorf("look at the store: %w", err)
		}
		over(ai.Store, t.cfg.MaxStore)
	}
	return min(excess, info.State.Bytes), nil
}

// floor returns the lowest ack floor of the stream's consumers and the
// consumer that has it; 0 when the stream has none: nothing is known to be
// consumed.
func (t *Trimmer) floor(ctx context.Context, s jetstream.Stream) (uint64, string, error) {
	lister := s.ListConsumers(ctx)
	floor, holder := uint64(math.MaxUint64), ""
	for ci := range lister.Info() {
		if holder == "" || ci.AckFloor.Stream < floor {
			floor, holder = ci.AckFloor.Stream, ci.Name
		}
	}
	if err := lister.Err(); err != nil {
		return 0, "", fmt.Errorf("list the stream's consumers: %w", err)
	}
	if holder == "" {
		return 0, "", nil
	}
	return floor, holder, nil
}

func (t *Trimmer) record(st jetstream.StreamState, floor, msgs, bytes uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := &t.history
	h.FirstSeq, h.FirstTime, h.Messages, h.Bytes = st.FirstSeq, st.FirstTime, st.Msgs, st.Bytes
	if floor > 0 {
		h.Floor = floor
	}
	h.TrimmedMessages += msgs
	h.TrimmedBytes += bytes
}

// stuckOnce logs, once until a trim succeeds, that the stream is past the
// mark with nothing consumed left to trim: what it holds waits for the
// consumer holder (none: no consumer exists yet).
func (t *Trimmer) stuckOnce(st jetstream.StreamState, floor uint64, holder string, excess uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stuck {
		return
	}
	t.stuck = true
	t.logger.Warn("stream past its high-water mark with no consumed history left to trim: new events are refused once it is full, until the consumer stores what waits "+
		"(a durable whose database is gone holds everything back: delete it)",
		"stream_bytes", st.Bytes, "over_low_water_bytes", excess, "first_seq", st.FirstSeq, "ack_floor", floor, "held_by", holder,
		"unconsumed_messages", st.LastSeq-min(floor, st.LastSeq))
}
