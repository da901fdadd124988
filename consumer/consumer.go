// Package consumer moves events from the JetStream stream into SQLite: a
// durable pull consumer reads batches, writes each in one transaction and
// acknowledges the messages only after the commit.
package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/wire"
)

// Config configures the consumer.
type Config struct {
	Durable       string        // durable consumer name; empty: the one the database names (sql.Identity)
	Standby       bool          // when another consumer reads the durable, wait for it to go instead of failing
	BatchEvents   int           // close a batch at this many events
	BatchWait     time.Duration // or this long after its first message
	AckWait       time.Duration // redelivery delay of an unacknowledged message
	MaxAckPending int           // messages delivered but not yet acknowledged
	PullMaxBytes  int           // client-side buffer of fetched messages
	RetryMin      time.Duration // first NAK delay after a database error
	RetryMax      time.Duration // longest NAK delay

	RetentionRaw        time.Duration // raw events older than this are deleted; 0 keeps them
	RetentionAggregates time.Duration // aggregate rows older than this are deleted; 0 keeps them
	RetentionEvery      time.Duration // how often the retention job runs
	RetentionChunk      int           // raw rows deleted per transaction
}

// DefaultConfig returns the defaults of docs/CONTRACT.md, The consumer.
func DefaultConfig() Config {
	return Config{
		BatchEvents:   1000,
		BatchWait:     50 * time.Millisecond,
		AckWait:       30 * time.Second,
		MaxAckPending: 20000,
		PullMaxBytes:  16 << 20,
		RetryMin:      500 * time.Millisecond,
		RetryMax:      30 * time.Second,

		RetentionRaw:        90 * 24 * time.Hour,
		RetentionAggregates: 400 * 24 * time.Hour,
		RetentionEvery:      time.Hour,
		RetentionChunk:      5000,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.BatchEvents < 1:
		return errors.New("consumer batch size must be at least 1")
	case c.BatchWait <= 0:
		return errors.New("consumer batch wait must be positive")
	case c.AckWait < time.Second:
		return errors.New("consumer ack wait must be at least 1s")
	case c.MaxAckPending < 1:
		return errors.New("consumer max ack pending must be at least 1")
	case c.RetentionRaw < 0 || c.RetentionAggregates < 0:
		return errors.New("retention must not be negative")
	case (c.RetentionRaw > 0 || c.RetentionAggregates > 0) && c.RetentionEvery <= 0:
		return errors.New("retention interval must be positive")
	}
	return nil
}

// Stats counts what the consumer has done since it started.
type Stats struct {
	Batches     int64 // committed transactions
	Messages    int64 // stream messages acknowledged or terminated
	Inserted    int64 // new rows
	Ignored     int64 // events already stored (redeliveries)
	DeadLetters int64 // poison messages kept in dead_letters
	Failures    int64 // batches that failed and were NAKed
}

// Consumer is the stream -> SQLite consumer.
type Consumer struct {
	cfg    Config
	js     jetstream.JetStream
	db     *sql.DB
	logger *slog.Logger

	batches, messages, inserted, ignored, dead, failures atomic.Int64
	ready                                                atomic.Bool

	// afterCommit runs between commit and ack; tests use it to simulate a
	// crash in that window.
	afterCommit func() error
}

// New returns a consumer that writes to db.
func New(cfg Config, js jetstream.JetStream, db *sql.DB, logger *slog.Logger) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Consumer{cfg: cfg, js: js, db: db, logger: logger}, nil
}

// Stats returns the counters.
func (c *Consumer) Stats() Stats {
	return Stats{
		Batches: c.batches.Load(), Messages: c.messages.Load(), Inserted: c.inserted.Load(),
		Ignored: c.ignored.Load(), DeadLetters: c.dead.Load(), Failures: c.failures.Load(),
	}
}

// ErrDurableBound is returned by Run when another consumer, somewhere, is
// already reading the durable: two copies of one database (a restored
// backup beside its original) would otherwise split the stream between
// them, each missing what the other stored.
var ErrDurableBound = errors.New("durable consumer is being read by another consumer")

// Ready reports whether the durable consumer exists and is being read.
func (c *Consumer) Ready() bool { return c.ready.Load() }

// batch is a run of messages written in one transaction.
type batch struct {
	msgs   []jetstream.Msg
	events []trackskills.Event
	dead   []sql.DeadLetter
	terms  map[int]string // index in msgs -> reason, for poison messages
}

// Run consumes until ctx ends, then stops fetching, writes and acknowledges
// what it already holds, and returns nil.
func (c *Consumer) Run(ctx context.Context) error {
	if c.cfg.Durable == "" {
		id, err := c.db.Identity(ctx)
		if err != nil {
			return fmt.Errorf("name the durable consumer: %w", err)
		}
		c.cfg.Durable = id.Durable
	}
	cons, err := c.attach(ctx)
	if err == nil {
		err = c.awaitUnbound(ctx, cons)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	iter, err := cons.Messages(jetstream.PullMaxBytes(c.cfg.PullMaxBytes))
	if err != nil {
		return fmt.Errorf("start pulling: %w", err)
	}
	// A drain cut short (NATS gone) leaves the subscription open.
	defer iter.Stop()
	c.ready.Store(true)
	defer c.ready.Store(false)
	c.logger.Info("consumer started", "durable", c.cfg.Durable, "batch_events", c.cfg.BatchEvents, "batch_wait", c.cfg.BatchWait)

	// Two stages, so that decoding the next batch overlaps the SQLite
	// write of the current one.
	batches := make(chan *batch, 1)
	// A fatal write error stops the reading too, so that Run returns it.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		writeErr = c.writeLoop(batches, stopReading)
	}()
	if c.cfg.RetentionRaw > 0 || c.cfg.RetentionAggregates > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.retentionLoop(readCtx)
		}()
	}
	readErr := c.readLoop(readCtx, iter, batches)
	// Whatever ended the reading (a signal, a closed iterator) ends the
	// retention job too, so that Run returns.
	stopReading()
	close(batches)
	wg.Wait()
	if err := errors.Join(readErr, writeErr); err != nil {
		return err
	}
	c.logger.Info("consumer stopped", "inserted", c.inserted.Load(), "ignored", c.ignored.Load(), "dead_letters", c.dead.Load())
	return nil
}

// attach creates or updates the durable consumer, waiting with backoff for
// the stream, which the publisher declares.
func (c *Consumer) attach(ctx context.Context) (jetstream.Consumer, error) {
	delay := 100 * time.Millisecond
	for {
		cons, err := c.js.CreateOrUpdateConsumer(ctx, trackskills.StreamName, jetstream.ConsumerConfig{
			Durable:       c.cfg.Durable,
			Description:   "Track Skills SQLite writer",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       c.cfg.AckWait,
			MaxAckPending: c.cfg.MaxAckPending,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			FilterSubject: trackskills.StreamSubjects,
			MaxDeliver:    -1,
		})
		if err == nil {
			return cons, nil
		}
		c.logger.Info("waiting for the stream", "stream", trackskills.StreamName, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("attach consumer: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// boundSamples and boundEvery say how often awaitUnbound looks at the
// durable before it calls it free: another reader's pull request can be
// answered and not yet renewed at any one look.
const (
	boundSamples = 2
	boundEvery   = 100 * time.Millisecond
)

// awaitUnbound returns nil once no other consumer is reading the durable:
// none of boundSamples looks sees a pull request waiting on it (the server
// counts only requests whose client is still connected, so a killed
// consumer's go with its connection). When one is seen it returns
// ErrDurableBound, or with Standby waits, looking again every second,
// until the other has gone.
func (c *Consumer) awaitUnbound(ctx context.Context, cons jetstream.Consumer) error {
	logged := false
	for {
		waiting, err := c.pullsWaiting(ctx, cons)
		if err != nil {
			return err
		}
		if waiting == 0 {
			if logged {
				c.logger.Info("durable consumer is free: taking over", "durable", c.cfg.Durable)
			}
			return nil
		}
		if !c.cfg.Standby {
			return fmt.Errorf("%w: durable %s has %d pull requests waiting from another client; two copies of one database "+
				"(a restored backup beside its original) must not both consume; stop the other, or start this one with --standby to take over when it goes",
				ErrDurableBound, c.cfg.Durable, waiting)
		}
		if !logged {
			c.logger.Info("standing by: another consumer reads the durable", "durable", c.cfg.Durable, "pull_requests", waiting)
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stand by: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// pullsWaiting returns the most pull requests any of boundSamples looks at
// the durable saw waiting.
func (c *Consumer) pullsWaiting(ctx context.Context, cons jetstream.Consumer) (int, error) {
	most := 0
	for i := range boundSamples {
		if i > 0 {
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("look at the durable: %w", ctx.Err())
			case <-time.After(boundEvery):
			}
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("look at the durable: %w", err)
		}
		most = max(most, info.NumWaiting)
	}
	return most, nil
}

// readLoop fills batches of up to BatchEvents events, closing each at most
// BatchWait after its first message.
func (c *Consumer) readLoop(ctx context.Context, iter jetstream.MessagesContext, out chan<- *batch) error {
	draining := false
	var cur *batch
	var deadline time.Time
	for {
		if !draining && ctx.Err() != nil {
			// Stop pulling; Next still returns what is buffered.
			iter.Drain()
			draining = true
		}
		wait := 250 * time.Millisecond
		if draining {
			// Drained messages are already buffered: a short wait
			// suffices, and an iterator whose connection is gone
			// would never report its drain as complete.
			wait = 100 * time.Millisecond
		}
		if cur != nil {
			wait = min(wait, time.Until(deadline))
		}
		var msg jetstream.Msg
		var err error
		if wait > 0 {
			msg, err = iter.Next(jetstream.NextMaxWait(wait))
		} else {
			err = nats.ErrTimeout
		}
		switch {
		case err == nil:
			if cur == nil {
				cur = &batch{}
				deadline = time.Now().Add(c.cfg.BatchWait)
			}
			c.add(cur, msg)
			if len(cur.events) >= c.cfg.BatchEvents {
				out <- cur
				cur = nil
			}
		case errors.Is(err, nats.ErrTimeout):
			if cur != nil {
				out <- cur
				cur = nil
			}
			if draining && wait > 0 {
				return nil
			}
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			if cur != nil {
				out <- cur
			}
			if draining {
				return nil
			}
			return fmt.Errorf("message iterator closed: %w", err)
		default:
			c.logger.Debug("pull", "err", err)
		}
	}
}

// add decodes msg into b; a message that cannot be decoded becomes a dead
// letter, so one poison message never blocks its batch.
func (c *Consumer) add(b *batch, msg jetstream.Msg) {
	b.msgs = append(b.msgs, msg)
	var dl sql.DeadLetter
	var err error
	if b.events, dl, err = decodeMsg(msg, b.events); err == nil {
		return
	}
	b.dead = append(b.dead, dl)
	if b.terms == nil {
		b.terms = map[int]string{}
	}
	b.terms[len(b.msgs)-1] = dl.Reason
	c.logger.Warn("poison message sent to dead_letters", "stream_seq", dl.StreamSeq, "subject", dl.Subject, "err", err)
}

// decodeMsg appends the events of msg to events, each with the message's
// stream sequence. A message that cannot be decoded leaves events as they
// were and returns the dead letter that keeps it, with the decode error;
// the consumer and the replay share it, so that both store the same rows.
func decodeMsg(msg jetstream.Msg, events []trackskills.Event) ([]trackskills.Event, sql.DeadLetter, error) {
	meta, err := msg.Metadata()
	var seq uint64
	if err == nil {
		seq = meta.Sequence.Stream
	}
	events, err = decodeData(msg.Headers(), msg.Data(), seq, events)
	if err == nil {
		return events, sql.DeadLetter{}, nil
	}
	hdr, _ := json.Marshal(msg.Headers()) // a map of strings always encodes
	return events, sql.DeadLetter{
		StreamSeq: seq, Subject: msg.Subject(), Reason: deadReason(err),
		Headers: string(hdr), Payload: msg.Data(),
	}, err
}

// decodeData appends the events of a message's headers and payload to
// events, each with the stream sequence seq; on an error it leaves events
// as they were.
func decodeData(h nats.Header, data []byte, seq uint64, events []trackskills.Event) ([]trackskills.Event, error) {
	start := len(events)
	err := wire.Decode(h, data, func(ev trackskills.Event) error {
		ev.StreamSeq = seq
		events = append(events, ev)
		return nil
	})
	if err != nil {
		return events[:start], err
	}
	return events, nil
}

// deadReason is the reason a dead letter keeps for the decode error err.
func deadReason(err error) string { return fmt.Sprintf("undecodable message: %v", err) }

// DecodeDeadLetter decodes a stored dead letter as the consumer decodes a
// message: its headers (the JSON object decodeMsg stored) and its payload,
// each event with the dead letter's stream sequence. When it still cannot
// be decoded it returns the error and the reason the dead letter should
// keep, worded as the consumer words it.
func DecodeDeadLetter(dl sql.DeadLetter) ([]trackskills.Event, string, error) {
	var h nats.Header
	if dl.Headers != "" {
		if err := json.Unmarshal([]byte(dl.Headers), &h); err != nil {
			err = fmt.Errorf("headers: %w", err)
			return nil, deadReason(err), err
		}
	}
	events, err := decodeData(h, dl.Payload, dl.StreamSeq, nil)
	if err != nil {
		return nil, deadReason(err), err
	}
	return events, "", nil
}

// writeLoop commits each batch, then acknowledges its messages. On a
// database error the messages are NAKed with a growing delay, so they come
// back later; nothing is acknowledged that is not committed.
func (c *Consumer) writeLoop(in <-chan *batch, stopReading func()) error {
	retry := c.cfg.RetryMin
	var fatal error
	for b := range in {
		if fatal != nil {
			continue // leave unacknowledged: redelivered after AckWait
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := c.db.WriteBatch(ctx, b.events, b.dead)
		cancel()
		if err != nil {
			c.failures.Add(1)
			c.logger.Error("write batch; will retry", "batch_size", len(b.events), "retry_in", retry, "err", err)
			for _, m := range b.msgs {
				_ = m.NakWithDelay(retry) // if the NAK is lost, AckWait redelivers
			}
			time.Sleep(min(retry, time.Second)) // let the disk or lock recover
			retry = min(retry*2, c.cfg.RetryMax)
			continue
		}
		retry = c.cfg.RetryMin
		if c.afterCommit != nil {
			if err := c.afterCommit(); err != nil {
				fatal = err
				stopReading()
				continue
			}
		}
		for i, m := range b.msgs {
			var err error
			if reason, ok := b.terms[i]; ok {
				err = m.TermWithReason(reason)
			} else {
				err = m.Ack()
			}
			if err != nil {
				// The row is committed; a redelivery will be ignored.
				c.logger.Debug("ack", "err", err)
			}
		}
		c.batches.Add(1)
		c.messages.Add(int64(len(b.msgs)))
		c.inserted.Add(int64(res.Inserted))
		c.ignored.Add(int64(res.Ignored))
		c.dead.Add(int64(res.DeadLetters))
		c.logger.Debug("batch committed", "batch_size", len(b.events), "inserted", res.Inserted, "ignored", res.Ignored, "messages", len(b.msgs))
	}
	return fatal
}

// retentionLoop deletes expired raw events and aggregates now and then
// every RetentionEvery, until ctx ends. Its failures are logged: the next
// run tries again.
func (c *Consumer) retentionLoop(ctx context.Context) {
	for {
		c.applyRetention(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.cfg.RetentionEvery):
		}
	}
}

func (c *Consumer) applyRetention(ctx context.Context) {
	now := c.db.Now()
	if c.cfg.RetentionRaw > 0 {
		n, err := c.db.DeleteEventsBefore(ctx, now.Add(-c.cfg.RetentionRaw).UnixMilli(), c.cfg.RetentionChunk)
		if err != nil && ctx.Err() == nil {
			c.logger.Error("delete expired events", "err", err)
		} else if n > 0 {
			c.logger.Info("deleted expired events", "events", n, "retention", c.cfg.RetentionRaw)
		}
	}
	if c.cfg.RetentionAggregates > 0 {
		n, err := c.db.DeleteAggregatesBefore(ctx, now.Add(-c.cfg.RetentionAggregates).UnixMilli())
		if err != nil && ctx.Err() == nil {
			c.logger.Error("delete expired aggregates", "err", err)
		} else if n > 0 {
			c.logger.Info("deleted expired aggregate rows", "rows", n, "retention", c.cfg.RetentionAggregates)
		}
	}
}
