package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// msgSeq makes Nats-Msg-Id values unique within the test binary.
var msgSeq atomic.Int64

// newMsg builds a stream message with a unique Nats-Msg-Id. An empty schema
// leaves the schema header out.
func newMsg(schema string, data []byte) *nats.Msg {
	msg := nats.NewMsg(trackskills.SubjectIngest)
	msg.Data = data
	if schema != "" {
		msg.Header.Set(wire.SchemaHeader, schema)
	}
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("test-%d", msgSeq.Add(1)))
	return msg
}

// payload encodes events as a SchemaV1 payload.
func payload(tb testing.TB, events ...trackskills.Event) []byte {
	tb.Helper()
	var buf []byte
	for i := range events {
		var err error
		if buf, err = wire.AppendEvent(buf, &events[i]); err != nil {
			tb.Fatalf("append event: %v", err)
		}
	}
	return buf
}

// publish publishes events as one SchemaV1 message and waits for the
// PubAck; it returns the stream sequence of the message.
func publish(tb testing.TB, js jetstream.JetStream, events ...trackskills.Event) uint64 {
	tb.Helper()
	return testkit.MustPublish(tb, js, events...)
}

// publishRaw publishes data as is, with the given schema header.
func publishRaw(tb testing.TB, js jetstream.JetStream, schema, encoding string, data []byte) uint64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := newMsg(schema, data)
	if encoding != "" {
		msg.Header.Set(wire.EncodingHeader, encoding)
	}
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		tb.Fatalf("publish: %v", err)
	}
	if ack.Duplicate {
		tb.Fatalf("publish: message %d taken as a duplicate", ack.Sequence)
	}
	return ack.Sequence
}

// publishChunks publishes events in messages of size events each.
func publishChunks(tb testing.TB, js jetstream.JetStream, events []trackskills.Event, size int) {
	tb.Helper()
	for len(events) > 0 {
		n := min(size, len(events))
		publish(tb, js, events[:n]...)
		events = events[n:]
	}
}

// makeEvents returns n valid events with IDs prefix-0 ... prefix-(n-1). The
// optional fields vary, so that round trips through the stream and the
// database cover them.
func makeEvents(n int, prefix string) []trackskills.Event {
	now := time.Now()
	statuses := []string{trackskills.StatusSuccess, trackskills.StatusError, trackskills.StatusTimeout}
	events := make([]trackskills.Event, n)
	for i := range events {
		ev := trackskills.Event{
			EventID:      fmt.Sprintf("%s-%09d", prefix, i), // sorts like the ULIDs ingest makes
			ToolName:     fmt.Sprintf("skill_%d", i%7),
			ToolCategory: []string{"default", "mcp", "script"}[i%3],
			Status:       statuses[i%len(statuses)],
			Timestamp:    now.Add(-time.Duration(i) * time.Second).UnixMilli(),
			ReceivedAt:   now.UnixMilli(),
			UserHash:     fmt.Sprintf("%032x", i%13),
			Source:       trackskills.Sources[i%len(trackskills.Sources)],
		}
		if i%2 == 0 {
			d, req, resp := int64(i%5000), int64(100+i), int64(i%3)
			ev.DurationMs, ev.RequestSizeBytes, ev.ResponseSizeBytes = &d, &req, &resp
			ev.SessionHash = fmt.Sprintf("%032x", i%17)
			ev.Metadata = []byte(fmt.Sprintf(`{"n":%d,"k":"v"}`, i))
		}
		if ev.Status != trackskills.StatusSuccess {
			ev.ErrorType = "ToolError"
			ev.ErrorMessage = fmt.Sprintf("call %d failed: é ✓", i)
		}
		events[i] = ev
	}
	return events
}

// testDurable is the durable the tests' consumers read, named so that
// tests can look at it; the product names it after the database.
const testDurable = "test-sqlite"

// testConfig is a consumer configuration with short waits.
func testConfig() consumer.Config {
	cfg := consumer.DefaultConfig()
	cfg.Durable = testDurable
	cfg.AckWait = 2 * time.Second
	cfg.RetryMin = 100 * time.Millisecond
	cfg.RetryMax = 500 * time.Millisecond
	cfg.BatchWait = 20 * time.Millisecond
	return cfg
}

// newConsumer builds a consumer that logs like the tests.
func newConsumer(tb testing.TB, cfg consumer.Config, js jetstream.JetStream, db *sql.DB) *consumer.Consumer {
	tb.Helper()
	c, err := consumer.New(cfg, js, db, testkit.Logger(tb))
	if err != nil {
		tb.Fatalf("new consumer: %v", err)
	}
	return c
}

// runner is a consumer.Run in a goroutine.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's result, once done is closed
}

// start runs c until stop is called (or Cleanup).
func start(tb testing.TB, c *consumer.Consumer) *runner {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.Run(ctx)
	}()
	tb.Cleanup(func() {
		if err := r.stop(); err != nil && !errors.Is(err, errCrash) {
			tb.Errorf("consumer run: %v", err)
		}
	})
	return r
}

// stop cancels Run and returns its result.
func (r *runner) stop() error {
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(30 * time.Second):
		return errors.New("consumer did not stop within 30s")
	}
}

// running reports whether Run has not returned.
func (r *runner) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// runConsumer starts a consumer with cfg; stop cancels it and returns
// Run's result.
func runConsumer(tb testing.TB, cfg consumer.Config, js jetstream.JetStream, db *sql.DB) (*consumer.Consumer, func() error) {
	tb.Helper()
	c := newConsumer(tb, cfg, js, db)
	return c, start(tb, c).stop
}

// errCrash is the error of a simulated crash.
var errCrash = errors.New("simulated crash between commit and ack")

// patience bounds every wait for an asynchronous effect. It is generous:
// a passing test never waits for it, and a loaded CI machine (fsync behind
// other jobs, -race) can be slow.
const patience = 30 * time.Second

// consumerInfo returns the state of the durable consumer on the server.
func consumerInfo(tb testing.TB, js jetstream.JetStream, durable string) (*jetstream.ConsumerInfo, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, trackskills.StreamName, durable)
	if err != nil {
		return nil, err
	}
	return cons.Info(ctx)
}

// settled reports an error until the durable consumer has delivered every
// message of the stream and holds none unacknowledged.
func settled(tb testing.TB, js jetstream.JetStream, durable string) error {
	tb.Helper()
	info, err := consumerInfo(tb, js, durable)
	if err != nil {
		return err
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		return fmt.Errorf("consumer has %d messages unacknowledged and %d undelivered", info.NumAckPending, info.NumPending)
	}
	// A durable being created can show nothing pending before the server
	// has counted the stream: the ack floor tells.
	if last := testkit.MustStreamState(tb, js).LastSeq; info.AckFloor.Stream < last {
		return fmt.Errorf("consumer acknowledged up to message %d of %d", info.AckFloor.Stream, last)
	}
	return nil
}

// redeliveries returns how many deliveries of the durable consumer were
// redeliveries. It assumes the consumer has delivered the stream from its
// first message on.
func redeliveries(tb testing.TB, js jetstream.JetStream, durable string) uint64 {
	tb.Helper()
	info, err := consumerInfo(tb, js, durable)
	if err != nil {
		tb.Fatal(err)
	}
	return info.Delivered.Consumer - info.Delivered.Stream
}

// countIs polls until the database holds want events.
func countIs(tb testing.TB, db *sql.DB, want int64) func() error {
	return func() error {
		n, err := db.CountEvents(context.Background())
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("%d events stored, want %d", n, want)
		}
		return nil
	}
}

// mustCount returns the number of stored events.
func mustCount(tb testing.TB, db *sql.DB) int64 {
	tb.Helper()
	n, err := db.CountEvents(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// mustEvents returns the stored events by event_id, failing on a duplicate.
func mustEvents(tb testing.TB, db *sql.DB) map[string]trackskills.Event {
	tb.Helper()
	evs, err := db.Events(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	byID := make(map[string]trackskills.Event, len(evs))
	for _, ev := range evs {
		if _, dup := byID[ev.EventID]; dup {
			tb.Errorf("event_id %s is stored twice", ev.EventID)
		}
		byID[ev.EventID] = ev
	}
	return byID
}

// checkExactlyOnce checks that the database holds every event of want once
// and nothing else.
func checkExactlyOnce(tb testing.TB, db *sql.DB, want ...[]trackskills.Event) {
	tb.Helper()
	got := mustEvents(tb, db)
	n := 0
	for _, evs := range want {
		for _, ev := range evs {
			n++
			if _, ok := got[ev.EventID]; !ok {
				tb.Errorf("event %s is missing", ev.EventID)
			}
		}
	}
	if c := mustCount(tb, db); c != int64(n) || len(got) != n {
		tb.Errorf("rows=%d distinct event_ids=%d, want %d", c, len(got), n)
	}
}

// recorder is a slog handler that keeps the messages logged, so that a test
// can wait for something the consumer only logs.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// count returns how many times msg was logged.
func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// sameAggregates checks that the rollups of got answer as those of want,
// daily and hourly, over the last two days; it returns the daily window.
func sameAggregates(tb testing.TB, got, want *sql.DB) sql.Window {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	w := sql.Window{From: now.Add(-48 * time.Hour).UnixMilli(), To: now.Add(time.Hour).UnixMilli()}
	for _, win := range []sql.Window{w, {From: w.From, To: w.To, Hourly: true}} {
		gs, err1 := got.Summary(ctx, win, sql.Filter{})
		ws, err2 := want.Summary(ctx, win, sql.Filter{})
		if err := errors.Join(err1, err2); err != nil {
			tb.Fatal(err)
		}
		if !reflect.DeepEqual(gs, ws) {
			tb.Errorf("summary (hourly %v): got %+v, want %+v", win.Hourly, gs, ws)
		}
		gt, err1 := got.Tools(ctx, win, sql.Filter{})
		wt, err2 := want.Tools(ctx, win, sql.Filter{})
		if err := errors.Join(err1, err2); err != nil {
			tb.Fatal(err)
		}
		if !reflect.DeepEqual(gt, wt) || len(wt) == 0 {
			tb.Errorf("tools (hourly %v): got %+v, want %+v", win.Hourly, gt, wt)
		}
	}
	gc, err1 := got.Costs(ctx, w)
	wc, err2 := want.Costs(ctx, w)
	if err := errors.Join(err1, err2); err != nil {
		tb.Fatal(err)
	}
	if !reflect.DeepEqual(gc, wc) {
		tb.Errorf("costs: got %+v, want %+v", gc, wc)
	}
	return w
}

// makeAPIRequests returns n api_request events (model requests with their
// cost) of 3 models and 4 skills, ids prefixed by prefix.
func makeAPIRequests(n int, prefix string) []trackskills.Event {
	now := time.Now()
	events := make([]trackskills.Event, n)
	for i := range events {
		events[i] = testkit.APIRequestEvent(testkit.APIRequest{ID: fmt.Sprintf("%s-%09d", prefix, i),
			At: now.Add(-time.Duration(i) * time.Second).UnixMilli(), User: i % 5, Model: []string{"sonnet", "opus", "haiku"}[i%3],
			Skill: fmt.Sprintf("skill_%d", i%4), CostMicros: int64(1000 + i), Input: int64(10 * i), Output: 3})
	}
	return events
}

// crashAfterFirstCommit runs c until its first batch is committed, then
// stops it before the batch is acknowledged, as a crash in that window
// would, and waits for Run to return.
func crashAfterFirstCommit(t *testing.T, c *consumer.Consumer) {
	t.Helper()
	var commits atomic.Int64
	consumer.SetAfterCommit(c, func() error {
		if commits.Add(1) == 1 {
			return errCrash
		}
		return nil
	})
	r := start(t, c)
	select {
	case <-r.done:
	case <-time.After(patience):
		t.Fatal("Run did not return after the after-commit error")
	}
	if !errors.Is(r.err, errCrash) {
		t.Fatalf("Run returned %v, want %v", r.err, errCrash)
	}
}

// fillDisk leaves db 16 KiB to grow, so that the next batches fail as on
// a full disk until db.LimitSize(ctx, 0).
func fillDisk(t *testing.T, db *sql.DB) {
	t.Helper()
	st, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.LimitSize(context.Background(), st.Size()+16<<10); err != nil {
		t.Fatal(err)
	}
}
