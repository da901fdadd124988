package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// Track runs fn, measures it, records an event for name, and returns fn's
// error unchanged. A nil error is a success; an error is recorded with
// error_type the name of its type without the package ("*fs.PathError" is
// "PathError", a plain errors.New error is "error"; fmt.Errorf %w wrappers
// are looked through) and error_message err.Error(); an error that is a
// context deadline is a timeout. A panic in fn is recorded as an error of
// type "panic", then panics on with the same value. The event is queued (see
// Record): Track never waits for the network, and after Close it records
// nothing.
func (c *Client) Track(ctx context.Context, name string, fn func(context.Context) error) (err error) {
	start := time.Now()
	defer func() {
		// A panic goes on unchanged; it is recorded on the way.
		if p := recover(); p != nil {
			c.Record(Event{ToolName: name, Status: StatusError, DurationMs: Milliseconds(time.Since(start)),
				ErrorType: "panic", ErrorMessage: panicMessage(p)})
			panic(p)
		}
	}()
	err = fn(ctx)
	ev := Event{ToolName: name, Status: StatusSuccess, DurationMs: Milliseconds(time.Since(start))}
	if err != nil {
		ev.Status, ev.ErrorType, ev.ErrorMessage = describeError(err)
	}
	c.Record(ev)
	return err
}

// Record queues ev for the background sender and returns at once. An event
// without EventID gets a random one, so that a batch sent again after a
// failure is stored once. When the queue holds QueueSize events the oldest
// is dropped (see Dropped). After Close, Record does nothing.
func (c *Client) Record(ev Event) {
	if ev.EventID == "" {
		ev.EventID = rand.Text()
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if !c.started {
		c.started = true
		go c.run()
	}
	if len(c.queue) >= c.cfg.QueueSize {
		n := len(c.queue) - c.cfg.QueueSize + 1
		clear(c.queue[:n]) // let the dropped events' memory go
		c.queue = c.queue[n:]
		c.dropped.Add(int64(n))
	}
	c.queue = append(c.queue, ev)
	full := len(c.queue) >= c.cfg.BatchSize
	c.mu.Unlock()
	if full {
		select {
		case c.wake <- struct{}{}:
		default: // the sender has been woken already
		}
	}
}

// Dropped returns how many recorded events were lost: dropped from a full
// queue, still queued when Close gave up, or not stored by the server after
// the retries of their batch.
func (c *Client) Dropped() int64 { return c.dropped.Load() }

type flushRequest struct {
	ctx  context.Context
	done chan error // buffered: the sender never waits for Flush
}

// Flush sends the events recorded so far and waits until they are stored
// or have failed, or until ctx is done. It returns the failures of those
// sends (see Send for their types), or ctx's error.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	idle := !c.started || c.closed
	c.mu.Unlock()
	if idle {
		return nil
	}
	req := flushRequest{ctx: ctx, done: make(chan error, 1)}
	select {
	case c.flushReq <- req:
	case <-c.done: // closed meanwhile: Close flushed
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush: %w", ctx.Err())
	}
	select {
	case err := <-req.done:
		if err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush: %w", ctx.Err())
	}
}

// Close sends what is queued, waits for it until ctx is done, and stops the
// background sender. Events still queued when ctx is done are counted in
// Dropped. Track and Record after Close record nothing. Close returns the
// failures of its last sends or ctx's error; a second Close returns nil.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	started := c.started
	c.mu.Unlock()
	if !started {
		c.cancel()
		return nil
	}
	close(c.stop)
	select {
	case <-c.done:
		c.cancel()
		if c.finalErr != nil {
			return fmt.Errorf("close: %w", c.finalErr)
		}
		return nil
	case <-ctx.Done():
		c.cancel() // stop the sends in flight
		<-c.done
		return fmt.Errorf("close: %w", ctx.Err())
	}
}

// run is the background sender: it sends a batch as soon as one is full,
// everything every FlushInterval, and on Flush and Close.
func (c *Client) run() {
	defer close(c.done)
	tick := time.NewTicker(c.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.wake:
			c.drain(c.ctx, true)
		case <-tick.C:
			c.drain(c.ctx, false)
		case req := <-c.flushReq:
			ctx, cancel := context.WithCancel(req.ctx)
			stop := context.AfterFunc(c.ctx, cancel) // Close gave up
			req.done <- c.drain(ctx, false)
			stop()
			cancel()
		case <-c.stop:
			c.finalErr = c.drain(c.ctx, false)
			c.mu.Lock()
			c.dropped.Add(int64(len(c.queue)))
			c.queue = nil
			c.mu.Unlock()
			return
		}
	}
}

// drain sends the events queued when it starts (not those recorded while
// it runs, so that it ends under a steady stream), in batches of BatchSize;
// with fullOnly, only whole batches. It stops early when ctx is done,
// leaving the rest queued. Failures go to OnError and are returned.
func (c *Client) drain(ctx context.Context, fullOnly bool) error {
	c.mu.Lock()
	left := len(c.queue)
	c.mu.Unlock()
	var errs []error
	for left > 0 && ctx.Err() == nil {
		c.mu.Lock()
		n := min(len(c.queue), c.cfg.BatchSize, left)
		if n == 0 || (fullOnly && n < c.cfg.BatchSize) {
			c.mu.Unlock()
			break
		}
		batch := make([]Event, n)
		copy(batch, c.queue)
		clear(c.queue[:n])
		c.queue = c.queue[n:]
		c.mu.Unlock()
		left -= n
		if stored, err := c.sendBatch(ctx, batch); err != nil {
			c.dropped.Add(int64(len(batch) - stored)) // lost for good, as the README says
			errs = append(errs, err)
			if c.cfg.OnError != nil {
				c.cfg.OnError(err)
			}
		}
	}
	return errors.Join(errs...)
}

// sendBatch sends a batch, and again after a retryable failure (at most
// retries times): the events' ids make that safe. It returns how many
// events the server stored.
func (c *Client) sendBatch(ctx context.Context, batch []Event) (int, error) {
	for attempt := 0; ; attempt++ {
		stored, err := c.Send(ctx, batch...)
		if err == nil {
			return stored, nil
		}
		if attempt == retries || !IsRetryable(err) || ctx.Err() != nil {
			return stored, fmt.Errorf("send %d queued events: %w", len(batch), err)
		}
		wait := retryWait << attempt
		if ra := retryAfter(err); ra > wait {
			wait = min(ra, maxRetryWait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("send %d queued events: %w", len(batch), err)
		}
	}
}
