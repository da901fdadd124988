package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// ReplayConfig says which part of the stream Replay writes. With no start
// (FromSeq 0 and Since zero) it resumes after the position the last replay
// recorded in the database, or starts at the stream's first message. With
// no end (ToSeq 0 and Until zero) it stops at the stream's last message at
// the time it started.
type ReplayConfig struct {
	FromSeq uint64    // first stream sequence; exclusive with Since
	Since   time.Time // first message stored at or after this time
	ToSeq   uint64    // last stream sequence; exclusive with Until
	Until   time.Time // last message stored before this time

	BatchEvents   int               // events per transaction; 0 means ReplayBatchEvents
	ProgressEvery time.Duration     // how often Progress is called; 0 means never
	Progress      func(ReplayStats) // reports the counts so far
}

// Validate checks the range.
func (c ReplayConfig) Validate() error {
	switch {
	case c.FromSeq > 0 && !c.Since.IsZero():
		return errors.New("replay: give a start sequence or a start time, not both")
	case c.ToSeq > 0 && !c.Until.IsZero():
		return errors.New("replay: give an end sequence or an end time, not both")
	case c.ToSeq > 0 && c.FromSeq > c.ToSeq:
		return fmt.Errorf("replay: start sequence %d is after end sequence %d", c.FromSeq, c.ToSeq)
	case !c.Since.IsZero() && !c.Until.IsZero() && !c.Since.Before(c.Until):
		return fmt.Errorf("replay: start time %s is not before end time %s", c.Since.Format(time.RFC3339), c.Until.Format(time.RFC3339))
	case c.BatchEvents < 0:
		return errors.New("replay: batch size must not be negative")
	}
	return nil
}

// ReplayBatchEvents is the number of events a replay writes in one
// transaction by default: a replay is a history load, acknowledged to no
// one, so it commits far larger transactions than the consumer's batches,
// and the rows and pages that its events share are written once per
// transaction rather than once per thousand events.
const ReplayBatchEvents = 50_000

// ReplayStats counts what a replay did.
type ReplayStats struct {
	Total       int64         // stream messages in the range (at most; 0 until known)
	Messages    int64         // stream messages read
	Events      int64         // events decoded from them
	Inserted    int64         // new rows (events written, for a sink without a database)
	Ignored     int64         // events already stored
	DeadLetters int64         // undecodable messages
	NewDead     int64         // of which the sink kept anew (not yet in dead_letters)
	FirstSeq    uint64        // first stream sequence written; 0 when none
	LastSeq     uint64        // last stream sequence written; 0 when none
	Elapsed     time.Duration // since the replay started
}

// ReplaySink is where a replay writes what it reads. The replay calls it
// from one goroutine of its own, one batch at a time, while it reads the
// next batch; a sink keeps nothing of the slices it is given.
type ReplaySink interface {
	// Position returns the last stream sequence a replay wrote to the
	// sink, where a replay without a start resumes; 0 for none.
	Position(ctx context.Context) (uint64, error)
	// Write writes the events and dead letters of a batch whose last
	// message has stream sequence last.
	Write(ctx context.Context, events []trackskills.Event, dead []sql.DeadLetter, last uint64) (sql.BatchResult, error)
}

// DBSink is the ReplaySink of a database: db.WriteBatchAt, the consumer's
// write path, which records each batch's last sequence as the replay
// position.
type DBSink struct{ DB *sql.DB }

// Position returns the replay position recorded in the database.
func (s DBSink) Position(ctx context.Context) (uint64, error) { return s.DB.ReplayPosition(ctx) }

// Write writes a batch and its position in one transaction.
func (s DBSink) Write(ctx context.Context, events []trackskills.Event, dead []sql.DeadLetter, last uint64) (sql.BatchResult, error) {
	return s.DB.WriteBatchAt(ctx, events, dead, last)
}

// Replay reads a range of the events stream with an ordered (ephemeral)
// consumer and writes it to db through the consumer's decoding and
// db.WriteBatchAt: the same raw rows, aggregates and dead letters as the
// consumer, INSERT OR IGNORE by event_id, so that replaying into a
// database that already holds events changes nothing for them. Each batch
// records its last stream sequence as the replay position. The database's
// connection is in bulk-load mode while it runs (sql.DB.SetBulkLoad):
// each batch commits with its position, so a replay resumes correctly
// even after a power cut undid its last commits. When ctx ends, Replay
// writes what it holds and returns ctx's error with the counts.
func Replay(ctx context.Context, js jetstream.JetStream, db *sql.DB, cfg ReplayConfig, logger *slog.Logger) (st ReplayStats, err error) {
	if err := db.SetBulkLoad(ctx, true); err != nil {
		return st, fmt.Errorf("replay: %w", err)
	}
	defer func() {
		if berr := db.SetBulkLoad(context.WithoutCancel(ctx), false); berr != nil && err == nil {
			err = fmt.Errorf("replay: %w", berr)
		}
	}()
	return ReplayTo(ctx, js, DBSink{DB: db}, cfg, logger)
}

// ReplayTo is Replay with sink as the destination: it reads the range and
// decodes it as Replay does, and hands sink the batches.
func ReplayTo(ctx context.Context, js jetstream.JetStream, sink ReplaySink, cfg ReplayConfig, logger *slog.Logger) (ReplayStats, error) {
	began := time.Now()
	var st ReplayStats
	if err := cfg.Validate(); err != nil {
		return st, err
	}
	if cfg.BatchEvents == 0 {
		cfg.BatchEvents = ReplayBatchEvents
	}
	stream, err := js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		return st, fmt.Errorf("replay: find stream: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return st, fmt.Errorf("replay: stream info: %w", err)
	}
	end := info.State.LastSeq
	if cfg.ToSeq > 0 {
		end = min(end, cfg.ToSeq)
	}
	occ := jetstream.OrderedConsumerConfig{FilterSubjects: []string{trackskills.StreamSubjects}}
	switch {
	case cfg.FromSeq > 0:
		occ.DeliverPolicy, occ.OptStartSeq = jetstream.DeliverByStartSequencePolicy, cfg.FromSeq
	case !cfg.Since.IsZero():
		since := cfg.Since
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	default:
		pos, err := sink.Position(ctx)
		if err != nil {
			return st, err
		}
		occ.DeliverPolicy, occ.OptStartSeq = jetstream.DeliverByStartSequencePolicy, max(pos+1, 1)
		if pos > 0 {
			logger.Info("replay resumes after the recorded position", "stream_seq", pos)
		}
	}
	if info.State.Msgs == 0 || (occ.OptStartSeq > 0 && occ.OptStartSeq > end) {
		st.Elapsed = time.Since(began)
		return st, nil
	}
	cons, err := js.OrderedConsumer(ctx, trackskills.StreamName, occ)
	if err != nil {
		return st, fmt.Errorf("replay: create ordered consumer: %w", err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return st, fmt.Errorf("replay: consumer info: %w", err)
	}
	if ci.NumPending == 0 {
		st.Elapsed = time.Since(began)
		return st, nil
	}
	iter, err := cons.Messages()
	if err != nil {
		return st, fmt.Errorf("replay: start reading: %w", err)
	}
	defer iter.Stop()
	logger.Info("replay started", "start", occ.DeliverPolicy.String(), "from_seq", occ.OptStartSeq, "to_seq", end, "pending", ci.NumPending)

	st.Total = int64(ci.NumPending)
	if occ.OptStartSeq > 0 {
		st.Total = min(st.Total, int64(end-occ.OptStartSeq+1))
	}
	// Two stages, as in the consumer: decoding the next batch overlaps the
	// write of the current one.
	r := newReplayer(sink, cfg.BatchEvents, &st, began)
	lastProgress := began
	progress := func() {
		if cfg.Progress != nil && cfg.ProgressEvery > 0 && time.Since(lastProgress) >= cfg.ProgressEvery {
			lastProgress = time.Now()
			cfg.Progress(r.snapshot())
		}
	}
	for {
		if ctx.Err() != nil {
			err := r.finish()
			return r.snapshot(), errors.Join(fmt.Errorf("replay stopped: %w", ctx.Err()), err)
		}
		msg, err := iter.Next(jetstream.NextMaxWait(time.Second))
		if errors.Is(err, nats.ErrTimeout) {
			if err := r.flush(); err != nil {
				return r.failed(), err
			}
			progress()
			continue
		}
		if err != nil {
			werr := r.finish()
			return r.snapshot(), errors.Join(fmt.Errorf("replay: read stream: %w", err), werr)
		}
		meta, err := msg.Metadata()
		if err != nil {
			werr := r.finish()
			return r.snapshot(), errors.Join(fmt.Errorf("replay: message metadata: %w", err), werr)
		}
		seq := meta.Sequence.Stream
		if seq > end || (!cfg.Until.IsZero() && !meta.Timestamp.Before(cfg.Until)) {
			break // beyond the range: not written
		}
		if st.Messages == 0 && occ.OptStartSeq == 0 {
			st.Total = min(st.Total, int64(end-seq+1)) // a start by time: now the first sequence is known
		}
		r.add(msg, seq)
		if len(r.cur.events) >= cfg.BatchEvents {
			if err := r.flush(); err != nil {
				return r.failed(), err
			}
			progress()
		}
		if seq >= end || meta.NumPending == 0 {
			break
		}
	}
	err = r.finish()
	st = r.snapshot()
	logger.Info("replay finished", "messages", st.Messages, "inserted", st.Inserted, "ignored", st.Ignored, "dead_letters", st.DeadLetters)
	return st, err
}

// replayBatch is a batch of a replay: the events and dead letters of its
// messages, and the stream sequence of the last one (0 when empty).
type replayBatch struct {
	events []trackskills.Event
	dead   []sql.DeadLetter
	last   uint64
}

// replayer holds the batch a replay is reading, and writes the batches it
// has read to the sink on a goroutine of its own, one at a time and in
// order, while the next one is read. The read counts of stats are the
// reader's; the write counts the writer's, under mu.
type replayer struct {
	sink  ReplaySink
	size  int // events a batch holds before it is written
	stats *ReplayStats
	cur   *replayBatch // being read

	todo chan *replayBatch // read, to be written
	free chan *replayBatch // written, to be read again
	done chan struct{}     // closed when the writer has stopped
	err  error             // the write error that stopped the writer; read once done is closed

	began time.Time // when the replay started, for Elapsed

	mu    sync.Mutex
	wrote ReplayStats // Inserted, Ignored, NewDead and LastSeq of the batches written
}

// newReplayer starts the writer of a replay to sink in batches of size
// events; finish stops it.
func newReplayer(sink ReplaySink, size int, stats *ReplayStats, began time.Time) *replayer {
	r := &replayer{
		sink: sink, size: size, stats: stats, began: began, cur: &replayBatch{},
		todo: make(chan *replayBatch, 1), free: make(chan *replayBatch, 3), done: make(chan struct{}),
	}
	go r.writeLoop()
	return r
}

func (r *replayer) add(msg jetstream.Msg, seq uint64) {
	var dl sql.DeadLetter
	var err error
	b := r.cur
	start := len(b.events)
	r.stats.Messages++
	if b.events, dl, err = decodeMsg(msg, b.events); err != nil {
		b.dead = append(b.dead, dl)
		r.stats.DeadLetters++
	}
	r.stats.Events += int64(len(b.events) - start)
	if r.stats.FirstSeq == 0 {
		r.stats.FirstSeq = seq
	}
	b.last = seq
}

// flush hands the batch being read to the writer, and returns the error
// that stopped the writer, if one did.
func (r *replayer) flush() error {
	if r.cur.last == 0 {
		return nil
	}
	select {
	case r.todo <- r.cur:
	case <-r.done:
		return r.err
	}
	select {
	case r.cur = <-r.free:
	default:
		r.cur = &replayBatch{events: make([]trackskills.Event, 0, r.size)}
	}
	return nil
}

// finish writes the batch being read, waits until the writer has written
// every batch handed to it and stopped, and returns the write error that
// stopped it, if one did. The reader calls it once, last.
func (r *replayer) finish() error {
	_ = r.flush() // its only error is the writer's, returned below
	close(r.todo)
	<-r.done
	return r.err
}

// failed ends the replay after flush returned the write error that
// stopped the writer, and returns the counts.
func (r *replayer) failed() ReplayStats {
	_ = r.finish() // the writer has stopped: this returns flush's error again
	return r.snapshot()
}

// snapshot returns the counts so far: what was read and what was written.
func (r *replayer) snapshot() ReplayStats {
	s := *r.stats
	r.mu.Lock()
	s.Inserted, s.Ignored, s.NewDead, s.LastSeq = r.wrote.Inserted, r.wrote.Ignored, r.wrote.NewDead, r.wrote.LastSeq
	r.mu.Unlock()
	s.Elapsed = time.Since(r.began)
	return s
}

// writeLoop writes the batches handed to it, in order, until todo is
// closed or a write fails; after a failure it writes nothing more, so the
// recorded position stays at the last batch written.
func (r *replayer) writeLoop() {
	defer close(r.done)
	for b := range r.todo {
		if err := r.write(b); err != nil {
			r.err = err
			return
		}
		b.events, b.dead, b.last = b.events[:0], b.dead[:0], 0
		select {
		case r.free <- b:
		default:
		}
	}
}

// write hands a batch and the sequence of its last message to the sink.
func (r *replayer) write(b *replayBatch) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := r.sink.Write(ctx, b.events, b.dead, b.last)
	if err != nil {
		return fmt.Errorf("replay: write batch ending at %d: %w", b.last, err)
	}
	r.mu.Lock()
	r.wrote.Inserted += int64(res.Inserted)
	r.wrote.Ignored += int64(res.Ignored)
	r.wrote.NewDead += int64(res.DeadLetters)
	r.wrote.LastSeq = b.last
	r.mu.Unlock()
	return nil
}
