package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/sql"
)

const replaySummary = `Rebuilds a database from the events stream: reads a range of it from
--nats-url with an ordered consumer and writes it to --db through the
consumer's write path (raw rows and aggregates, duplicates ignored by
event_id, undecodable messages as dead letters). Without --from-seq or
--since it resumes after the last replay's position kept in --db; without
--to-seq or --until it stops at the stream's last message when it starts.
It locks --db like the consumer: replay into a new file, not a live one.
With --ndjson it writes the events of the range to stdout instead, one
JSON object a line with the fields of /analytics/export.ndjson; no
database is opened (a range without a start begins at the stream's first
message) and dead letters are only counted. On a terminal, progress is a
bar on stderr; otherwise a line every few seconds.`

// replayProgressEvery is how often replay prints its progress.
const replayProgressEvery = 2 * time.Second

func runReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newCmdFlags("replay", replaySummary, getenv, stderr)
	o := defaultOptions()
	o.log.register(f)
	o.registerData(f)
	o.registerNATSClient(f)
	o.registerRunIdle(f)
	var cfg consumer.ReplayConfig
	var since, until string
	var ndjson bool
	f.BoolVar(&ndjson, "ndjson", false, "write the events to stdout as NDJSON (the fields of the export) instead of a database")
	f.Uint64Var(&cfg.FromSeq, "from-seq", 0, "first stream sequence to replay (0 = resume after the recorded position)")
	f.StringVar(&since, "since", "", "replay from the first message stored at or after this time (RFC 3339 or YYYY-MM-DD, UTC)")
	f.Uint64Var(&cfg.ToSeq, "to-seq", 0, "last stream sequence to replay (0 = the stream's last at start)")
	f.StringVar(&until, "until", "", "replay messages stored before this time (RFC 3339 or YYYY-MM-DD, UTC)")
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	if cfg.Since, err = parseReplayTime("since", since); err != nil {
		return err
	}
	if cfg.Until, err = parseReplayTime("until", until); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if ndjson && flagGiven(f, "db") {
		fmt.Fprintln(stderr, "replay: --ndjson writes to stdout, not to a database: give --ndjson or --db, not both")
		return errUsage
	}
	prog := newReplayProgress(stderr, isTerminal(stderr), ndjson)
	cfg.ProgressEvery, cfg.Progress = prog.every, prog.report
	if ndjson {
		return replayNDJSON(ctx, &o, cfg, logger, stdout, stderr, prog)
	}
	lock, err := o.lockDB()
	if err != nil {
		return err
	}
	defer lock.Close() // last, after SQLite is closed
	db, err := sql.Open(ctx, o.dbPath(), o.writerOptions(logger)...)
	if err != nil {
		return err
	}
	closeDB := sync.OnceValue(db.Close)
	defer closeDB() //nolint:errcheck // the explicit close below reports
	auth, err := o.natsAuth(embeddednats.UserAdmin)
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(o.natsURL, "trackskills-replay", logger, auth...)
	if err != nil {
		return err
	}
	defer nc.Close()
	st, runErr := consumer.Replay(ctx, js, db, cfg, logger.With("component", "replay"))
	prog.finish(st, runErr)
	fmt.Fprintf(stderr, "replay: %s into %s: %d messages, %d events read; %d inserted, %d already present, %d dead-lettered (%d new); %s, %.0f events/s\n",
		replayRange(st), o.dbPath(), st.Messages, st.Events, st.Inserted, st.Ignored, st.DeadLetters, st.NewDead,
		st.Elapsed.Round(time.Millisecond), rate(st.Events, st.Elapsed))
	if runErr != nil {
		return runErr
	}
	return closeDB()
}

// replayNDJSON replays the range to stdout as NDJSON: no database, no lock,
// no position.
func replayNDJSON(ctx context.Context, o *options, cfg consumer.ReplayConfig, logger *slog.Logger, stdout, stderr io.Writer, prog *replayProgress) error {
	auth, err := o.natsAuth(embeddednats.UserAdmin)
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(o.natsURL, "trackskills-replay", logger, auth...)
	if err != nil {
		return err
	}
	defer nc.Close()
	sink := newNDJSONSink(stdout)
	st, runErr := consumer.ReplayTo(ctx, js, sink, cfg, logger.With("component", "replay"))
	prog.finish(st, runErr)
	fmt.Fprintf(stderr, "replay: %s to stdout: %d messages, %d events read; %d written as NDJSON, %d dead-lettered (not written); %s, %.0f events/s\n",
		replayRange(st), st.Messages, st.Events, st.Inserted, st.DeadLetters,
		st.Elapsed.Round(time.Millisecond), rate(st.Events, st.Elapsed))
	return runErr
}

// replayRange names the stream sequences a replay read.
func replayRange(st consumer.ReplayStats) string {
	if st.Messages == 0 {
		return "nothing to replay"
	}
	return fmt.Sprintf("stream seq %d to %d", st.FirstSeq, st.LastSeq)
}

// ndjsonSink is the replay's sink for --ndjson: each event as a line of
// /analytics/export.ndjson, written out at the end of each batch; dead
// letters are not written.
type ndjsonSink struct {
	w   *bufio.Writer
	enc *json.Encoder
	row sql.ExportRow
}

func newNDJSONSink(w io.Writer) *ndjsonSink {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // as the export
	return &ndjsonSink{w: bw, enc: enc}
}

// Position is 0: without a start, an NDJSON replay begins at the stream's
// first message.
func (s *ndjsonSink) Position(context.Context) (uint64, error) { return 0, nil }

// Write encodes the events of a batch and flushes them.
func (s *ndjsonSink) Write(_ context.Context, events []trackskills.Event, _ []sql.DeadLetter, _ uint64) (sql.BatchResult, error) {
	for i := range events {
		s.row.SetEvent(&events[i])
		ev := analytics.NewExportEvent(&s.row)
		if err := s.enc.Encode(&ev); err != nil {
			return sql.BatchResult{}, fmt.Errorf("write ndjson: %w", err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return sql.BatchResult{}, fmt.Errorf("write ndjson: %w", err)
	}
	return sql.BatchResult{Inserted: len(events)}, nil
}

// flagGiven reports whether name was set on the command line.
func flagGiven(f *cmdFlags, name string) bool {
	given := false
	f.Visit(func(fl *flag.Flag) { given = given || fl.Name == name })
	return given
}

// parseReplayTime parses the value of --since or --until: RFC 3339, or a
// UTC date; empty is the zero time.
func parseReplayTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q: want a time such as 2026-01-31T12:00:00Z or a date such as 2026-01-31", name, s)
}

// rate returns n per second of d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
