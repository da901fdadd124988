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
	"strings"
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
	AckWait       time.Duration // redelivery delay of an unacknowledged message; held ones are kept in progress (progressEvery)
	MaxAckPending int           // messages delivered but not yet acknowledged
	PullMaxBytes  int           // client-side buffer of fetched messages
	RetryMin      time.Duration // first wait before a failed batch is written again
	RetryMax      time.Duration // longest wait between two attempts

	RetentionRaw        time.Duration // raw events older than this are deleted; 0 keeps them
	RetentionAggregates time.Duration // aggregate rows older than this are deleted; 0 keeps them
	RetentionEvery      time.Duration // how often the retention job runs
	RetentionChunk      int           // raw rows deleted per transaction

	// ExpireRunsEvery is how often, while no batch has come for as long,
	// the consumer ends the skill runs of sessions quiet for the idle
	// timeout (sql.DB.ExpireIdleRuns); 0 leaves them to the sweep of the
	// next batch.
	ExpireRunsEvery time.Duration

	Hooks *Hooks // when set, told about the consumer's work, for metrics
}

// Hooks are called as the consumer works, for metrics; a nil one is
// skipped. They run on the write path, once per batch, and must be cheap.
type Hooks struct {
	// Committed gets the events of each batch that committed and the
	// time its SQLite write took.
	Committed func(events int, took time.Duration)
}

// DefaultConfig returns the defaults of docs/CONTRACT.md, The consumer.
func DefaultConfig() Config {
	return Config{
		BatchEvents:   1000,
		BatchWait:     200 * time.Millisecond,
		AckWait:       4 * time.Second,
		MaxAckPending: 20000,
		PullMaxBytes:  16 << 20,
		RetryMin:      500 * time.Millisecond,
		RetryMax:      30 * time.Second,

		RetentionRaw:        90 * 24 * time.Hour,
		RetentionAggregates: 400 * 24 * time.Hour,
		RetentionEvery:      time.Hour,
		RetentionChunk:      5000,

		ExpireRunsEvery: time.Minute,
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
	case c.ExpireRunsEvery < 0:
		return errors.New("run expiry interval must not be negative")
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
	Failures    int64 // failed attempts to write a batch, each retried in place
}

// Consumer is the stream -> SQLite consumer.
type Consumer struct {
	cfg    Config
	js     jetstream.JetStream
	db     *sql.DB
	logger *slog.Logger

	batches, messages, inserted, ignored, dead, failures atomic.Int64
	ready                                                atomic.Bool
	// ackFloor mirrors the acker's floor (AckAll), for a durable made
	// again after someone deleted it: it starts after the floor.
	ackFloor atomic.Uint64
	// writeFailed is the error of the last write, nil once one commits.
	writeFailed atomic.Pointer[error]

	// cons is the durable being read, for readLoop's pulls made again;
	// only Run's goroutine reads and sets it.
	cons jetstream.Consumer

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
	seqs   []uint64 // stream sequence of each message; 0 without JetStream metadata
	events []trackskills.Event
	dead   []sql.DeadLetter
	terms  map[int]string // index in msgs -> reason, for poison messages

	bytes      int       // payload bytes of msgs
	progressed time.Time // when msgs were last marked in progress, or the first one read
}

// reset empties b for the next batch, keeping its arrays.
func (b *batch) reset() {
	clear(b.msgs)
	clear(b.events)
	clear(b.dead)
	b.msgs, b.seqs, b.events, b.dead = b.msgs[:0], b.seqs[:0], b.events[:0], b.dead[:0]
	clear(b.terms)
	b.bytes = 0
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
	cons, err := c.attach(ctx, nil)
	if err == nil {
		err = c.awaitUnbound(ctx, cons)
	}
	var ack *acker
	if err == nil {
		ack, err = c.newAcker(ctx, cons)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	iter, err := cons.Messages(c.pullOpts()...)
	if err != nil {
		return fmt.Errorf("start pulling: %w", err)
	}
	c.cons = cons
	// A drain cut short (NATS gone) leaves the subscription open.
	defer iter.Stop()
	c.ready.Store(true)
	defer c.ready.Store(false)
	c.logger.Info("consumer started", "durable", c.cfg.Durable, "ack_policy", ack.policy(), "batch_events", c.cfg.BatchEvents, "batch_wait", c.cfg.BatchWait)

	// Two stages, so that decoding the next batch overlaps the SQLite
	// write of the current one. The written batches go back to the
	// reader, which fills them again: a batch is thousands of events.
	// The hand-off is unbuffered, so that the reader knows when the writer
	// is free (see readLoop).
	batches := make(chan *batch)
	free := make(chan *batch, 2)
	// A fatal write error stops the reading too, so that Run returns it.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		writeErr = c.writeLoop(ctx, batches, free, ack, stopReading)
	}()
	if c.cfg.RetentionRaw > 0 || c.cfg.RetentionAggregates > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.retentionLoop(readCtx)
		}()
	}
	if c.cfg.ExpireRunsEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.expireLoop(readCtx)
		}()
	}
	readErr := c.readLoop(readCtx, iter, batches, free, ack)
	// Whatever ended the reading (a signal, a closed iterator) ends the
	// retention and expiry jobs too, so that Run returns.
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
//
// A new durable acknowledges cumulatively (AckAll): one ack per committed
// batch instead of one per message, which costs the server and the client
// as much as a message. JetStream cannot change the ack policy of an
// existing durable, so one made before (AckExplicit) keeps its policy and
// gets an ack per message. It is not recreated: deleting a durable that
// holds unacknowledged messages, or whose position is all the database
// knows of what it has read, would lose them or read the stream again.
//
// gone is the acker of a durable someone deleted (nil otherwise): the new
// one keeps its ack policy and, with AckAll, starts after its floor, so
// that the stream is not read again from its start (events that
// retention has deleted from SQLite would be counted again).
func (c *Consumer) attach(ctx context.Context, gone *acker) (jetstream.Consumer, error) {
	delay := 100 * time.Millisecond
	for {
		cfg := jetstream.ConsumerConfig{
			Durable:       c.cfg.Durable,
			Description:   "Track Skills SQLite writer",
			AckPolicy:     jetstream.AckAllPolicy,
			AckWait:       c.cfg.AckWait,
			MaxAckPending: c.cfg.MaxAckPending,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			FilterSubject: trackskills.StreamSubjects,
			MaxDeliver:    -1,
		}
		if old, err := c.js.Consumer(ctx, trackskills.StreamName, c.cfg.Durable); err == nil {
			// JetStream changes none of these on an update.
			oc := old.CachedInfo().Config
			cfg.AckPolicy, cfg.DeliverPolicy, cfg.OptStartSeq = oc.AckPolicy, oc.DeliverPolicy, oc.OptStartSeq
		} else if gone != nil {
			if !gone.all {
				cfg.AckPolicy = jetstream.AckExplicitPolicy
			} else if floor := c.ackFloor.Load(); floor > 0 {
				cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, floor+1
			}
		}
		cons, err := c.js.CreateOrUpdateConsumer(ctx, trackskills.StreamName, cfg)
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

// idleRepull is how long the reader goes without a message before it
// makes its pull request again. A pull the server lost (JetStream
// restarted in place after a full disk) is otherwise noticed only by the
// client's heartbeat check, which a Next that returns every 250 ms never
// lets fire: the consumer would wait for messages no one sends it.
const idleRepull = 10 * time.Second

// pullOpts are the options of the consumer's message iterator.
func (c *Consumer) pullOpts() []jetstream.PullMessagesOpt {
	return []jetstream.PullMessagesOpt{jetstream.PullMaxBytes(c.cfg.PullMaxBytes)}
}

// reattach makes the durable again after someone deleted it, and returns
// an iterator on the new one. Its messages after the ack floor come again;
// those the writer commits meanwhile are then ignored.
//
// The server tells the reader of the deletion before it has removed the
// durable and its stored position, and a durable of the same name made in
// that window takes the old one's position from the store instead of its
// own start, reading again what the old one had already delivered. So
// reattach first waits until the old durable is gone, and makes the new one
// again while the server did not start it where it was asked to.
func (c *Consumer) reattach(ctx context.Context, gone *acker) (jetstream.MessagesContext, error) {
	c.logger.Warn("durable consumer deleted: making it again", "durable", c.cfg.Durable, "after_seq", c.ackFloor.Load())
	var oldCreated time.Time
	if c.cons != nil {
		oldCreated = c.cons.CachedInfo().Created
	}
	var cons jetstream.Consumer
	for attempt := 1; ; attempt++ {
		if err := c.awaitDeleted(ctx, oldCreated); err != nil {
			return nil, err
		}
		var err error
		if cons, err = c.attach(ctx, gone); err != nil {
			return nil, err
		}
		info := cons.CachedInfo()
		if attempt >= reattachTries || startedAsAsked(info) {
			break
		}
		// Made from the old durable's stored state: nothing has been
		// read from it yet, so it can go.
		c.logger.Info("new durable took the deleted one's stored position: making it again",
			"durable", c.cfg.Durable, "start_seq", info.Config.OptStartSeq, "delivered_seq", info.Delivered.Stream)
		oldCreated = info.Created
		if err := c.js.DeleteConsumer(ctx, trackskills.StreamName, c.cfg.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("delete the misplaced durable: %w", err)
		}
	}
	iter, err := cons.Messages(c.pullOpts()...)
	if err != nil {
		return nil, fmt.Errorf("start pulling: %w", err)
	}
	c.cons = cons
	return iter, nil
}

// reattachTries bounds how often reattach makes the durable again when the
// server did not start it where asked; past it the consumer reads on from
// where the server put it (a message read again is ignored, not counted).
const reattachTries = 10

// startedAsAsked reports whether a durable made to start at a sequence
// (DeliverByStartSequence) stands there: nothing delivered past the
// sequence before it, nothing pending.
func startedAsAsked(info *jetstream.ConsumerInfo) bool {
	if info.Config.DeliverPolicy != jetstream.DeliverByStartSequencePolicy {
		return true
	}
	before := info.Config.OptStartSeq - 1
	return info.Delivered.Stream == before && info.AckFloor.Stream == before && info.NumAckPending == 0
}

// awaitDeleted waits until the durable made at created is no longer
// there. It returns once the durable is missing or is another one (made
// since by someone else), and after a few seconds in any case: attach
// then updates what it finds.
func (c *Consumer) awaitDeleted(ctx context.Context, created time.Time) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		cons, err := c.js.Consumer(ctx, trackskills.StreamName, c.cfg.Durable)
		if err != nil || !cons.CachedInfo().Created.Equal(created) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the deleted durable: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
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

// batchGrowth bounds how far a batch grows past BatchEvents while the
// writer is busy with the one before.
const batchGrowth = 8

// handoffPoll is how often a batch that is due looks again whether the
// writer is free, reading more messages in between.
const handoffPoll = 2 * time.Millisecond

// readLoop fills batches from iter and hands them to the writer. A batch is
// due at BatchEvents events, or BatchWait after its first message; it goes
// as soon as the writer is free. While the writer is still busy with the
// batch before, a due batch keeps growing, up to batchGrowth times
// BatchEvents: under a load the writer cannot follow at one batch size, its
// batches grow, and a larger batch costs less per event (fewer commits,
// and rollup rows shared by more events), so the lag stops growing; under a
// light load nothing waits longer than before.
//
// A batch that is full while the writer is still busy waits in a queue,
// and the reader reads on: messages left in the client's buffer could not
// be marked in progress, and would come back after AckWait although they
// are on their way. Every held batch is marked in progress every
// progressEvery. The server delivers at most MaxAckPending messages
// unacknowledged, and past PullMaxBytes of queued payload the reader waits
// for the writer instead, so the queue stays bounded.
//
// When someone deletes the durable, readLoop makes it again (attach) and
// reads on; ack is the writer's acker, read only then.
func (c *Consumer) readLoop(ctx context.Context, iter jetstream.MessagesContext, out chan<- *batch, free <-chan *batch, ack *acker) error {
	defer func() { iter.Stop() }() // the last iterator, after a durable made again
	draining := false
	maxEvents := c.cfg.BatchEvents * batchGrowth
	var cur *batch
	var deadline time.Time
	lastMsg := time.Now() // of the last message read, for idleRepull
	var queue []*batch    // full batches waiting for the writer, oldest first
	queued := 0           // their payload bytes
	// sendFirst hands the oldest queued batch over, waiting for the writer
	// when wait is set, and reports whether it did. Once sent, the batch
	// is the writer's: nothing here reads it again.
	sendFirst := func(wait bool) bool {
		b, n := queue[0], queue[0].bytes
		if wait {
			c.handOff(out, b)
		} else if !tryHandOff(out, b) {
			return false
		}
		queued -= n
		queue[0] = nil
		queue = queue[1:]
		return true
	}
	// flush hands every held batch over, in order, waiting for the writer.
	flush := func() {
		for len(queue) > 0 {
			sendFirst(true)
		}
		if cur != nil {
			c.handOff(out, cur)
			cur = nil
		}
	}
	for {
		if !draining && ctx.Err() != nil {
			// Stop pulling; Next still returns what is buffered.
			iter.Drain()
			draining = true
		}
		now := time.Now()
		for _, b := range queue {
			c.keepFresh(b, now)
		}
		if cur != nil {
			c.keepFresh(cur, now)
		}
		for len(queue) > 0 && sendFirst(false) {
		}
		due := cur != nil && (len(cur.events) >= c.cfg.BatchEvents || !now.Before(deadline))
		if due {
			switch {
			case draining:
				flush()
				due = false
			case len(queue) == 0 && tryHandOff(out, cur):
				cur, due = nil, false
			case len(cur.events) >= maxEvents:
				for len(queue) > 0 && queued+cur.bytes > c.cfg.PullMaxBytes {
					sendFirst(true)
				}
				queue = append(queue, cur)
				queued += cur.bytes
				cur, due = nil, false
			}
			// Otherwise the writer is busy: read on.
		}
		wait := 250 * time.Millisecond
		switch {
		case draining:
			// Drained messages are already buffered: a short wait
			// suffices, and an iterator whose connection is gone
			// would never report its drain as complete.
			wait = 100 * time.Millisecond
		case due || len(queue) > 0:
			wait = handoffPoll
		case cur != nil:
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
				select {
				case cur = <-free:
				default:
					cur = &batch{
						msgs:   make([]jetstream.Msg, 0, c.cfg.BatchEvents),
						seqs:   make([]uint64, 0, c.cfg.BatchEvents),
						events: make([]trackskills.Event, 0, c.cfg.BatchEvents),
					}
				}
				deadline = time.Now().Add(c.cfg.BatchWait)
				cur.progressed = time.Now()
			}
			c.add(cur, msg)
			lastMsg = time.Now()
		case errors.Is(err, nats.ErrTimeout):
			// A batch past its deadline is due: the top of the loop
			// hands it over.
			if draining && wait > 0 {
				flush()
				return nil
			}
			if !draining && cur == nil && len(queue) == 0 && time.Since(lastMsg) >= idleRepull && c.cons != nil {
				// Nothing is held; a message on its way to the old
				// subscription comes back after AckWait.
				if next, err := c.cons.Messages(c.pullOpts()...); err == nil {
					iter.Stop()
					iter = next
				}
				lastMsg = time.Now()
			}
		case errors.Is(err, jetstream.ErrConsumerDeleted) && !draining:
			flush()
			next, err := c.reattach(ctx, ack)
			if err != nil {
				if ctx.Err() != nil {
					return nil // stopped while waiting for the stream: nothing held
				}
				return err
			}
			iter = next
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			flush()
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
	b.bytes += len(msg.Data())
	var seq uint64
	if meta, err := msg.Metadata(); err == nil {
		seq = meta.Sequence.Stream
	}
	b.seqs = append(b.seqs, seq)
	var dl sql.DeadLetter
	var err error
	if b.events, dl, err = decodeAt(msg, seq, b.events); err == nil {
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
	var seq uint64
	if meta, err := msg.Metadata(); err == nil {
		seq = meta.Sequence.Stream
	}
	return decodeAt(msg, seq, events)
}

// decodeAt is decodeMsg for a message whose stream sequence is known.
func decodeAt(msg jetstream.Msg, seq uint64, events []trackskills.Event) ([]trackskills.Event, sql.DeadLetter, error) {
	events, err := decodeData(msg.Headers(), msg.Data(), seq, events)
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
		if err := checkIdentity(&ev); err != nil {
			return err
		}
		ev.StreamSeq = seq
		events = append(events, ev)
		return nil
	})
	if err != nil {
		return events[:start], err
	}
	return events, nil
}

// checkIdentity checks that the identity fields of ev are hashes as ingest
// makes them. Ingest never lets an identity through unhashed; a message
// published straight to the stream may carry a raw user id, which must not
// be stored.
func checkIdentity(ev *trackskills.Event) error {
	if !trackskills.IsIdentityHash(ev.UserHash) {
		return fmt.Errorf("event %s: user_hash is not a hash (%d lower-case hex characters): published to the stream past ingest", ev.EventID, trackskills.IdentityHashLen)
	}
	if ev.SessionHash != "" && !trackskills.IsIdentityHash(ev.SessionHash) {
		return fmt.Errorf("event %s: session_hash is not a hash (%d lower-case hex characters): published to the stream past ingest", ev.EventID, trackskills.IdentityHashLen)
	}
	return nil
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

// writeLoop commits each batch, then acknowledges its messages. A batch
// that fails to commit (a full disk, a locked file) is written again, with
// a growing wait between attempts, until it commits or ctx ends: it is
// never NAKed, so the batches commit in the order they were read, which
// the cumulative ack needs (acker). While it waits its messages are marked
// in progress, so that the server does not redeliver them, and the reader,
// whose next batch has nowhere to go, stops reading. Nothing is
// acknowledged that is not committed.
func (c *Consumer) writeLoop(ctx context.Context, in <-chan *batch, free chan<- *batch, ack *acker, stopReading func()) error {
	var fatal error
	stopped := false // ctx ended while a batch failed: leave the rest
	for b := range in {
		if fatal != nil || stopped {
			continue // leave unacknowledged: redelivered after AckWait
		}
		// From here until its ack, b is kept in progress, however long
		// its write takes.
		keep := c.keepInProgress(b.msgs)
		res, ok := c.commit(ctx, b)
		if !ok {
			keep()
			stopped = true
			c.logger.Warn("stopped with a batch not written; the stream delivers it again", "batch_size", len(b.events), "messages", len(b.msgs))
			continue
		}
		if c.afterCommit != nil {
			if err := c.afterCommit(); err != nil {
				keep()
				fatal = err
				stopReading()
				continue
			}
		}
		keep()
		c.messages.Add(int64(ack.committed(b)))
		c.ackFloor.Store(ack.floor)
		c.batches.Add(1)
		c.inserted.Add(int64(res.Inserted))
		c.ignored.Add(int64(res.Ignored))
		c.dead.Add(int64(res.DeadLetters))
		c.logger.Debug("batch committed", "batch_size", len(b.events), "inserted", res.Inserted, "ignored", res.Ignored, "messages", len(b.msgs))
		b.reset()
		select {
		case free <- b:
		default:
		}
	}
	return fatal
}

// commit writes b, trying again after a failure with a wait growing from
// RetryMin to RetryMax, until it commits (true) or ctx ends (false). The
// caller keeps b's messages in progress meanwhile.
func (c *Consumer) commit(ctx context.Context, b *batch) (sql.BatchResult, bool) {
	retry := c.cfg.RetryMin
	for {
		wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		res, err := c.db.WriteBatch(wctx, b.events, b.dead)
		cancel()
		c.recordWrite(err)
		if err == nil {
			if h := c.cfg.Hooks; h != nil && h.Committed != nil {
				h.Committed(len(b.events), time.Since(start))
			}
			return res, true
		}
		c.failures.Add(1)
		c.logger.Error("write batch; will retry", "batch_size", len(b.events), "retry_in", retry, "err", err)
		select {
		case <-ctx.Done():
			return res, false
		case <-time.After(retry):
		}
		retry = min(retry*2, c.cfg.RetryMax)
	}
}

// progressEvery is how often the messages the consumer holds (in a batch
// that grows, waits for the writer, is written or retried) are marked in
// progress: a third of AckWait, so that a short AckWait, which brings the
// messages of a killed consumer back within seconds, never redelivers a
// message still on its way to SQLite. A batch that goes through in less
// sends no progress at all.
func (c *Consumer) progressEvery() time.Duration { return c.cfg.AckWait / 3 }

// markInProgress tells the server that msgs are still being worked on,
// which restarts their AckWait.
func markInProgress(msgs []jetstream.Msg) {
	for _, m := range msgs {
		_ = m.InProgress() // if it is lost, the message comes back after AckWait: ignored once committed
	}
}

// keepFresh marks b's messages in progress when they last were
// progressEvery ago or more.
func (c *Consumer) keepFresh(b *batch, now time.Time) {
	if now.Sub(b.progressed) >= c.progressEvery() {
		markInProgress(b.msgs)
		b.progressed = now
	}
}

// tryHandOff gives b to the writer if it is free.
func tryHandOff(out chan<- *batch, b *batch) bool {
	select {
	case out <- b:
		return true
	default:
		return false
	}
}

// handOff gives b to the writer, waiting until it is free, and meanwhile
// keeps b's messages in progress.
func (c *Consumer) handOff(out chan<- *batch, b *batch) {
	for {
		t := time.NewTimer(max(c.progressEvery()-time.Since(b.progressed), 0))
		select {
		case out <- b:
			t.Stop()
			return
		case now := <-t.C:
			c.keepFresh(b, now)
		}
	}
}

// keepInProgress marks msgs in progress every progressEvery, from another
// goroutine, until the returned stop is called; stop returns once that
// goroutine is done with msgs, so that the caller may then ack or reuse them.
func (c *Consumer) keepInProgress(msgs []jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(c.progressEvery())
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				markInProgress(msgs)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// gapCheckEvery is how often, at most, an acker with committed messages
// above a missing sequence asks the stream whether that one still exists.
const gapCheckEvery = time.Second

// acker acknowledges committed batches.
//
// With AckExplicit it acknowledges each message (and terminates each
// poison message, which the server announces).
//
// With AckAll one ack of a message acknowledges every message of the
// stream up to it, delivered to this consumer or not, so the acker only
// acks a sequence below which every message is committed: floor. Every
// message of the stream matches the durable's filter, so floor moves past
// each sequence once it is committed, or gone from the stream. A sequence
// is missing while a message is delivered again that an earlier consumer
// held when it stopped or crashed (the server gives it back after
// AckWait), or one lost in flight (a reconnect); the messages committed
// above it wait, unacknowledged, in ahead, and may come back once more
// before the floor reaches them; they are then ignored. A poison message
// is terminated once the floor reaches it (a terminate also acknowledges
// cumulatively), so the server still announces it.
type acker struct {
	all    bool
	stream jetstream.Stream // to look up a missing sequence

	floor     uint64             // every sequence up to here is committed or gone
	ahead     map[uint64]heldMsg // committed messages above a missing sequence
	checked   time.Time          // when the stream was last asked about the missing sequence
	logger    *slog.Logger
	gapLogged bool
}

// heldMsg is a committed message waiting for the floor.
type heldMsg struct {
	msg    jetstream.Msg
	seq    uint64 // stream sequence
	reason string // why it is poison; empty for a good message
}

// newAcker returns the acker of the durable cons.
func (c *Consumer) newAcker(ctx context.Context, cons jetstream.Consumer) (*acker, error) {
	info := cons.CachedInfo()
	a := &acker{all: info.Config.AckPolicy == jetstream.AckAllPolicy, logger: c.logger}
	if !a.all {
		return a, nil
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("look at the durable: %w", err)
	}
	if a.stream, err = c.js.Stream(ctx, trackskills.StreamName); err != nil {
		return nil, fmt.Errorf("look at the stream: %w", err)
	}
	a.floor = info.AckFloor.Stream
	a.ahead = map[uint64]heldMsg{}
	return a, nil
}

// policy names the ack policy, for the log.
func (a *acker) policy() string {
	if a.all {
		return "all"
	}
	return "explicit"
}

// committed acknowledges the messages of the committed batch b and returns
// how many it acknowledged or terminated (for AckAll: how many the floor
// passed, this batch's or held before).
func (a *acker) committed(b *batch) int {
	if !a.all {
		for i, m := range b.msgs {
			var err error
			if reason, ok := b.terms[i]; ok {
				err = m.TermWithReason(reason)
			} else {
				err = m.Ack()
			}
			if err != nil {
				// The row is committed; a redelivery will be ignored.
				a.logger.Debug("ack", "err", err)
			}
		}
		return len(b.msgs)
	}
	n := 0
	var target heldMsg // the last message the floor passed, if msg is set
	var again heldMsg  // the highest redelivery below the floor, if msg is set
	for i, m := range b.msgs {
		h := heldMsg{msg: m, seq: b.seqs[i], reason: b.terms[i]}
		switch {
		case h.seq == 0:
			// Not a JetStream message: nothing to acknowledge.
		case h.seq <= a.floor:
			// Delivered again although covered: the server still holds
			// it (an ack lost, or one the server took for stale). Its
			// ack waits for the end of the batch: the server ignores a
			// cumulative ack whose delivery is older than one it took,
			// and this delivery is newer than the held messages the
			// batch may pass.
			if again.msg == nil || h.seq > again.seq {
				again = h
			}
			n++
		case h.seq == a.floor+1 && len(a.ahead) == 0:
			a.floor++
			target = a.pass(h)
			n++
		default:
			a.ahead[h.seq] = h
		}
	}
	if len(a.ahead) > 0 {
		n += a.drain(&target)
	}
	if len(a.ahead) > 0 && time.Since(a.checked) >= gapCheckEvery {
		n += a.skipGone()
		n += a.drain(&target)
	}
	switch {
	case target.msg != nil:
		a.settle(target, false) // covers again, which is below it
	case again.msg != nil:
		a.settle(again, true) // covers the other redeliveries below it
	}
	return n
}

// pass records that the floor has reached h and returns the new ack
// target: h, or none for a poison message, which it terminates at once
// (all below it is committed), acknowledging up to it.
func (a *acker) pass(h heldMsg) heldMsg {
	if h.reason != "" {
		a.settle(h, false)
		return heldMsg{}
	}
	return h
}

// drain moves the floor over the held messages that follow it, and
// returns how many it passed.
func (a *acker) drain(target *heldMsg) int {
	n := 0
	for {
		h, ok := a.ahead[a.floor+1]
		if !ok {
			break
		}
		delete(a.ahead, a.floor+1)
		a.floor++
		*target = a.pass(h)
		n++
	}
	if len(a.ahead) == 0 && a.gapLogged {
		a.logger.Info("missing messages delivered again: acknowledging", "floor", a.floor)
		a.gapLogged = false
	}
	return n
}

// skipGone moves the floor over sequences that are no longer in the stream
// (deleted, or past its age or size limits), which will never be
// delivered. It stops at the first that exists: that one is held
// elsewhere and comes back after AckWait. It returns how many held
// messages the floor passed.
func (a *acker) skipGone() int {
	a.checked = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := a.stream.Info(ctx)
	if err != nil {
		a.logger.Debug("look at the stream", "err", err)
		return 0
	}
	n := 0
	if first := info.State.FirstSeq; first > a.floor+1 {
		a.floor = first - 1
		for seq := range a.ahead {
			if seq <= a.floor {
				// Committed, and gone from the stream since: the
				// next ack covers it.
				delete(a.ahead, seq)
				n++
			}
		}
	}
	for range 100 {
		if _, ok := a.ahead[a.floor+1]; ok {
			return n
		}
		m, err := a.stream.GetMsg(ctx, a.floor+1)
		if err == nil && !strings.HasPrefix(m.Subject, trackskills.SubjectPrefix) {
			// Outside the durable's filter (a subject an operator added
			// to the stream): never delivered here, so never committed.
			a.floor++
			continue
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			if err == nil && !a.gapLogged {
				a.logger.Info("message missing below committed ones: holding their acks until it is delivered again", "stream_seq", a.floor+1, "held", len(a.ahead))
				a.gapLogged = true
			}
			return n
		}
		a.floor++
	}
	return n
}

// settle acknowledges h, or terminates it when it is poison. With AckAll
// either covers every sequence up to h, which the caller has committed.
func (a *acker) settle(h heldMsg, again bool) {
	var err error
	switch {
	case h.reason != "" && !again:
		err = h.msg.TermWithReason(h.reason)
	default:
		err = h.msg.Ack()
	}
	if err != nil {
		// The rows are committed; a redelivery will be ignored.
		a.logger.Debug("ack", "err", err)
	}
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

// expireLoop ends the runs of quiet sessions every ExpireRunsEvery in
// which no batch committed, until ctx ends: under load, the sweep of each
// batch does it. Its failures are logged: the next turn tries again.
func (c *Consumer) expireLoop(ctx context.Context) {
	last := c.batches.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.cfg.ExpireRunsEvery):
		}
		if n := c.batches.Load(); n != last {
			last = n
			continue
		}
		if err := c.db.ExpireIdleRuns(ctx); err != nil && ctx.Err() == nil {
			c.logger.Error("end the runs of quiet sessions", "err", err)
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
