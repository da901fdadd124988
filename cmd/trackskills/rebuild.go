package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/lockfile"
	"github.com/trackskills/trackskills/rebuild"
)

const rebuildSummary = `Rebuilds the database from the events stream and switches to the rebuilt
one, while serve or consumer keeps running on it. It replays the whole
stream from --nats-url into <db>.rebuild beside the live database
(resuming an interrupted rebuild), until it has caught up; then the owner
of the live database (serve or consumer, which look every second) stops
its consumer between two batches, replays what arrived since, puts the
rebuilt file in place, keeps the old one as <db>.pre-rebuild-<time>, and
carries on: no acknowledged event is lost or counted twice. When nothing
runs on the database, rebuild switches it itself. It refuses when the
stream no longer holds every event of the live database (a rebuild would
drop them and their share of the aggregates) unless --drop-history.`

func runRebuild(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	f := newCmdFlags("rebuild", rebuildSummary, getenv, stderr)
	o := defaultOptions()
	o.log.register(f)
	o.registerData(f)
	o.registerNATSClient(f)
	var dropHistory bool
	switchTimeout := 2 * time.Minute
	f.BoolVar(&dropHistory, "drop-history", false, "rebuild even when the live database holds events the stream no longer has (they stay in the kept old file only)")
	f.duration(&switchTimeout, "switch-timeout", switchTimeout, "how long to wait for the running serve or consumer to switch to the rebuilt database")
	logger, err := o.parse(f, args, stderr)
	if err != nil {
		return err
	}
	live := o.dbPath()
	auth, err := o.natsAuth(embeddednats.UserAdmin)
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(o.natsURL, "trackskills-rebuild", logger, auth...)
	if err != nil {
		return err
	}
	defer nc.Close()
	prog := newReplayProgress(stderr, isTerminal(stderr), false)
	cfg := consumer.ReplayConfig{ProgressEvery: prog.every, Progress: prog.report}
	st, err := rebuild.Build(ctx, js, live, dropHistory, cfg, logger.With("component", "rebuild"))
	prog.finish(st.ReplayStats, err)
	if errors.Is(err, rebuild.ErrHistoryLost) {
		return fmt.Errorf("%w; the stream starts at seq %d: give --drop-history to rebuild from what it holds (the build resumes where this one stopped; the old database is kept beside the new one)", err, st.StreamFirstSeq)
	}
	if err != nil {
		return err
	}
	passes := "passes"
	if st.Passes == 1 {
		passes = "pass"
	}
	fmt.Fprintf(stderr, "rebuild: %s into %s in %d %s: %d messages, %d events read; %d inserted, %d dead-lettered; %s, %.0f events/s\n",
		replayRange(st.ReplayStats), rebuild.Target(live), st.Passes, passes, st.Messages, st.Events, st.Inserted, st.DeadLetters,
		st.Elapsed.Round(time.Millisecond), rate(st.Events, st.Elapsed))

	lock, err := o.lockDB()
	var held *lockfile.HeldError
	switch {
	case errors.As(err, &held):
		fmt.Fprintf(stderr, "rebuild: ready; waiting up to %s for the process that owns %s (pid %d) to switch to it\n", switchTimeout, live, held.PID)
		wctx, cancel := context.WithTimeout(ctx, switchTimeout)
		defer cancel()
		if err := rebuild.Wait(wctx, live); errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("pid %d did not switch to the rebuilt database within %s (is it a serve or consumer of this version?): it stays ready at %s and is adopted when serve or consumer next starts on %s",
				held.PID, switchTimeout, rebuild.Target(live), live)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "rebuild: switched: %s is the rebuilt database; the old one is kept beside it as %s.pre-rebuild-<time>\n", live, live)
		return nil
	case err != nil:
		return err
	}
	defer lock.Close()
	kept, fin, err := rebuild.Adopt(ctx, js, live, logger.With("component", "rebuild"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "rebuild: switched (nothing was running on it; %d more messages caught up): %s is the rebuilt database; the old one is kept as %s\n", fin.Messages, live, kept)
	return nil
}
