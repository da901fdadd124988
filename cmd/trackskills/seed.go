package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trackskills/trackskills/loadgen"
)

const seedSummary = `Fills a database with realistic events, in arrival order, through the
consumer's write path: sql.Open, then WriteBatch in transactions of --batch
events (50,000), raw rows and aggregates together, with the connection set
for a bulk load. Events span --days ending now: 5% errors, ~1% timeouts,
log-normal durations, Zipf-like tool popularity, users from occasional to
heavy who join and leave over the span, a daily and weekly rhythm. It
prints progress, the rate, the database size and the bytes written to disk.`

// runSeed fills a database for the analytics benchmarks and the dashboard
// tests. An interrupt stops it between batches; the report still prints.
func runSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newCmdFlags("seed", seedSummary, getenv, stderr)
	o := defaultOptions()
	o.registerData(f)
	cfg := loadgen.DefaultSeedConfig()
	f.Int64Var(&cfg.Events, "events", cfg.Events, "number of events to write")
	f.IntVar(&cfg.Days, "days", cfg.Days, "days the events span, ending now")
	f.IntVar(&cfg.Tools, "tools", cfg.Tools, "number of distinct tool names")
	f.IntVar(&cfg.Users, "users", cfg.Users, "number of distinct users")
	f.Float64Var(&cfg.ErrorRate, "error-rate", cfg.ErrorRate, "share of events with status error (another 1% are timeouts)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the event generator")
	f.IntVar(&cfg.Batch, "batch", loadgen.SeedBatch, "events per transaction")
	f.BoolVar(&cfg.Sessions, "sessions", cfg.Sessions, "shape sessions as Claude Code hooks send them (prompts, Stop, subagents around the tool calls), so that the database has skill runs; --events counts the tool calls")
	runs := true
	f.BoolVar(&runs, "runs", runs, "keep skill runs (false: the baseline of what runs cost the writer)")
	f.StringVar(&o.cpuProfile, "cpu-profile", o.cpuProfile, "write a CPU profile of the whole run to this file (for benchmarks)")
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.DB, cfg.End, cfg.NoRuns = o.dbPath(), time.Now(), !runs
	if err := cfg.Validate(); err != nil {
		return err
	}
	// seed writes the database as consumer does: it takes the same lock.
	lock, err := o.lockDB()
	if err != nil {
		return err
	}
	defer lock.Close() // last, after seed has closed SQLite
	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	report, err := loadgen.Seed(ctx, cfg, stderr)
	if report != nil {
		if werr := report.Write(stdout); werr != nil {
			return errors.Join(err, fmt.Errorf("write report: %w", werr))
		}
	}
	return err
}
