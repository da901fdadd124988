package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trackskills/trackskills/loadgen"
)

const loadgenSummary = `Sends realistic events to an ingest endpoint (POST /api/track, or
/api/track/batch with --mode batch, or /api/hooks/claude-code with --mode
hook) and reports what was acknowledged, the throughput and the request
latency. With --db, also reports the end-to-end lag from the HTTP
acknowledgement to the row in SQLite.`

// loadgenOptions are the flags of the loadgen command.
type loadgenOptions struct {
	loadgen.Config
	json bool
}

// runLoadgen runs the loadgen command. It returns an error only when the run
// cannot be set up, or when events were sent but none was acknowledged; a
// run with some failed events still returns nil after printing its report.
func runLoadgen(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseLoadgenFlags(args, getenv, stderr)
	if errors.Is(err, errHelp) {
		return nil
	} else if err != nil {
		return err
	}
	report, err := loadgen.Run(ctx, o.Config, stderr)
	if err != nil {
		return err
	}
	if err := report.Write(stdout, o.json); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if report.Acked == 0 && report.Sent > 0 {
		return errors.New("no event was acknowledged")
	}
	return nil
}

// parseLoadgenFlags parses args into loadgen's options, with defaults from
// the environment twins, and checks them. --help returns errHelp after
// printing the usage.
func parseLoadgenFlags(args []string, getenv func(string) string, stderr io.Writer) (loadgenOptions, error) {
	o := loadgenOptions{Config: loadgen.DefaultConfig()}
	c := &o.Config
	f := newCmdFlags("loadgen", loadgenSummary, getenv, stderr)
	f.StringVar(&c.URL, "url", c.URL, "base URL of the ingest API")
	f.StringVar(&c.Mode, "mode", c.Mode, "single: one event per POST /api/track; batch: a JSON array per POST /api/track/batch; hook: one Claude Code PostToolUse(Failure) payload per POST /api/hooks/claude-code")
	f.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "events per request in batch mode (1-1000)")
	f.IntVar(&c.Connections, "connections", c.Connections, "concurrent workers, each with one keep-alive connection")
	f.Float64Var(&c.Rate, "rate", c.Rate, "target events per second over all workers (0 = as fast as possible)")
	f.Int64Var(&c.Count, "count", c.Count, "stop after this many events (0 = no bound)")
	f.duration(&c.Duration, "duration", c.Duration, "stop sending after this time (0 = 10s when --count is 0, else no bound)")
	f.IntVar(&c.Users, "users", c.Users, "size of the user pool (user-0001, ...)")
	f.IntVar(&c.Tools, "tools", c.Tools, "number of distinct tool names")
	f.Float64Var(&c.ErrorRate, "error-rate", c.ErrorRate, "share of events with status error (another 1% are timeouts)")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the event generator")
	f.StringVar(&c.Key, "key", c.Key, "ingest key, sent as Authorization: Bearer <key>")
	f.duration(&c.Timeout, "timeout", c.Timeout, "timeout of one request, response body included")
	f.BoolVar(&o.json, "json", o.json, "print the final report as one JSON object")
	f.StringVar(&c.DB, "db", c.DB, "SQLite file the consumer writes; when set, report the ack -> row lag")
	if err := f.parse(args); err != nil {
		return o, err
	}
	if c.Count == 0 && c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	return o, c.Validate()
}
