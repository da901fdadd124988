package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/wire"
)

// ErrUnavailable reports that the stream cannot take events now. It wraps
// httpapi.ErrUnavailable, so the answer is a 503 with Retry-After.
var ErrUnavailable = fmt.Errorf("stream %w", httpapi.ErrUnavailable)

// ErrClosed reports a publish after Close.
var ErrClosed = errors.New("publisher closed")

// StoreFullMessage is the 503 body's error when the stream or the
// JetStream store is full: events are refused, never dropped, until there
// is room again.
const StoreFullMessage = "the event store is full: new events are refused (none is dropped) until the consumer has stored " +
	"the waiting ones and older stored history is trimmed; check that the consumer runs and can write to its database, " +
	"or raise --stream-max-bytes or --nats-max-store; retry later"

// storeFullRetry is the Retry-After of a full store: trimming runs every
// second or so once the consumer has caught up.
const storeFullRetry = 5 * time.Second

// JetStream error codes of a message the server could not store: its
// storage is over the server's limit, or the stream is at its own
// (DiscardNew), or the write failed.
const (
	jsErrInsufficientResources jetstream.ErrorCode = 10023
	jsErrStoreFailed           jetstream.ErrorCode = 10077
)

// storeFailFor is how long a failed publish keeps the readiness check
// failing when no publish has come since: clients retry within that.
const storeFailFor = 10 * time.Second

// publishFailure is the last publish that failed.
type publishFailure struct {
	err error
	at  time.Time
}

// PublisherConfig tunes group commit.
type PublisherConfig struct {
	Subject     string        // subject to publish to
	MaxInFlight int           // messages awaiting their PubAck at once
	MaxMsgBytes int           // payload cap of one message
	MaxEvents   int           // events in one message
	Timeout     time.Duration // wait for a PubAck
	// OnPublish, when set, is called once per published message with its
	// events, the time to its PubAck and its error, for metrics.
	OnPublish func(events int, took time.Duration, err error)
}

// DefaultPublisherConfig returns settings that suit a single node.
func DefaultPublisherConfig() PublisherConfig {
	return PublisherConfig{
		Subject:     trackskills.SubjectIngest,
		MaxInFlight: 4,
		MaxMsgBytes: 900 << 10, // below the default 1 MiB max_payload of an external NATS
		MaxEvents:   1000,
		Timeout:     5 * time.Second,
	}
}

// pending is a run of encoded events of one request, waiting to be published.
type pending struct {
	data []byte // NDJSON lines
	n    int    // events in data
	id   string // message id when published alone
	done chan error
}

// Publisher publishes events with group commit: the events of requests that
// arrive while earlier messages await their PubAck travel together in one
// message, so that concurrent requests share one JetStream round trip and
// one store write instead of paying one each.
type Publisher struct {
	js     jetstream.JetStream
	cfg    PublisherConfig
	logger *slog.Logger

	queue chan *pending
	slots chan struct{}

	failed atomic.Pointer[publishFailure] // nil once a publish has succeeded since

	mu     sync.RWMutex
	closed bool
	loopWG sync.WaitGroup
	ackWG  sync.WaitGroup
}

// NewPublisher starts a publisher on js.
func NewPublisher(js jetstream.JetStream, cfg PublisherConfig, logger *slog.Logger) *Publisher {
	// Zero fields take the defaults, so that a zero config works.
	def := DefaultPublisherConfig()
	if cfg.Subject == "" {
		cfg.Subject = def.Subject
	}
	if cfg.MaxInFlight < 1 {
		cfg.MaxInFlight = def.MaxInFlight
	}
	if cfg.MaxMsgBytes <= 0 {
		cfg.MaxMsgBytes = def.MaxMsgBytes
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = def.MaxEvents
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	p := &Publisher{
		js:     js,
		cfg:    cfg,
		logger: logger,
		queue:  make(chan *pending, 8192),
		slots:  make(chan struct{}, cfg.MaxInFlight),
	}
	p.loopWG.Add(1)
	go p.loop()
	return p
}

// Publish encodes events and returns once JetStream has stored all of them,
// or with an error wrapping ErrUnavailable when it could not.
func (p *Publisher) Publish(ctx context.Context, events []trackskills.Event) error {
	if len(events) == 0 {
		return nil
	}
	var runs []*pending
	cur := &pending{done: make(chan error, 1)}
	for i := range events {
		line, err := wire.AppendEvent(nil, &events[i])
		if err != nil {
			return err
		}
		if cur.n > 0 && (len(cur.data)+len(line) > p.cfg.MaxMsgBytes || cur.n >= p.cfg.MaxEvents) {
			runs = append(runs, cur)
			cur = &pending{done: make(chan error, 1)}
		}
		cur.data = append(cur.data, line...)
		cur.n++
	}
	runs = append(runs, cur)
	if len(events) == 1 {
		cur.id = events[0].EventID
	}

	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return fmt.Errorf("%w: %w", ErrUnavailable, ErrClosed)
	}
	for _, r := range runs {
		select {
		case p.queue <- r:
		case <-ctx.Done():
			p.mu.RUnlock()
			return fmt.Errorf("%w: queue full: %w", ErrUnavailable, ctx.Err())
		}
	}
	p.mu.RUnlock()

	var first error
	for _, r := range runs {
		select {
		case err := <-r.done:
			if err != nil && first == nil {
				first = err
			}
		case <-ctx.Done():
			// The message may still be stored; the client retries with
			// the same event_id and the database ignores the duplicate.
			return fmt.Errorf("%w: wait for ack: %w", ErrUnavailable, ctx.Err())
		}
	}
	return first
}

// loop groups queued runs into messages, one message per free slot.
func (p *Publisher) loop() {
	defer p.loopWG.Done()
	var carry *pending
	for {
		first := carry
		carry = nil
		if first == nil {
			var ok bool
			if first, ok = <-p.queue; !ok {
				return
			}
		}
		// Wait for a free slot first: while every slot is busy, requests
		// pile up in the queue and the next message takes them all.
		p.slots <- struct{}{}
		group := []*pending{first}
		size, n := len(first.data), first.n
	gather:
		for size < p.cfg.MaxMsgBytes && n < p.cfg.MaxEvents {
			select {
			case r, ok := <-p.queue:
				if !ok {
					break gather
				}
				if size+len(r.data) > p.cfg.MaxMsgBytes || n+r.n > p.cfg.MaxEvents {
					carry = r
					break gather
				}
				group = append(group, r)
				size += len(r.data)
				n += r.n
			default:
				break gather
			}
		}
		p.send(group, size, n)
	}
}

func (p *Publisher) send(group []*pending, size, n int) {
	data := group[0].data
	id := group[0].id
	if len(group) > 1 {
		data = make([]byte, 0, size)
		for _, r := range group {
			data = append(data, r.data...)
		}
		id = ""
	}
	if id == "" {
		id = "g" + ulid.Make().String()
	}
	msg := wire.NewMsg(p.cfg.Subject, data)
	msg.Header.Set(jetstream.MsgIDHeader, id)
	start := time.Now()
	finish := func(err error) {
		p.record(err)
		if p.cfg.OnPublish != nil {
			p.cfg.OnPublish(n, time.Since(start), err)
		}
		for _, r := range group {
			r.done <- err
		}
		<-p.slots
	}
	fut, err := p.js.PublishMsgAsync(msg)
	if err != nil {
		finish(fmt.Errorf("%w: publish: %w", ErrUnavailable, err))
		return
	}
	p.ackWG.Add(1)
	go func() {
		defer p.ackWG.Done()
		timer := time.NewTimer(p.cfg.Timeout)
		defer timer.Stop()
		select {
		case ack := <-fut.Ok():
			p.logger.Debug("published", "events", n, "bytes", size, "seq", ack.Sequence, "duplicate", ack.Duplicate)
			finish(nil)
		case err := <-fut.Err():
			finish(unavailable(err))
		case <-timer.C:
			finish(fmt.Errorf("%w: no ack after %s", ErrUnavailable, p.cfg.Timeout))
		}
	}()
}

// unavailable wraps the publish error err in ErrUnavailable, with the
// message of a full store when it is one.
func unavailable(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jsErrInsufficientResources || apiErr.ErrorCode == jsErrStoreFailed) {
		return &httpapi.UnavailableError{Message: StoreFullMessage, RetryAfter: storeFullRetry, Err: fmt.Errorf("stream: %w", err)}
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// record keeps the outcome of a publish for StoreErr.
func (p *Publisher) record(err error) {
	if err == nil {
		if p.failed.Load() != nil {
			p.failed.Store(nil)
		}
		return
	}
	p.failed.Store(&publishFailure{err: err, at: time.Now()})
}

// StoreErr returns why the stream cannot store events, while the last
// publish failed (for storeFailFor after it, when no other publish has
// come since), or nil.
func (p *Publisher) StoreErr() error {
	f := p.failed.Load()
	if f == nil || time.Since(f.at) > storeFailFor {
		return nil
	}
	err := f.err
	if ue := (*httpapi.UnavailableError)(nil); errors.As(err, &ue) {
		err = ue.Err // the cause; the message is for clients
	}
	return fmt.Errorf("cannot store: %w", err)
}

// Close stops taking events, publishes what is queued and waits, up to ctx,
// for every outstanding PubAck.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.queue)
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.loopWG.Wait()
		p.ackWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close publisher: %w", ctx.Err())
	}
}
