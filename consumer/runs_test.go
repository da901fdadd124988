package consumer_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// TestConsumer_SkillRuns publishes random sessions through the stream, out
// of order and with a redelivered chunk, and checks that the consumer's
// runs are those of a reference walk of each whole session, and that a
// replay of the stream into a new database cuts the same runs.
func TestConsumer_SkillRuns(t *testing.T) {
	t.Parallel()
	const idle = 10 * 60 * 1000
	r := rand.New(rand.NewPCG(14, 1))
	start := time.Now().Add(-72 * time.Hour).UnixMilli()
	events := testkit.RandomSessions(r, testkit.SessionConfig{Sessions: 20, Events: 40, Start: start, IdleMs: idle})
	// Interleave the sessions by time, then swap neighbouring chunks: some
	// events of a session arrive after later ones.
	sorted := slices.Clone(events)
	slicesSortByTime(sorted)
	for i := 0; i+20 <= len(sorted); i += 40 {
		a, b := slices.Clone(sorted[i:i+10]), sorted[i+10:i+20]
		copy(sorted[i:], b)
		copy(sorted[i+10:], a)
	}
	js := testkit.MustRunStream(t)
	publishChunks(t, js, sorted, 7)
	publishChunks(t, js, sorted[30:45], 15) // a redelivery: same ids, new message

	var newest int64
	for _, e := range events {
		newest = max(newest, e.Timestamp)
	}
	quiet := time.UnixMilli(newest - idle)
	want := testkit.WantRunSummaries(events, idle, quiet.UnixMilli())

	live := testkit.MustOpenDB(t, sql.WithRunIdleTimeout(idle*time.Millisecond))
	_, stop := runConsumer(t, testConfig(), js, live)
	testkit.Eventually(t, patience, func() error { return settled(t, js, testDurable) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := live.ExpireRuns(context.Background(), quiet); err != nil {
		t.Fatal(err)
	}
	testkit.SameRuns(t, "consumer", testkit.StoredRunSummaries(t, live), want)

	rebuilt := testkit.MustOpenDB(t, sql.WithRunIdleTimeout(idle*time.Millisecond))
	mustReplay(t, js, rebuilt, consumer.ReplayConfig{BatchEvents: 50})
	if err := rebuilt.ExpireRuns(context.Background(), quiet); err != nil {
		t.Fatal(err)
	}
	testkit.SameRuns(t, "replay", testkit.StoredRunSummaries(t, rebuilt), want)
}

// slicesSortByTime sorts events by timestamp, stably.
func slicesSortByTime(evs []trackskills.Event) {
	slices.SortStableFunc(evs, func(a, b trackskills.Event) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
}

// TestConsumer_ExpiresQuietRuns: with no batch coming, the consumer ends
// the runs of sessions quiet for the idle timeout by the clock, where the
// sweep of a batch would wait for a later event.
func TestConsumer_ExpiresQuietRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Now().Add(-time.Hour).UnixMilli()
	skill := trackskills.Event{EventID: "run-skill", ToolName: "deploy", ToolCategory: "skill", Status: trackskills.StatusSuccess,
		Timestamp: at, ReceivedAt: at + 5, UserHash: "11111111111111111111111111111111",
		SessionHash: "22222222222222222222222222222222", Source: "hook"}
	call := skill
	call.EventID, call.ToolName, call.ToolCategory, call.Timestamp = "run-call", "Bash", "builtin", at+1000
	js := testkit.MustRunStream(t)
	publishChunks(t, js, []trackskills.Event{skill, call}, 2)

	db := testkit.MustOpenDB(t, sql.WithRunIdleTimeout(10*time.Minute))
	cfg := testConfig()
	cfg.ExpireRunsEvery = 50 * time.Millisecond
	_, stop := runConsumer(t, cfg, js, db)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	testkit.Eventually(t, patience, func() error {
		list, err := db.Runs(ctx, sql.RunQuery{From: at - 1, To: at + 1})
		if err != nil {
			return err
		}
		if len(list) != 1 || list[0].State != "abandoned" || list[0].Calls != 1 {
			return fmt.Errorf("runs %+v, want one abandoned run of 1 call", list)
		}
		return nil
	})
}
