package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/sql"
)

const replaySummary = `Rebuilds a database from the events stream: reads a range of it from
--nats-url with an ordered consumer and writes it to --db through the
consumer's write path (raw rows and aggregates, duplicates ignored by
event_id, undecodable messages as dead letters). Without --from-seq or
--since it resumes after the last replay's position kept in --db; without
--to-seq or --until it stops at the stream's last message when it starts.
It locks --db like the consumer: replay into a new file, not a live one.`

// replayProgressEvery is how often replay prints its progress.
const replayProgressEvery = 2 * time.Second

func runReplay(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("replay", replaySummary, getenv, stderr)
	o := defaultOptions()
	o.log.register(f)
	o.registerData(f)
	o.registerNATSClient(f)
	var cfg consumer.ReplayConfig
	var since, until string
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
	cfg.ProgressEvery = replayProgressEvery
	cfg.Progress = func(st consumer.ReplayStats) {
		fmt.Fprintf(stderr, "replay: %d messages read, up to stream seq %d: %d inserted, %d already present, %d dead-lettered (%.0f events/s)\n",
			st.Messages, st.LastSeq, st.Inserted, st.Ignored, st.DeadLetters, rate(st.Events, st.Elapsed))
	}
	lock, err := o.lockDB()
	if err != nil {
		return err
	}
	defer lock.Close() // last, after SQLite is closed
	db, err := sql.Open(ctx, o.dbPath(), migrationLog(logger))
	if err != nil {
		return err
	}
	closeDB := sync.OnceValue(db.Close)
	defer closeDB() //nolint:errcheck // the explicit close below reports
	nc, err := connectNATS(o.natsURL, "trackskills-replay", logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := newJetStream(nc)
	if err != nil {
		return err
	}
	st, runErr := consumer.Replay(ctx, js, db, cfg, logger.With("component", "replay"))
	rng := "nothing to replay"
	if st.Messages > 0 {
		rng = fmt.Sprintf("stream seq %d to %d", st.FirstSeq, st.LastSeq)
	}
	fmt.Fprintf(stderr, "replay: %s into %s: %d messages, %d events read; %d inserted, %d already present, %d dead-lettered (%d new); %s, %.0f events/s\n",
		rng, o.dbPath(), st.Messages, st.Events, st.Inserted, st.Ignored, st.DeadLetters, st.NewDead,
		st.Elapsed.Round(time.Millisecond), rate(st.Events, st.Elapsed))
	if runErr != nil {
		return runErr
	}
	return closeDB()
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
