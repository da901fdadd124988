package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// Ensure every published event is stored once, intact, and acknowledged,
// whether it travels alone or with 99 others.
func TestConsumer_Run_OK(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	c, _ := runConsumer(t, cfg, js, db)

	// 25 rounds of one 100-event message and 100 single-event messages.
	events := makeEvents(5000, "ok")
	msgs := map[uint64]int{} // stream seq -> events in the message
	for i := 0; i < len(events); i += 200 {
		msgs[publish(t, js, events[i:i+100]...)] = 100
		for _, ev := range events[i+100 : i+200] {
			msgs[publish(t, js, ev)] = 1
		}
	}

	testkit.Eventually(t, patience, countIs(t, db, 5000))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	testkit.Eventually(t, patience, func() error {
		if got := c.Stats().Inserted; got != 5000 {
			return fmt.Errorf("Stats().Inserted=%d, want 5000", got)
		}
		return nil
	})
	s := c.Stats()
	if s.DeadLetters != 0 || s.Failures != 0 || s.Messages < int64(len(msgs)) {
		t.Errorf("stats=%+v, want no dead letter or failure and %d messages", s, len(msgs))
	}
	// A message that waits longer than AckWait in the client's buffer (a
	// loaded machine, -race) is delivered again and ignored: legitimate.
	// Without such a redelivery nothing may be ignored.
	if n := redeliveries(t, js, cfg.Durable); n == 0 && (s.Ignored != 0 || s.Messages != int64(len(msgs))) {
		t.Errorf("stats=%+v without redelivery, want 0 ignored and %d messages", s, len(msgs))
	} else if n > 0 {
		t.Logf("%d redeliveries (AckWait %s passed in the client buffer); stats=%+v", n, cfg.AckWait, s)
	}

	got := mustEvents(t, db)
	if len(got) != len(events) {
		t.Fatalf("distinct event_ids=%d, want %d", len(got), len(events))
	}
	perSeq := map[uint64]int{}
	for _, ev := range got {
		perSeq[ev.StreamSeq]++
	}
	if !reflect.DeepEqual(perSeq, msgs) {
		t.Errorf("stream_seq does not match the messages: %d seqs stored, %d messages published", len(perSeq), len(msgs))
	}
	for _, i := range []int{0, 1, 2, 99, 100, 101, 150, 2345, 4999} {
		want, stored := events[i], got[events[i].EventID]
		if stored.StreamSeq == 0 {
			t.Errorf("event %s: stream_seq not set", want.EventID)
		}
		want.StreamSeq = stored.StreamSeq
		want.UserHash, want.SessionHash = sql.StoredHash(want.UserHash), sql.StoredHash(want.SessionHash)
		if !reflect.DeepEqual(stored, want) {
			t.Errorf("event %d stored as\n%+v\nwant\n%+v", i, stored, want)
		}
	}
}

// Ensure a batch that is due while the writer is still busy grows, up to
// 8 times BatchEvents, instead of waiting at BatchEvents: a backlog is
// written in fewer, larger transactions.
func TestConsumer_Run_BatchesGrowWhileWriterBusy(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	cfg.BatchEvents = 50
	c := newConsumer(t, cfg, js, db)
	release := make(chan struct{})
	var commits atomic.Int64
	consumer.SetAfterCommit(c, func() error {
		if commits.Add(1) == 1 {
			<-release // the writer is busy with the first batch
		}
		return nil
	})
	start(t, c)

	events := makeEvents(2000, "grow")
	publish(t, js, events[0])
	testkit.Eventually(t, patience, func() error {
		if commits.Load() == 0 {
			return errors.New("first batch not committed yet")
		}
		return nil
	})
	for _, ev := range events[1:] {
		publish(t, js, ev)
	}
	// Every message is delivered while the writer waits: the reader holds
	// one full-grown batch and the server the rest.
	testkit.Eventually(t, patience, func() error {
		info, err := consumerInfo(t, js, cfg.Durable)
		if err != nil {
			return err
		}
		if info.NumPending != 0 {
			return fmt.Errorf("%d messages not delivered yet", info.NumPending)
		}
		return nil
	})
	close(release)
	testkit.Eventually(t, patience, countIs(t, db, 2000))
	checkExactlyOnce(t, db, events)
	// 1 + 1,999 events in batches of at most 400: at least 6 batches; at
	// 50 events a batch it would be 41.
	if got := c.Stats().Batches; got < 6 || got > 20 {
		t.Errorf("%d batches for 2,000 events, want 6-20 (batches grown to at most 400 events)", got)
	}
}

// Ensure a consumer that stops after the commit and before the ack leaves
// no duplicate behind once a new consumer gets the redelivered messages
// (docs/CONTRACT.md, Guarantees: every event reaches the database exactly
// once).
func TestConsumer_Run_RedeliveryAfterCrash(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	events := makeEvents(500, "redeliver")
	publishChunks(t, js, events, 50)

	first := newConsumer(t, cfg, js, db)
	crashAfterFirstCommit(t, first)
	committed := mustCount(t, db)
	if committed == 0 {
		t.Fatal("no row committed before the crash")
	}
	if got := first.Stats().Messages; got != 0 {
		t.Errorf("crashed consumer acknowledged %d messages, want 0", got)
	}
	info, err := consumerInfo(t, js, cfg.Durable)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending == 0 {
		t.Error("no message is pending after a crash before the ack")
	}

	second, _ := runConsumer(t, cfg, js, db)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(events))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	testkit.Eventually(t, patience, func() error {
		s := second.Stats()
		// At least the committed events come back; a loaded machine may
		// redeliver more.
		if s.Ignored < committed || s.Inserted != int64(len(events))-committed {
			return fmt.Errorf("stats=%+v, want %d ignored (or more) and %d inserted", s, committed, int64(len(events))-committed)
		}
		return nil
	})
	checkExactlyOnce(t, db, events)
	sameAggregates(t, db, mustReference(t, events))
}

// Ensure the same event_id in two messages is stored once, whether both
// messages are queued together (most likely one transaction) or the first
// is stored before the second is published.
func TestConsumer_Run_DuplicateEventID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		separate bool // store the first copy before publishing the second
	}{
		{name: "QueuedTogether"}, // most likely one transaction
		{name: "SeparateBatches", separate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			js := testkit.MustRunStream(t)
			db := testkit.MustOpenDB(t)
			cfg := testConfig()
			events := makeEvents(3, "dup")
			publish(t, js, events[0], events[1])
			var c *consumer.Consumer
			if tt.separate {
				c, _ = runConsumer(t, cfg, js, db)
				testkit.Eventually(t, patience, countIs(t, db, 2))
			}
			publish(t, js, events[1], events[2])
			if !tt.separate {
				c, _ = runConsumer(t, cfg, js, db)
			}
			testkit.Eventually(t, patience, func() error {
				if s := c.Stats(); s.Messages < 2 {
					return fmt.Errorf("stats=%+v, want 2 messages", s)
				}
				return nil
			})
			checkExactlyOnce(t, db, events)
			testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
			s := c.Stats()
			if s.Inserted != 3 || s.Ignored < 1 {
				t.Errorf("stats=%+v, want 3 inserted and 1 ignored", s)
			}
			if n := redeliveries(t, js, cfg.Durable); n == 0 && s.Ignored != 1 {
				t.Errorf("stats=%+v without redelivery, want 1 ignored", s)
			}
		})
	}
}

// Ensure poison messages are kept with their reason, terminated rather
// than retried, and never block the valid events around them.
func TestConsumer_Run_PoisonMessages(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()

	noID := makeEvents(1, "noid")[0]
	noID.EventID = ""
	badStatus := makeEvents(2, "badstatus")
	badStatus[1].Status = "maybe"
	poison := []struct {
		name     string
		schema   string
		encoding string
		data     []byte
		reason   string // part of the dead letter's reason
	}{
		{name: "Garbage", schema: wire.SchemaV1, data: []byte("\x00\xff garbage {"), reason: "invalid character"},
		{name: "NoEventID", schema: wire.SchemaV1, data: payload(t, noID), reason: `bad event_id ""`},
		{name: "UnknownSchema", schema: "99", data: payload(t, makeEvents(2, "schema99")...), reason: `unknown payload schema "99"`},
		{name: "Empty", schema: wire.SchemaV1, data: nil, reason: "payload holds no event"},
		{name: "OneBadLine", schema: wire.SchemaV1, data: payload(t, badStatus...), reason: `bad status "maybe"`},
		{name: "BadS2", schema: wire.SchemaV1, encoding: wire.EncodingS2, data: payload(t, makeEvents(2, "bads2")...), reason: "decompress s2 payload"},
		{name: "UnknownEncoding", schema: wire.SchemaV1, encoding: "zstd", data: payload(t, makeEvents(2, "zstd")...), reason: `unknown payload encoding "zstd"`},
	}

	// The server announces every terminated message.
	terms := make(chan *nats.Msg, 64)
	sub, err := js.Conn().ChanSubscribe(fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.%s.%s", trackskills.StreamName, cfg.Durable), terms)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	before, after, later := makeEvents(10, "before"), makeEvents(10, "after"), makeEvents(10, "later")
	publishChunks(t, js, before, 5)
	poisonSeq := map[uint64]string{} // stream seq -> reason
	for _, p := range poison {
		poisonSeq[publishRaw(t, js, p.schema, p.encoding, p.data)] = p.reason
		publish(t, js, makeEvents(1, "between-"+p.name)...)
	}
	publishChunks(t, js, after, 5)
	c, _ := runConsumer(t, cfg, js, db)

	valid := len(before) + len(after) + len(poison)
	testkit.Eventually(t, patience, countIs(t, db, int64(valid)))
	testkit.Eventually(t, patience, func() error {
		reasons, err := db.DeadLetterReasons(context.Background())
		if err != nil {
			return err
		}
		if len(reasons) != len(poison) {
			return fmt.Errorf("%d dead letters, want %d: %q", len(reasons), len(poison), reasons)
		}
		return nil
	})
	reasons, err := db.DeadLetterReasons(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range poison {
		t.Run(p.name, func(t *testing.T) {
			n := 0
			for _, r := range reasons {
				if strings.Contains(r, p.reason) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d dead letters name %q, want 1; reasons: %q", n, p.reason, reasons)
			}
		})
	}
	if got := mustEvents(t, db); len(got) != valid {
		t.Errorf("distinct event_ids=%d, want %d", len(got), valid)
	} else if _, ok := got[badStatus[0].EventID]; ok {
		t.Errorf("event %s of a poison message was stored", badStatus[0].EventID)
	}

	// The consumer still takes new events after the poison.
	publishChunks(t, js, later, 5)
	testkit.Eventually(t, patience, countIs(t, db, int64(valid+len(later))))

	// Terminated, not left to redeliver: each poison message is announced
	// as terminated with its reason, and nothing stays pending.
	got := map[uint64]string{}
	for len(got) < len(poison) {
		select {
		case m := <-terms:
			var adv struct {
				StreamSeq uint64 `json:"stream_seq"`
				Reason    string `json:"reason"`
			}
			if err := json.Unmarshal(m.Data, &adv); err != nil {
				t.Fatalf("advisory %s: %v", m.Data, err)
			}
			got[adv.StreamSeq] = adv.Reason
		case <-time.After(patience):
			t.Fatalf("%d of %d poison messages terminated: %v", len(got), len(poison), got)
		}
	}
	for seq, reason := range got {
		if want, ok := poisonSeq[seq]; !ok {
			t.Errorf("message %d terminated (%s), but it is not poison", seq, reason)
		} else if !strings.Contains(reason, want) {
			t.Errorf("message %d terminated with reason %q, want it to name %q", seq, reason, want)
		}
	}
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	if s := c.Stats(); s.DeadLetters != int64(len(poison)) || s.Failures != 0 {
		t.Errorf("stats=%+v, want %d dead letters and no failure", s, len(poison))
	}
}

// Ensure a full disk loses nothing: a failing batch stores no row and is
// retried, the consumer keeps running, and once the disk has room again
// every event arrives exactly once.
func TestConsumer_Run_DiskFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	c := newConsumer(t, cfg, js, db)
	r := start(t, c)

	warm := makeEvents(10, "warm")
	publish(t, js, warm...)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(warm))))
	st, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	// SQLite never caps below the current page count, so this is at most
	// a few pages of room: far less than a 500-event message needs.
	if err := db.LimitSize(ctx, st.Size()+16<<10); err != nil {
		t.Fatal(err)
	}

	events := makeEvents(2000, "full")
	publishChunks(t, js, events, 500)
	testkit.Eventually(t, patience, func() error {
		if s := c.Stats(); s.Failures < 3 {
			return fmt.Errorf("stats=%+v, want 3 failures", s)
		}
		return nil
	})
	if got := mustCount(t, db); got != int64(len(warm)) {
		t.Errorf("%d events stored while the disk is full, want %d (a failing batch is stored in full or not at all)", got, len(warm))
	}
	if !r.running() || !c.Ready() {
		t.Fatalf("consumer stopped on a full disk: %v", r.err)
	}

	if err := db.LimitSize(ctx, 0); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, patience, countIs(t, db, int64(len(warm)+len(events))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	checkExactlyOnce(t, db, warm, events)
	if s := c.Stats(); s.Inserted != int64(len(warm)+len(events)) {
		t.Errorf("stats=%+v, want %d inserted", s, len(warm)+len(events))
	}
}

// Ensure a NATS restart under a running consumer loses and duplicates
// nothing: the consumer reconnects over TCP and carries on.
func TestConsumer_Run_NATSRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	natsCfg := embeddednats.Config{Addr: testkit.MustFreeAddr(t), StoreDir: t.TempDir()}
	srv := testkit.MustStartNATS(t, natsCfg)
	pub := testkit.MustJetStream(t, srv)
	testkit.MustStream(t, pub)

	nc, err := nats.Connect(srv.ClientURL(), nats.Name(t.Name()), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	cfg.BatchEvents = 100
	c, stop := runConsumer(t, cfg, js, db)

	before := makeEvents(2000, "before")
	publishChunks(t, pub, before, 20)
	testkit.Eventually(t, patience, func() error {
		if n := mustCount(t, db); n == 0 {
			return errors.New("nothing stored yet")
		}
		return nil
	})
	pub.Conn().Close()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("NATS stopped with %d of %d events stored", mustCount(t, db), len(before))

	srv = testkit.MustStartNATS(t, natsCfg)
	pub = testkit.MustJetStream(t, srv)
	after := makeEvents(2000, "after")
	publishChunks(t, pub, after, 20)

	testkit.Eventually(t, patience, countIs(t, db, int64(len(before)+len(after))))
	testkit.Eventually(t, patience, func() error { return settled(t, pub, cfg.Durable) })
	checkExactlyOnce(t, db, before, after)
	if got := nc.Stats().Reconnects; got == 0 {
		t.Error("the consumer's connection never reconnected")
	}
	if s := c.Stats(); s.Inserted != int64(len(before)+len(after)) {
		t.Errorf("stats=%+v, want %d inserted", s, len(before)+len(after))
	}
	// Stop while the server runs, before the Cleanups stop it.
	if err := stop(); err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
}

// Ensure a cancelled Run returns nil having written and acknowledged what
// it already held: the next consumer finds nothing committed to redeliver.
func TestConsumer_Run_GracefulStop(t *testing.T) {
	t.Parallel()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	cfg.BatchEvents = 100
	cfg.PullMaxBytes = 32 << 10 // hold a few messages, not the whole stream
	events := makeEvents(3000, "graceful")
	publishChunks(t, js, events, 10)

	// Cancel between the first commit and its ack.
	first := newConsumer(t, cfg, js, db)
	committed, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	consumer.SetAfterCommit(first, func() error {
		once.Do(func() {
			close(committed)
			<-proceed
		})
		return nil
	})
	r := start(t, first)
	select {
	case <-committed:
	case <-time.After(patience):
		t.Fatal("no batch committed")
	}
	r.cancel()
	close(proceed)
	if err := r.stop(); err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
	stored := mustCount(t, db)
	t.Logf("stopped with %d of %d events stored", stored, len(events))
	if stored == 0 || stored == int64(len(events)) {
		t.Errorf("%d events stored, want some but not all", stored)
	}
	if s := first.Stats(); s.Inserted != stored {
		t.Errorf("stats=%+v, want %d inserted (every commit acknowledged)", s, stored)
	}
	// The stored events are those of the first messages of the stream;
	// every one of those messages has been acknowledged.
	var last uint64
	seqs := map[uint64]bool{}
	for _, ev := range mustEvents(t, db) {
		seqs[ev.StreamSeq] = true
		last = max(last, ev.StreamSeq)
	}
	if uint64(len(seqs)) != last {
		t.Fatalf("events of %d messages stored, up to message %d", len(seqs), last)
	}
	testkit.Eventually(t, patience, func() error {
		info, err := consumerInfo(t, js, cfg.Durable)
		if err != nil {
			return err
		}
		if info.AckFloor.Stream < last {
			return fmt.Errorf("messages acknowledged up to %d, want %d (the last committed)", info.AckFloor.Stream, last)
		}
		return nil
	})

	second, _ := runConsumer(t, cfg, js, db)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(events))))
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	checkExactlyOnce(t, db, events)
	if s := second.Stats(); s.Inserted != int64(len(events))-stored {
		t.Errorf("second consumer stats=%+v, want %d inserted", s, int64(len(events))-stored)
	}
}

// Ensure a consumer started before the stream exists waits for it, then
// consumes.
func TestConsumer_Run_WaitsForStream(t *testing.T) {
	t.Parallel()
	js := testkit.MustJetStream(t, testkit.MustRunNATS(t))
	db := testkit.MustOpenDB(t)
	cfg := testConfig()
	rec := &recorder{}
	c, err := consumer.New(cfg, js, db, slog.New(rec))
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, c)

	testkit.Eventually(t, patience, func() error {
		if n := rec.count("waiting for the stream"); n < 2 {
			return fmt.Errorf("%d attach attempts logged, want 2", n)
		}
		return nil
	})
	if !r.running() {
		t.Fatalf("Run returned %v without a stream", r.err)
	}
	if c.Ready() {
		t.Error("Ready() before the stream exists")
	}

	testkit.MustStream(t, js)
	events := makeEvents(20, "late")
	publishChunks(t, js, events, 5)
	testkit.Eventually(t, patience, countIs(t, db, int64(len(events))))
	if !c.Ready() {
		t.Error("not Ready() while consuming")
	}
	testkit.Eventually(t, patience, func() error { return settled(t, js, cfg.Durable) })
	checkExactlyOnce(t, db, events)
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*consumer.Config)
		wantErr string
	}{
		{name: "OK", edit: func(*consumer.Config) {}},
		{name: "DurableOfTheDatabase", edit: func(c *consumer.Config) { c.Durable = "" }},
		{name: "ZeroBatch", edit: func(c *consumer.Config) { c.BatchEvents = 0 }, wantErr: "batch size"},
		{name: "ZeroBatchWait", edit: func(c *consumer.Config) { c.BatchWait = 0 }, wantErr: "batch wait"},
		{name: "ShortAckWait", edit: func(c *consumer.Config) { c.AckWait = time.Millisecond }, wantErr: "ack wait"},
		{name: "NoAckPending", edit: func(c *consumer.Config) { c.MaxAckPending = 0 }, wantErr: "max ack pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := consumer.DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate()=%v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate()=%v, want an error naming %q", err, tt.wantErr)
			}
		})
	}
}
