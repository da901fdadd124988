package consumer_test

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// replayStream publishes 300 events in single-event and multi-event
// messages, a redelivered duplicate and a poison message, and returns them.
func replayStream(t *testing.T, js jetstream.JetStream) []trackskills.Event {
	t.Helper()
	evs := makeEvents(300, "replay")
	publishChunks(t, js, evs[:100], 1)
	publishRaw(t, js, wire.SchemaV1, "", []byte("\x00\xff garbage {"))
	publishChunks(t, js, evs[100:], 25)
	publish(t, js, evs[10:12]...) // a redelivery: same event_ids, new message
	return evs
}

// mustReplay replays into db and fails the test on an error.
func mustReplay(t *testing.T, js jetstream.JetStream, db *sql.DB, cfg consumer.ReplayConfig) consumer.ReplayStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	st, err := consumer.Replay(ctx, js, db, cfg, testkit.Logger(t))
	if err != nil {
		t.Fatalf("replay %+v: %v", cfg, err)
	}
	return st
}

// sortedEvents returns the stored events by event_id.
func sortedEvents(t *testing.T, db *sql.DB) []trackskills.Event {
	t.Helper()
	evs, err := db.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].EventID < evs[j].EventID })
	return evs
}

// sameContent checks that got holds what want holds: raw rows, dead
// letters and the answers of the aggregate reads.
func sameContent(t *testing.T, got, want *sql.DB) {
	t.Helper()
	ctx := context.Background()
	if g, w := sortedEvents(t, got), sortedEvents(t, want); !reflect.DeepEqual(g, w) {
		t.Errorf("raw rows differ: %d replayed, %d live", len(g), len(w))
	}
	gd, err1 := got.DeadLetterReasons(ctx)
	wd, err2 := want.DeadLetterReasons(ctx)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gd, wd) || len(wd) != 1 {
		t.Errorf("dead letters: replayed %q, live %q; want the one poison message in both", gd, wd)
	}
	w := sameAggregates(t, got, want)
	ga, err1 := got.DailyActiveUsers(ctx, w.FirstDay(), w.LastDay(), "")
	wa, err2 := want.DailyActiveUsers(ctx, w.FirstDay(), w.LastDay(), "")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ga, wa) || len(wa) == 0 {
		t.Errorf("daily active users: replayed %+v, live %+v", ga, wa)
	}
}

func TestReplay_RebuildsTheConsumersDatabase(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	evs := replayStream(t, js)
	live := testkit.MustOpenDB(t)
	_, stop := runConsumer(t, testConfig(), js, live)
	testkit.Eventually(t, patience, func() error { return settled(t, js, testDurable) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, live, evs)

	rebuilt := testkit.MustOpenDB(t)
	st := mustReplay(t, js, rebuilt, consumer.ReplayConfig{BatchEvents: 64})
	last := testkit.MustStreamState(t, js).LastSeq
	want := consumer.ReplayStats{Total: int64(last), Messages: int64(last), Events: 302, Inserted: 300, Ignored: 2, DeadLetters: 1, NewDead: 1, FirstSeq: 1, LastSeq: last}
	st.Elapsed = 0
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	sameContent(t, rebuilt, live)
	if pos, err := rebuilt.ReplayPosition(context.Background()); err != nil || pos != last {
		t.Errorf("position %d, %v; want %d", pos, err, last)
	}
	if pos, err := live.ReplayPosition(context.Background()); err != nil || pos != 0 {
		t.Errorf("the consumer's database has position %d, %v; want none", pos, err)
	}

	// Replayed again over itself (a start given, so no resume), nothing
	// changes and everything is already present.
	st = mustReplay(t, js, rebuilt, consumer.ReplayConfig{FromSeq: 1})
	if st.Inserted != 0 || st.Ignored != 302 || st.NewDead != 0 || st.DeadLetters != 1 {
		t.Errorf("second replay: %+v, want 0 inserted, 302 ignored, no new dead letter", st)
	}
	sameContent(t, rebuilt, live)
	// Without a start, it resumes after the end: nothing to read.
	if st = mustReplay(t, js, rebuilt, consumer.ReplayConfig{}); st.Messages != 0 {
		t.Errorf("resume at the end read %d messages, want 0", st.Messages)
	}
}

func TestReplay_ResumesAfterItsPosition(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	evs := replayStream(t, js)
	db := testkit.MustOpenDB(t)
	st := mustReplay(t, js, db, consumer.ReplayConfig{ToSeq: 50})
	if st.Messages != 50 || st.Inserted != 50 || st.LastSeq != 50 {
		t.Errorf("first part: %+v, want 50 messages and events, up to 50", st)
	}
	checkExactlyOnce(t, db, evs[:50])
	var progress int
	st = mustReplay(t, js, db, consumer.ReplayConfig{BatchEvents: 10, ProgressEvery: time.Nanosecond, Progress: func(consumer.ReplayStats) { progress++ }})
	if st.FirstSeq != 51 || st.Inserted != 250 || st.Ignored != 2 || st.DeadLetters != 1 {
		t.Errorf("rest: %+v, want from 51, 250 inserted, 2 ignored, 1 dead letter", st)
	}
	if progress == 0 {
		t.Error("no progress reported")
	}
	checkExactlyOnce(t, db, evs)
}

func TestReplay_TimeRange(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	first := makeEvents(20, "early")
	publishChunks(t, js, first, 4)
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	second := makeEvents(20, "middle")
	publishChunks(t, js, second, 4)
	time.Sleep(20 * time.Millisecond)
	end := time.Now()
	time.Sleep(20 * time.Millisecond)
	publishChunks(t, js, makeEvents(20, "late"), 4)

	db := testkit.MustOpenDB(t)
	st := mustReplay(t, js, db, consumer.ReplayConfig{Since: mid, Until: end})
	if st.Messages != 5 || st.Inserted != 20 || st.Total != 10 {
		t.Errorf("stats %+v, want 5 messages and 20 events of at most 10 messages", st)
	}
	checkExactlyOnce(t, db, second)
	st = mustReplay(t, js, db, consumer.ReplayConfig{Until: mid})
	if st.Inserted != 0 || st.Messages != 0 {
		// Resuming after the position (10) and stopping before mid: nothing.
		t.Errorf("resume before mid: %+v, want nothing", st)
	}
	st = mustReplay(t, js, db, consumer.ReplayConfig{FromSeq: 1, Until: mid})
	if st.Inserted != 20 {
		t.Errorf("from 1 until mid: %+v, want 20 inserted", st)
	}
	checkExactlyOnce(t, db, first, second)
	// A start beyond the stream reads nothing.
	if st = mustReplay(t, js, db, consumer.ReplayConfig{Since: time.Now().Add(time.Hour)}); st.Messages != 0 {
		t.Errorf("since the future: %+v, want nothing", st)
	}
}

// collectSink is a ReplaySink that keeps what it is given, in memory.
type collectSink struct {
	events []trackskills.Event
	dead   int
	lasts  []uint64
}

func (s *collectSink) Position(context.Context) (uint64, error) { return 0, nil }

func (s *collectSink) Write(_ context.Context, evs []trackskills.Event, dead []sql.DeadLetter, last uint64) (sql.BatchResult, error) {
	s.events = append(s.events, evs...)
	s.dead += len(dead)
	s.lasts = append(s.lasts, last)
	return sql.BatchResult{Inserted: len(evs)}, nil
}

func TestReplayTo_HandsTheRangeToTheSink(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	evs := replayStream(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var sink collectSink
	st, err := consumer.ReplayTo(ctx, js, &sink, consumer.ReplayConfig{FromSeq: 2, ToSeq: 100, BatchEvents: 30}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	// Sequences 2..100: events 1..99 (the poison message is seq 101).
	if len(sink.events) != 99 || sink.events[0].EventID != evs[1].EventID || sink.events[98].EventID != evs[99].EventID {
		t.Fatalf("sink got %d events, want events 1..99", len(sink.events))
	}
	if st.Total != 99 || st.Messages != 99 || st.Inserted != 99 || st.FirstSeq != 2 || st.LastSeq != 100 || sink.dead != 0 {
		t.Errorf("stats %+v, dead %d; want 99 messages and events from 2 to 100, none dead", st, sink.dead)
	}
	if want := []uint64{31, 61, 91, 100}; !reflect.DeepEqual(sink.lasts, want) {
		t.Errorf("batches end at %v, want %v", sink.lasts, want)
	}
	// The whole stream: the poison message reaches the sink as a dead letter.
	sink = collectSink{}
	if st, err = consumer.ReplayTo(ctx, js, &sink, consumer.ReplayConfig{}, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 302 || sink.dead != 1 || st.DeadLetters != 1 || st.Total != st.Messages {
		t.Errorf("whole stream: %d events, %d dead, stats %+v; want 302, 1, all messages", len(sink.events), sink.dead, st)
	}
}

// failingSink is a collectSink whose Write fails from batch failAt (1 the
// first) on, and that calls onWrite, when set, before each write.
type failingSink struct {
	collectSink
	failAt  int
	onWrite func()
	calls   int
}

func (s *failingSink) Write(ctx context.Context, evs []trackskills.Event, dead []sql.DeadLetter, last uint64) (sql.BatchResult, error) {
	s.calls++
	if s.onWrite != nil {
		s.onWrite()
	}
	if s.failAt > 0 && s.calls >= s.failAt {
		return sql.BatchResult{}, errors.New("disk full")
	}
	return s.collectSink.Write(ctx, evs, dead, last)
}

func TestReplayTo_StopsAtTheFirstWriteError(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	replayStream(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	sink := &failingSink{failAt: 2}
	st, err := consumer.ReplayTo(ctx, js, sink, consumer.ReplayConfig{BatchEvents: 10}, testkit.Logger(t))
	if err == nil || !strings.Contains(err.Error(), "write batch ending at 20: disk full") {
		t.Fatalf("err=%v, want the failed write of the batch ending at 20", err)
	}
	if sink.calls != 2 || !reflect.DeepEqual(sink.lasts, []uint64{10}) {
		t.Errorf("%d writes, batches %v written; want 2 writes and only the batch ending at 10 written", sink.calls, sink.lasts)
	}
	if st.Inserted != 10 || st.LastSeq != 10 {
		t.Errorf("stats %+v, want 10 inserted, up to 10", st)
	}
}

func TestReplayTo_WritesWhatItReadWhenStopped(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	replayStream(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	sink := &failingSink{onWrite: cancel} // stopped during its first write
	st, err := consumer.ReplayTo(ctx, js, sink, consumer.ReplayConfig{BatchEvents: 10}, testkit.Logger(t))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err=%v, want the context's", err)
	}
	if st.Messages < 10 || st.Messages >= 150 || st.LastSeq != st.FirstSeq+uint64(st.Messages)-1 || st.Inserted != st.Events {
		t.Errorf("stats %+v, want every message read up to the stop written, and not the whole stream", st)
	}
	if got := sink.lasts[len(sink.lasts)-1]; got != st.LastSeq {
		t.Errorf("last batch written ends at %d, want %d", got, st.LastSeq)
	}
}

func TestReplayConfig_Validate(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		cfg  consumer.ReplayConfig
		want string
	}{
		{"SeqAndTime", consumer.ReplayConfig{FromSeq: 1, Since: now}, "not both"},
		{"EndSeqAndTime", consumer.ReplayConfig{ToSeq: 1, Until: now}, "not both"},
		{"Backwards", consumer.ReplayConfig{FromSeq: 5, ToSeq: 4}, "after end sequence"},
		{"BackwardsTime", consumer.ReplayConfig{Since: now, Until: now}, "not before"},
		{"BadBatch", consumer.ReplayConfig{BatchEvents: -1}, "batch size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if err := (consumer.ReplayConfig{FromSeq: 4, ToSeq: 4}).Validate(); err != nil {
		t.Errorf("a one-message range: %v", err)
	}
}
