package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// SeedBatch is the number of events Seed writes in one transaction by
// default. A history load is not acknowledged event by event, so it
// commits far fewer, larger transactions than the consumer's batches of
// 1,000: the rows a day's events share (a rollup row, a page of an index)
// are written once per transaction, not once per thousand events.
const SeedBatch = 50_000

// seedStream is the PRNG stream of a seed run.
const seedStream = 0x5eed

// SeedConfig is one seed run; its fields are the flags of `trackskills
// seed`.
type SeedConfig struct {
	DB        string    // the SQLite file to fill (created when missing)
	Events    int64     // number of events to write
	Days      int       // days the events span, ending at End
	Tools     int       // number of distinct tool names
	Users     int       // number of distinct users
	ErrorRate float64   // share of events with status error (another 1% are timeouts)
	Seed      uint64    // seed of the event generator
	End       time.Time // the end of the span
	Batch     int       // events per transaction; 0 means SeedBatch
	// Sessions shapes the sessions as hooks see them, with session marks
	// (prompts, Stop, subagents) around the Events tool calls, so that the
	// database has skill runs (GeneratorConfig.Sessions).
	Sessions bool
	// NoRuns opens the database without the skill runs rollup
	// (sql.WithoutRuns), the baseline of its cost.
	NoRuns bool
}

// DefaultSeedConfig returns the defaults of `trackskills seed`: 10 million
// events over 90 days ending now, 200 tools, 20,000 users, 5% errors.
func DefaultSeedConfig() SeedConfig {
	return SeedConfig{Events: 10_000_000, Days: 90, Tools: 200, Users: 20_000, ErrorRate: 0.05, Seed: 1, End: time.Now(),
		Sessions: true}
}

// Validate reports the first value out of its range.
func (c SeedConfig) Validate() error {
	switch {
	case c.Events < 1:
		return fmt.Errorf("--events must be at least 1, got %d", c.Events)
	case c.Days < 1 || c.Days > 400:
		return fmt.Errorf("--days must be 1-400, got %d", c.Days)
	case c.Tools < 1:
		return fmt.Errorf("--tools must be at least 1, got %d", c.Tools)
	case c.Users < 1:
		return fmt.Errorf("--users must be at least 1, got %d", c.Users)
	case !(c.ErrorRate >= 0 && c.ErrorRate <= 0.99):
		return fmt.Errorf("--error-rate must be 0-0.99, got %v", c.ErrorRate)
	case c.Batch < 0:
		return fmt.Errorf("--batch must not be negative, got %d", c.Batch)
	}
	return nil
}

// generatorConfig is the history the seed run writes.
func (c SeedConfig) generatorConfig() GeneratorConfig {
	return GeneratorConfig{Seed: c.Seed, Stream: seedStream, Tools: c.Tools, Users: c.Users, ErrorRate: c.ErrorRate,
		Days: c.Days, Events: c.Events, End: c.End, Sessions: c.Sessions}
}

// SeedReport is what a seed run wrote.
type SeedReport struct {
	DB       string
	Events   int64 // events asked for
	Inserted int   // events that became rows
	Ignored  int   // events already stored (same id)
	Elapsed  time.Duration
	Rows     int64 // rows in the table after the run
	Size     int64 // bytes of the database file and its write-ahead log
	// Written is what the process wrote to disk during the run, the final
	// checkpoint included (write_bytes of /proc/self/io); -1 where the
	// kernel does not count it.
	Written     int64
	Interrupted bool // ctx ended the run between two batches
}

// Seed fills the database at cfg.DB with the history of a Generator, in
// arrival order, through the consumer's write path: sql.Open, then
// WriteBatch in transactions of cfg.Batch events, raw rows and aggregates
// together, with the connection in bulk-load mode (sql.DB.SetBulkLoad).
// It then checkpoints the write-ahead log and measures the size, and the
// bytes the process wrote to disk.
// Progress lines go to progress every 5 s. An interrupt (ctx) stops it
// between batches: what was written stays, and Seed returns the report
// with ctx's error.
func Seed(ctx context.Context, cfg SeedConfig, progress io.Writer) (*SeedReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var opts []sql.Option
	if cfg.NoRuns {
		opts = append(opts, sql.WithoutRuns())
	}
	db, err := sql.Open(ctx, cfg.DB, opts...)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	before, err := db.CountEvents(ctx)
	if err != nil {
		return nil, err
	}
	if before > 0 {
		fmt.Fprintf(progress, "seed: %s already holds %d events; adding to them\n", cfg.DB, before)
	}
	if err := db.SetBulkLoad(ctx, true); err != nil {
		return nil, err
	}
	size := cfg.Batch
	if size == 0 {
		size = SeedBatch
	}
	written0 := ProcessWriteBytes()

	// The generator runs on its own goroutine, as the consumer decodes the
	// next batch while SQLite writes the current one.
	gctx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	batches := make(chan []trackskills.Event, 4)
	go func() {
		defer close(batches)
		g := NewGenerator(cfg.generatorConfig())
		for left := cfg.Events; left > 0; {
			n := min(left, int64(size))
			b := g.Batch(int(n))
			left -= n
			select {
			case batches <- b:
			case <-gctx.Done():
				return
			}
		}
	}()

	// Writes are not cancelled mid-batch: an interrupt ends the run between
	// two commits, as it ends the consumer's.
	wctx := context.WithoutCancel(ctx)
	start := time.Now()
	lastReport := start
	r := &SeedReport{DB: cfg.DB, Events: cfg.Events}
	var lastTS int64
	for b := range batches {
		if ctx.Err() != nil {
			r.Interrupted = true
			break
		}
		res, err := db.WriteBatch(wctx, b, nil)
		if err != nil {
			return nil, err
		}
		r.Inserted += res.Inserted
		r.Ignored += res.Ignored
		lastTS = b[len(b)-1].Timestamp
		if now := time.Now(); now.Sub(lastReport) >= 5*time.Second {
			lastReport = now
			done := r.Done()
			rate := float64(done) / now.Sub(start).Seconds()
			eta := time.Duration(float64(cfg.Events-done) / rate * float64(time.Second))
			fmt.Fprintf(progress, "seed: %d/%d events (%.0f%%), %.0f events/s, at %s, eta %s\n",
				done, cfg.Events, 100*float64(done)/float64(cfg.Events), rate,
				time.UnixMilli(lastTS).UTC().Format("2006-01-02 15:04"), eta.Round(time.Second))
		}
	}
	stopGen()
	r.Elapsed = time.Since(start)

	if err := db.Checkpoint(wctx); err != nil {
		return nil, err
	}
	r.Written = -1
	if w := ProcessWriteBytes(); w >= 0 && written0 >= 0 {
		r.Written = w - written0
	}
	if r.Rows, err = db.CountEvents(wctx); err != nil {
		return nil, err
	}
	if r.Size, err = dbFilesSize(cfg.DB); err != nil {
		return nil, err
	}
	if r.Interrupted {
		return r, ctx.Err()
	}
	return r, nil
}

// Done is the number of events written, inserted or ignored.
func (r *SeedReport) Done() int64 { return int64(r.Inserted + r.Ignored) }

// Write prints the report.
func (r *SeedReport) Write(w io.Writer) error {
	done := r.Done()
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	if r.Interrupted {
		p("interrupted after %d of %d events\n", done, r.Events)
	}
	p("db: %s\n", r.DB)
	p("events written: %d (inserted %d, ignored %d) in %s\n", done, r.Inserted, r.Ignored, r.Elapsed.Round(time.Millisecond))
	p("rate: %.0f events/s\n", float64(done)/r.Elapsed.Seconds())
	p("rows in skill_usage_events: %d\n", r.Rows)
	perEvent := 0.0
	if r.Rows > 0 {
		perEvent = float64(r.Size) / float64(r.Rows)
	}
	p("db size: %d bytes (%.1f MB), %.1f bytes/event\n", r.Size, float64(r.Size)/1e6, perEvent)
	if r.Written >= 0 && done > 0 {
		ratio := 0.0
		if perEvent > 0 {
			ratio = float64(r.Written) / float64(done) / perEvent
		}
		p("disk writes: %d bytes (%.1f MB), %.1f bytes/event, %.1fx the database's bytes/event\n",
			r.Written, float64(r.Written)/1e6, float64(r.Written)/float64(done), ratio)
	}
	return err
}

// ProcessWriteBytes returns the bytes this process has caused to be
// written to storage (write_bytes of /proc/self/io), or -1 where the
// kernel does not say.
func ProcessWriteBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// dbFilesSize is the size of the database file and its write-ahead log.
func dbFilesSize(path string) (int64, error) {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) && p != path {
			continue
		} else if err != nil {
			return 0, fmt.Errorf("size of database: %w", err)
		}
		total += st.Size()
	}
	return total, nil
}
