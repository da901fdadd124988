package sql

import (
	"bytes"
	"context"
	dbsql "database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trackskills/trackskills"
)

// Deferred rollups (WithRollupDelay). A batch of a thousand live events
// touches most rollup rows it would touch with ten thousand: the same tools,
// users, sessions and runs. So a writer that defers them commits each
// batch's raw rows (and marks) at once, as durable as before, and keeps
// the events in memory; every delay, or once it holds maxEvents, it writes
// the rollups of all of them in one transaction, exactly as one batch of
// those events would. Readers of the rollups see them up to the delay late;
// the raw rows, which the consumer's acknowledgement waits for, are not
// late at all.
//
// Nothing is lost if the process dies in between: each transaction that
// commits events without their rollups also writes to rollup_pending what
// the raw rows lack (migration 0022), and Open rolls up the events a dead
// writer left. The transaction that writes the rollups empties the table,
// so an event is rolled up once: either in the transaction that clears its
// row, or, if that never commits, after the restart.

// DefaultRollupEvents is how many events a deferring writer holds at most
// before it writes their rollups, whatever its delay.
const DefaultRollupEvents = 50_000

// DefaultRollupQuiet is how long a deferring writer waits without new
// events before it writes the rollups it holds, unless WithRollupQuiet
// says otherwise: under a steady load batches come far more often, and the
// rollups wait for the delay; after the last events of a burst, or the one
// event someone sends to try the server, they land a second later.
const DefaultRollupQuiet = time.Second

// WithRollupDelay makes the writer defer the rollups of the events it
// commits by up to delay, and at most maxEvents events (DefaultRollupEvents
// when 0 or less); it writes them sooner once no new event has come for
// DefaultRollupQuiet (WithRollupQuiet). A delay of 0 writes them in each
// batch, the default.
func WithRollupDelay(delay time.Duration, maxEvents int) Option {
	return func(d *DB) {
		if delay <= 0 {
			d.pend = nil
			return
		}
		if maxEvents <= 0 {
			maxEvents = DefaultRollupEvents
		}
		d.pend = &pending{delay: delay, maxEvents: maxEvents}
	}
}

// WithRollupQuiet sets how long a deferring writer (WithRollupDelay) waits
// without new events before it writes the rollups it holds, at most their
// delay; 0 waits for the delay, however quiet the writer is. Tests that
// need events held across pauses use 0.
func WithRollupQuiet(quiet time.Duration) Option {
	return func(d *DB) { d.rollupQuiet = &quiet }
}

// setQuiet sets p's quiet spell from WithRollupQuiet (nil: the default).
func (p *pending) setQuiet(quiet *time.Duration) {
	q := DefaultRollupQuiet
	if quiet != nil {
		q = *quiet
	}
	if q <= 0 || q > p.delay {
		q = p.delay
	}
	p.quiet = q
}

// pending is what a deferring writer holds: the events whose rollups it
// has not written yet. The writer's lock (runCache.mu) guards it.
type pending struct {
	delay     time.Duration
	quiet     time.Duration // without new events for this long, the held events are due
	maxEvents int

	// events are the committed tool calls new to the database, and every
	// mark, in the order they came.
	events []trackskills.Event
	// spare is the fresh events' slice of the last batch held, emptied,
	// for the next batch to fill (batch.fresh) instead of growing its own.
	spare []trackskills.Event
	since time.Time // when the oldest of events was committed
	last  time.Time // when the newest was
	// started: rollup_pending has the first row of this deferral, which
	// names its first raw row.
	started bool

	stop, done chan struct{} // the background flush (flushEvery)
}

// due reports whether the held events must be rolled up before more come:
// there are maxEvents of them, the oldest is a delay old, or the newest a
// quiet spell.
func (p *pending) due(now time.Time) bool {
	if len(p.events) >= p.maxEvents {
		return true
	}
	return len(p.events) > 0 && (now.Sub(p.since) >= p.delay || now.Sub(p.last) >= p.quiet)
}

// pendingData is what a deferred transaction leaves in rollup_pending.data
// beside its raw rows: its marks, and the subagent of each of its new tool
// calls that ran in one (the raw rows do not keep it), by event id.
type pendingData struct {
	Marks  []trackskills.Event `json:"marks,omitempty"`
	Agents map[string]string   `json:"agents,omitempty"`
}

// deferBatch records in tx what a restart needs to roll up b's events,
// which the caller is about to commit without their rollups; next is the
// row id the batch's first raw row got or will get, read before its insert.
func (d *DB) deferBatch(tx *dbsql.Tx, b *batch, next int64) error {
	if !b.holds() {
		return nil
	}
	var data pendingData
	for _, i := range b.marks {
		data.Marks = append(data.Marks, b.events[i])
	}
	for i := range b.fresh {
		if ev := &b.fresh[i]; ev.AgentHash != "" {
			if data.Agents == nil {
				data.Agents = map[string]string{}
			}
			data.Agents[ev.EventID] = ev.AgentHash
		}
	}
	var blob any
	if len(data.Marks) > 0 || len(data.Agents) > 0 {
		raw, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("defer rollups: %w", err)
		}
		blob = raw
	}
	var first any
	if !d.pend.started {
		first = next
	} else if blob == nil {
		return nil // the deferral's first row covers these raw rows
	}
	if _, err := tx.Exec(`INSERT INTO rollup_pending (first_event, data) VALUES (?, ?)`, first, blob); err != nil {
		return fmt.Errorf("defer rollups: %w", err)
	}
	return nil
}

// nextEventID returns the row id the next raw row will get.
func nextEventID(tx *dbsql.Tx) (int64, error) {
	var next int64
	if err := tx.QueryRow(`SELECT COALESCE(MAX(id), 0) + 1 FROM skill_usage_events`).Scan(&next); err != nil {
		return 0, fmt.Errorf("defer rollups: %w", err)
	}
	return next, nil
}

// holds reports whether the deferred batch b has events to roll up later.
func (b *batch) holds() bool { return len(b.fresh) > 0 || len(b.marks) > 0 }

// held records the events of the committed batch b as waiting for their
// rollups.
func (p *pending) held(b *batch, now time.Time) {
	if len(p.events) == 0 {
		p.since = now
	}
	p.last = now
	p.started = true
	for _, i := range b.marks {
		ev := b.events[i]
		ev.Metadata = bytes.Clone(ev.Metadata) // the caller may reuse its buffers
		p.events = append(p.events, ev)
	}
	p.events = append(p.events, b.fresh...)
	clear(b.fresh) // no event kept alive by the spare
	p.spare = b.fresh[:0]
}

// Flush writes the rollups of every event a deferring writer holds; it
// does nothing for one that does not defer.
func (d *DB) Flush(ctx context.Context) error {
	if d.pend == nil {
		return nil
	}
	d.w.cache.mu.Lock()
	defer d.w.cache.mu.Unlock()
	return d.flushLocked(ctx)
}

// flushLocked writes the rollups of the held events in one transaction,
// which also empties rollup_pending; the caller holds the writer's lock.
// After a failure the events stay held, to be tried again.
func (d *DB) flushLocked(ctx context.Context) error {
	p := d.pend
	if p == nil || !p.started {
		return nil
	}
	tx, err := d.conn().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("roll up held events: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	b := d.rollupBatch(p.events)
	defer b.buffers()()
	if err := d.w.write(tx, b); err != nil {
		return fmt.Errorf("roll up %d held events: %w", len(p.events), err)
	}
	if _, err := tx.Exec(`DELETE FROM rollup_pending`); err != nil {
		return fmt.Errorf("roll up held events: %w", err)
	}
	if d.failCommit != nil {
		if err := d.failCommit(); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("roll up %d held events: commit: %w", len(p.events), err)
	}
	d.w.committed(b)
	clear(p.events) // no event kept alive by the spare capacity
	p.events, p.started = p.events[:0], false
	return nil
}

// rollupBatch groups events, fresh tool calls and marks, as WriteBatch
// groups a batch's inserted events.
func (d *DB) rollupBatch(events []trackskills.Event) *batch {
	b := newBatch()
	if b.runsOff = d.w.skipRuns; !b.runsOff {
		b.runEvents = make([]runInput, 0, len(events))
	}
	b.events = events
	for i := range events {
		ev := &events[i]
		if ev.Kind != "" {
			b.marks = append(b.marks, i)
			continue
		}
		b.add(ev, hashKey(ev.UserHash))
	}
	return b
}

// startFlusher flushes the held events in the background once they are
// due, so that the rollups of the last events before a quiet spell are
// not held longer than the delay.
func (d *DB) startFlusher() {
	p := d.pend
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(max(p.quiet/4, 10*time.Millisecond))
		defer t.Stop()
		var failed time.Time // of the last failure: the next try waits a delay
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			d.w.cache.mu.Lock()
			if now := d.Now(); p.due(now) && now.Sub(failed) >= p.delay {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if err := d.flushLocked(ctx); err != nil {
					failed = now
					d.logger.Warn("roll up held events; will retry", "events", len(p.events), "retry_in", p.delay, "err", err)
				}
				cancel()
			}
			d.w.cache.mu.Unlock()
		}
	}()
}

// stopFlusher stops the background flush and writes what is still held.
func (d *DB) stopFlusher() error {
	p := d.pend
	if p == nil || p.stop == nil {
		return nil
	}
	close(p.stop)
	<-p.done
	p.stop = nil
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return d.Flush(ctx)
}

// recoverPending rolls up the events a writer that deferred them committed
// but never rolled up (it was killed): the raw rows from the first one
// rollup_pending names, with the marks and subagents it kept.
func (d *DB) recoverPending(ctx context.Context) error {
	var first dbsql.NullInt64
	if err := d.conn().QueryRowContext(ctx, `SELECT MIN(first_event) FROM rollup_pending`).Scan(&first); err != nil {
		return fmt.Errorf("read held rollups: %w", err)
	}
	rows, err := d.conn().QueryContext(ctx, `SELECT data FROM rollup_pending WHERE data IS NOT NULL ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read held rollups: %w", err)
	}
	var data []pendingData
	for rows.Next() {
		var raw []byte
		var pd pendingData
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return fmt.Errorf("read held rollups: %w", err)
		}
		if err := json.Unmarshal(raw, &pd); err != nil {
			rows.Close()
			return fmt.Errorf("read held rollups: %w", err)
		}
		data = append(data, pd)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read held rollups: %w", err)
	}
	if !first.Valid && len(data) == 0 {
		return nil
	}
	var events []trackskills.Event
	if first.Valid {
		if events, err = eventsFrom(ctx, d.conn(), first.Int64); err != nil {
			return fmt.Errorf("read held rollups: %w", err)
		}
	}
	agents := map[string]string{}
	for _, pd := range data {
		for id, a := range pd.Agents {
			agents[id] = a
		}
		events = append(events, pd.Marks...)
	}
	for i := range events {
		if a, ok := agents[events[i].EventID]; ok && events[i].Kind == "" {
			events[i].AgentHash = a
		}
	}
	restore := d.pend
	d.pend = &pending{events: events, started: true}
	defer func() { d.pend = restore }()
	d.w.cache.mu.Lock()
	defer d.w.cache.mu.Unlock()
	if err := d.flushLocked(ctx); err != nil {
		return fmt.Errorf("roll up the events a stopped writer held: %w", err)
	}
	d.logger.Info("rolled up the events a stopped writer held", "events", len(events))
	return nil
}

// RollupsHeld reports whether the writer holds committed events whose
// rollups it has not written yet (or a killed one left some). It reads
// rollup_pending, so a read-only handle answers too.
func (d *DB) RollupsHeld(ctx context.Context) (bool, error) {
	var held bool
	if err := d.conn().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM rollup_pending)`).Scan(&held); err != nil {
		return false, fmt.Errorf("read held rollups: %w", err)
	}
	return held, nil
}
