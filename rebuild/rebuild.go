// Package rebuild makes a new database from the events stream beside the
// live one, while the live one's consumer keeps running, and then puts it
// in the live one's place without losing or double-counting an
// acknowledged event.
//
// It goes in two steps, which may run in two processes. Build replays the
// whole stream into <db>.rebuild (taking the live database's identity, so
// that the live durable consumer carries on into it), repeating until it
// has caught up, and then marks it ready. Adopt, run by whoever owns the
// live database (serve or consumer, between two batches, with their
// consumer stopped), replays what arrived since, puts the rebuilt file in
// place and keeps the old one beside it. Every event the live consumer
// acknowledged is in the stream up to the point it stopped, so the final
// replay has it; what the durable delivers again afterwards is ignored by
// event_id.
package rebuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/lockfile"
	"github.com/trackskills/trackskills/sql"
)

// Target returns the file a rebuild of the database at live is built in.
func Target(live string) string { return live + ".rebuild" }

// readyPath is the marker Build leaves when the target is ready to adopt.
func readyPath(live string) string { return Target(live) + ".ready" }

// failedPath is the marker Adopt leaves when it could not adopt.
func failedPath(live string) string { return Target(live) + ".failed" }

// lockPath is the lock of the target, held while it is written.
func lockPath(live string) string { return Target(live) + ".lock" }

// keptPath is where Adopt keeps the database it replaced.
func keptPath(live string, now time.Time) string {
	return live + ".pre-rebuild-" + now.UTC().Format("20060102T150405.000Z")
}

// caughtUp is how few messages a replay pass may read for Build to call
// the target caught up: Adopt replays the rest with the consumer stopped.
const caughtUp = 1000

// Pending reports whether a rebuilt database waits to be adopted.
func Pending(live string) bool {
	_, err := os.Stat(readyPath(live))
	return err == nil
}

// BuildStats counts what Build did.
type BuildStats struct {
	consumer.ReplayStats        // the passes summed
	Passes               int    // replay passes until caught up
	StreamFirstSeq       uint64 // the first message the stream holds
	LiveEvents           int64  // events of the live database
	LiveOlder            int64  // of which older than the stream's first message (not in the rebuild)
	LiveFirstDay         string // the first day of the live aggregates; empty for none
	FirstDay             string // the first day of the rebuilt aggregates; empty for none
}

// ErrHistoryLost is returned by Build when the stream no longer holds
// events the live database has: a rebuild would drop them.
var ErrHistoryLost = errors.New("the stream no longer holds every event of the live database")

// Build replays the stream into Target(live) until it has caught up, then
// marks it ready for Adopt. The history check comes twice: before the
// replay, the raw events the stream no longer holds; after it, the days of
// aggregates the rebuild does not have (the aggregates outlive the raw
// events and the stream). A build refused after the replay keeps its
// target: run again with dropHistory, it resumes. cfg's batch size and progress apply (progress
// to the first pass, which reads nearly everything); its range does not:
// each pass resumes after the target's position, to the stream's end. The target takes the live database's
// identity; a target left by an interrupted Build is resumed. Unless
// dropHistory, it refuses with ErrHistoryLost when the live database
// holds events older than the stream's first message.
func Build(ctx context.Context, js jetstream.JetStream, live string, dropHistory bool, cfg consumer.ReplayConfig, logger *slog.Logger) (BuildStats, error) {
	var st BuildStats
	lock, err := lockfile.Acquire(lockPath(live))
	if err != nil {
		return st, fmt.Errorf("rebuild: %w", err)
	}
	defer lock.Close()
	_ = os.Remove(failedPath(live)) // a new attempt
	id, err := liveFacts(ctx, js, live, &st)
	if err != nil {
		return st, err
	}
	if st.LiveOlder > 0 && !dropHistory {
		return st, fmt.Errorf("%w: %d of its %d events are older than the stream's first message (seq %d); a rebuild would not have them, nor their aggregates' share",
			ErrHistoryLost, st.LiveOlder, st.LiveEvents, st.StreamFirstSeq)
	}
	target, err := sql.Open(ctx, Target(live))
	if err != nil {
		return st, fmt.Errorf("rebuild: %w", err)
	}
	defer target.Close()
	if err := adoptIdentity(ctx, target, id); err != nil {
		return st, err
	}
	for {
		pass, err := consumer.Replay(ctx, js, target, cfg, logger)
		st.add(pass)
		if err != nil {
			return st, err
		}
		if pass.Messages < caughtUp {
			break
		}
		cfg.Progress = nil // the catch-up passes are short: the first pass's progress is the one shown
	}
	first, any, err := target.OldestAggregateDay(ctx)
	if err != nil {
		return st, fmt.Errorf("rebuild: %w", err)
	}
	if any {
		st.FirstDay = first.String()
	}
	if st.LiveFirstDay != "" && (st.FirstDay == "" || st.LiveFirstDay < st.FirstDay) && !dropHistory {
		return st, fmt.Errorf("%w: its aggregates begin on %s, the rebuild's on %s; a rebuild would drop the days between",
			ErrHistoryLost, st.LiveFirstDay, orNone(st.FirstDay))
	}
	if err := target.Close(); err != nil {
		return st, fmt.Errorf("rebuild: %w", err)
	}
	if err := os.WriteFile(readyPath(live), fmt.Appendf(nil, "rebuilt through stream seq %d at %s\n", st.LastSeq, time.Now().UTC().Format(time.RFC3339)), 0o600); err != nil {
		return st, fmt.Errorf("rebuild: mark ready: %w", err)
	}
	return st, nil
}

func (st *BuildStats) add(p consumer.ReplayStats) {
	st.Passes++
	if st.Total == 0 {
		st.Total = p.Total
	}
	st.Messages += p.Messages
	st.Events += p.Events
	st.Inserted += p.Inserted
	st.Ignored += p.Ignored
	st.DeadLetters += p.DeadLetters
	st.NewDead += p.NewDead
	st.Elapsed += p.Elapsed
	if st.FirstSeq == 0 {
		st.FirstSeq = p.FirstSeq
	}
	if p.LastSeq > 0 {
		st.LastSeq = p.LastSeq
	}
}

// liveFacts reads the live database's identity and how many of its events
// the stream no longer holds.
func liveFacts(ctx context.Context, js jetstream.JetStream, live string, st *BuildStats) (sql.Identity, error) {
	if _, err := os.Stat(live); err != nil {
		return sql.Identity{}, fmt.Errorf("rebuild: no live database: %w (replay into a new file instead)", err)
	}
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := sql.OpenReadOnly(octx, live)
	if err != nil {
		return sql.Identity{}, fmt.Errorf("rebuild: open the live database: %w", err)
	}
	defer db.Close()
	id, err := db.Identity(ctx)
	if err != nil {
		return id, fmt.Errorf("rebuild: %w", err)
	}
	first, err := streamFirstSeq(ctx, js)
	if err != nil {
		return id, err
	}
	st.StreamFirstSeq = first
	if st.LiveEvents, err = db.CountEvents(ctx); err != nil {
		return id, fmt.Errorf("rebuild: %w", err)
	}
	if st.LiveOlder, err = db.CountEventsBeforeSeq(ctx, first); err != nil {
		return id, fmt.Errorf("rebuild: %w", err)
	}
	day, any, err := db.OldestAggregateDay(ctx)
	if err != nil {
		return id, fmt.Errorf("rebuild: %w", err)
	}
	if any {
		st.LiveFirstDay = day.String()
	}
	return id, nil
}

// streamFirstSeq returns the first sequence the stream still holds.
func streamFirstSeq(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		return 0, fmt.Errorf("rebuild: find the stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("rebuild: stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return info.State.LastSeq + 1, nil
	}
	return info.State.FirstSeq, nil
}

// adoptIdentity gives a new target the live identity; a resumed target
// must have it already.
func adoptIdentity(ctx context.Context, target *sql.DB, live sql.Identity) error {
	have, err := target.Identity(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if have.DatabaseID == live.DatabaseID {
		return nil
	}
	pos, err := target.ReplayPosition(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	n, err := target.CountEvents(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if pos > 0 || n > 0 {
		return fmt.Errorf("rebuild: %s holds a rebuild of another database (id %s, live is %s): remove it first", target.Path(), have.DatabaseID, live.DatabaseID)
	}
	if err := target.SetIdentity(ctx, live); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	return nil
}

// Adopt puts a ready rebuild in place of the database at live, after
// replaying into it what the stream received since Build. The caller owns
// live (its lock) and has stopped its consumer and closed its writer;
// readers may stay open. It returns where the old database is kept and
// what the final replay read. When it fails before the switch, live is
// left as it was, the rebuild stays, and the failure is recorded for
// Wait.
func Adopt(ctx context.Context, js jetstream.JetStream, live string, logger *slog.Logger) (kept string, st consumer.ReplayStats, err error) {
	defer func() {
		if err != nil {
			_ = os.WriteFile(failedPath(live), []byte(err.Error()+"\n"), 0o600) // Wait reports it; the log has it too
			_ = os.Remove(readyPath(live))
		}
	}()
	lock, err := lockfile.Acquire(lockPath(live))
	if err != nil {
		return "", st, fmt.Errorf("adopt rebuild: %w", err)
	}
	defer lock.Close()
	target, err := sql.Open(ctx, Target(live))
	if err != nil {
		return "", st, fmt.Errorf("adopt rebuild: %w", err)
	}
	st, err = consumer.Replay(ctx, js, target, consumer.ReplayConfig{}, logger)
	if cerr := target.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return "", st, fmt.Errorf("adopt rebuild: final replay: %w", err)
	}
	kept = keptPath(live, time.Now())
	if err := sql.Replace(live, Target(live), kept); err != nil {
		return "", st, fmt.Errorf("adopt rebuild: %w", err)
	}
	if err := os.Remove(readyPath(live)); err != nil {
		return kept, st, fmt.Errorf("adopt rebuild: %w", err)
	}
	return kept, st, nil
}

// orNone is s, or "none" when empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Wait waits until the rebuild of live has been adopted (nil) or has
// failed (its error), or ctx ends.
func Wait(ctx context.Context, live string) error {
	for {
		if b, err := os.ReadFile(failedPath(live)); err == nil {
			return fmt.Errorf("the owner of %s could not adopt the rebuild: %s", live, strings.TrimSpace(string(b)))
		}
		if !Pending(live) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
