package rebuild_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/rebuild"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// fill publishes evs in messages of 10 and writes them to live as the
// consumer would, each with its stream sequence.
func fill(t *testing.T, js jetstream.JetStream, live *sql.DB, evs []trackskills.Event) {
	t.Helper()
	for i := 0; i < len(evs); i += 10 {
		chunk := evs[i:min(i+10, len(evs))]
		seq := testkit.MustPublish(t, js, chunk...)
		for j := range chunk {
			chunk[j].StreamSeq = seq
		}
		testkit.MustWriteBatch(t, live, chunk)
	}
}

// setup starts a stream and opens a live database in a temp dir.
func setup(t *testing.T) (jetstream.JetStream, string, *sql.DB) {
	t.Helper()
	livePath := filepath.Join(t.TempDir(), "trackskills.db")
	return testkit.MustRunStream(t), livePath, testkit.MustOpenDBAt(t, livePath)
}

func mustIdentity(t *testing.T, db *sql.DB) sql.Identity {
	t.Helper()
	id, err := db.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustCount(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	n, err := db.CountEvents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Build makes the rebuild beside the live database with its identity;
// Adopt replays what came since, puts it in place and keeps the old one.
func TestBuildAndAdopt(t *testing.T) {
	ctx := context.Background()
	js, livePath, live := setup(t)
	fill(t, js, live, testkit.Events(200, "a"))
	// The live database lost rows (a bug, a hand-made delete): the
	// rebuild has them again.
	if _, err := live.DeleteEventsBefore(ctx, 1<<62, 1000); err != nil {
		t.Fatal(err)
	}
	want := mustIdentity(t, live)

	st, err := rebuild.Build(ctx, js, livePath, false, consumer.ReplayConfig{}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Inserted != 200 || st.Passes != 1 || !rebuild.Pending(livePath) {
		t.Fatalf("build: %+v, pending %v; want 200 inserted in one pass, pending", st, rebuild.Pending(livePath))
	}
	// Events arrive after the build: the adoption's replay takes them.
	late := testkit.Events(30, "late")
	for _, ev := range late {
		testkit.MustPublish(t, js, ev)
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	kept, fin, err := rebuild.Adopt(ctx, js, livePath, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if fin.Inserted != 30 {
		t.Errorf("final replay: %+v, want the 30 late events", fin)
	}
	if rebuild.Pending(livePath) {
		t.Error("still pending after Adopt")
	}
	if err := rebuild.Wait(ctx, livePath); err != nil {
		t.Errorf("Wait after Adopt: %v", err)
	}
	adopted := testkit.MustOpenDBAt(t, livePath)
	if n := mustCount(t, adopted); n != 230 {
		t.Errorf("adopted database: %d events, want 230", n)
	}
	if got := mustIdentity(t, adopted); got != want {
		t.Errorf("adopted identity %+v, want the live one %+v", got, want)
	}
	old := testkit.MustOpenReadOnly(t, kept)
	if n := mustCount(t, old); n != 0 {
		t.Errorf("kept database: %d events, want the live one's 0", n)
	}
	if _, err := os.Stat(rebuild.Target(livePath)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the rebuild file is still there: %v", err)
	}
}

// An interrupted Build resumes where it stopped; a target that belongs to
// another database is refused.
func TestBuild_ResumesItsOwnTargetOnly(t *testing.T) {
	ctx := context.Background()
	js, livePath, live := setup(t)
	fill(t, js, live, testkit.Events(100, "r"))

	// A first build that stopped after 50 messages' worth: a replay to
	// seq 5 into a target with the live identity.
	target := testkit.MustOpenDBAt(t, rebuild.Target(livePath))
	if err := target.SetIdentity(ctx, mustIdentity(t, live)); err != nil {
		t.Fatal(err)
	}
	if _, err := consumer.Replay(ctx, js, target, consumer.ReplayConfig{ToSeq: 5}, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	if err := target.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := rebuild.Build(ctx, js, livePath, false, consumer.ReplayConfig{}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.FirstSeq != 6 || st.Inserted != 50 {
		t.Errorf("resumed build: %+v, want seq 6 onwards, 50 inserted", st)
	}

	other := filepath.Join(t.TempDir(), "other.db")
	testkit.MustOpenDBAt(t, other)
	foreign := testkit.MustOpenDBAt(t, rebuild.Target(other))
	testkit.MustWriteBatch(t, foreign, testkit.Events(1, "f"))
	if err := foreign.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rebuild.Build(ctx, js, other, false, consumer.ReplayConfig{}, testkit.Logger(t)); err == nil || !strings.Contains(err.Error(), "another database") {
		t.Errorf("build over a foreign target: %v, want a refusal", err)
	}
}

// When the stream no longer holds the oldest events of the live database,
// Build refuses unless told to drop them.
func TestBuild_HistoryLost(t *testing.T) {
	ctx := context.Background()
	js, livePath, live := setup(t)
	fill(t, js, live, testkit.Events(100, "h"))
	if err := testkit.MustEventsStream(t, js).Purge(ctx, jetstream.WithPurgeSequence(4)); err != nil {
		t.Fatal(err)
	}
	st, err := rebuild.Build(ctx, js, livePath, false, consumer.ReplayConfig{}, testkit.Logger(t))
	if !errors.Is(err, rebuild.ErrHistoryLost) || st.LiveOlder != 30 || st.StreamFirstSeq != 4 {
		t.Fatalf("build: %v, %+v; want ErrHistoryLost with 30 older events and the stream from seq 4", err, st)
	}
	if rebuild.Pending(livePath) {
		t.Error("a refused build is pending")
	}
	st, err = rebuild.Build(ctx, js, livePath, true, consumer.ReplayConfig{}, testkit.Logger(t))
	if err != nil || st.Inserted != 70 {
		t.Fatalf("build with drop history: %v, %+v; want 70 inserted", err, st)
	}
}

// When the live database keeps aggregates of days the stream no longer
// has (its raw events gone by retention, the aggregates kept longer),
// Build refuses after the replay, and resumes with dropHistory.
func TestBuild_AggregateHistoryLost(t *testing.T) {
	ctx := context.Background()
	js, livePath, live := setup(t)
	old := testkit.Events(20, "old")
	for i := range old {
		old[i].Timestamp = time.Now().AddDate(0, 0, -200).UnixMilli()
		old[i].ReceivedAt = old[i].Timestamp
	}
	testkit.MustWriteBatch(t, live, old) // long gone from the stream
	if n, err := live.DeleteEventsBefore(ctx, time.Now().AddDate(0, 0, -90).UnixMilli(), 1000); err != nil || n != 20 {
		t.Fatalf("retention: %d, %v", n, err)
	}
	fill(t, js, live, testkit.Events(50, "new"))
	st, err := rebuild.Build(ctx, js, livePath, false, consumer.ReplayConfig{}, testkit.Logger(t))
	if !errors.Is(err, rebuild.ErrHistoryLost) || st.LiveOlder != 0 || st.LiveFirstDay >= st.FirstDay || st.Inserted != 50 {
		t.Fatalf("build: %v, %+v; want ErrHistoryLost for the aggregate days, after replaying 50", err, st)
	}
	if rebuild.Pending(livePath) {
		t.Error("a refused build is pending")
	}
	st, err = rebuild.Build(ctx, js, livePath, true, consumer.ReplayConfig{}, testkit.Logger(t))
	if err != nil || st.Inserted != 0 || !rebuild.Pending(livePath) {
		t.Fatalf("build with drop history: %v, %+v; want it to resume with nothing left to insert, pending", err, st)
	}
}

// An Adopt that cannot finish leaves the live database as it was, records
// why for Wait, and is no longer pending.
func TestAdopt_Fails(t *testing.T) {
	ctx := context.Background()
	js, livePath, live := setup(t)
	fill(t, js, live, testkit.Events(20, "x"))
	if _, err := rebuild.Build(ctx, js, livePath, false, consumer.ReplayConfig{}, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	// The stream is gone: the final replay cannot run.
	if err := js.DeleteStream(ctx, trackskills.StreamName); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rebuild.Adopt(ctx, js, livePath, testkit.Logger(t)); err == nil {
		t.Fatal("Adopt without a stream succeeded")
	}
	if rebuild.Pending(livePath) {
		t.Error("a failed adoption is still pending")
	}
	if err := rebuild.Wait(ctx, livePath); err == nil || !strings.Contains(err.Error(), "could not adopt") {
		t.Errorf("Wait: %v, want the adoption's failure", err)
	}
	again := testkit.MustOpenDBAt(t, livePath)
	if n := mustCount(t, again); n != 20 {
		t.Errorf("live database after a failed adoption: %d events, want its 20", n)
	}
}
