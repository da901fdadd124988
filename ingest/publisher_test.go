package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
)

// ledger records which event_ids were answered 200, to check afterwards
// that every one of them is in the stream.
type ledger struct {
	mu  sync.Mutex
	ok  []string
	bad map[int]int // status -> count
}

// track POSTs an event with a client event_id and records the answer.
func (l *ledger) track(tb testing.TB, h http.Handler, id string) *httptest.ResponseRecorder {
	tb.Helper()
	w := post(h, "/api/track", okEventID("avail", id))
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.Code == http.StatusOK {
		l.ok = append(l.ok, id)
	} else {
		if l.bad == nil {
			l.bad = map[int]int{}
		}
		l.bad[w.Code]++
	}
	return w
}

// check fails tb when an event answered 200 is missing from events.
func (l *ledger) check(tb testing.TB, events []trackskills.Event) {
	tb.Helper()
	stored := eventIDs(events)
	for _, id := range l.ok {
		if stored[id] == 0 {
			tb.Errorf("event %s got 200 but is not in the stream", id)
		}
	}
	tb.Logf("%d answered 200, other answers %v, %d events in the stream", len(l.ok), l.bad, len(events))
}

// want503 checks an answer of a stream that cannot take events.
func want503(tb testing.TB, w *httptest.ResponseRecorder, elapsed, timeout time.Duration) {
	tb.Helper()
	// Errorf, not Fatalf: this runs on request goroutines too.
	if w.Code != http.StatusServiceUnavailable {
		tb.Errorf("status=%d, want 503; body %s", w.Code, w.Body)
		return
	}
	if w.Header().Get("Retry-After") == "" {
		tb.Errorf("503 without Retry-After")
	}
	var resp trackResp
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Success || resp.Error == "" {
		tb.Errorf("503 body %s, want JSON with success false and an error (%v)", w.Body, err)
	}
	// The PubAck wait is bounded by the publisher timeout; allow for
	// scheduling under -race.
	if limit := timeout + 750*time.Millisecond; elapsed > limit {
		tb.Errorf("503 took %s, want at most the publisher timeout %s (+slack)", elapsed, timeout)
	}
}

// Ensure ingest answers 503 with Retry-After, within the publisher timeout,
// while the stream cannot take events, recovers afterwards, and never
// answers 200 for an event that is not in the stream.
func TestServer_Unavailable(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Publisher.Timeout = time.Second

	t.Run("NATSDown", func(t *testing.T) {
		t.Parallel()
		natsCfg := embeddednats.Config{Addr: "127.0.0.1:-1", StoreDir: t.TempDir()}
		ns := testkit.MustStartNATS(t, natsCfg)
		natsCfg.Addr = ns.Addr() // the restart listens where the connection reconnects
		// A TCP connection that outlives the server and reconnects to the
		// restarted one.
		nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
			nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		srv, js := mustIngest(t, cfg, nc, testkit.Logger(t))
		h := srv.Handler()
		var l ledger

		if w := l.track(t, h, "up-1"); w.Code != http.StatusOK {
			t.Fatalf("status=%d before the outage, want 200; body %s", w.Code, w.Body)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ns.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				start := time.Now()
				w := l.track(t, h, fmt.Sprintf("down-%d", i))
				want503(t, w, time.Since(start), cfg.Publisher.Timeout)
			})
		}
		wg.Wait()
		if len(l.ok) != 1 {
			t.Fatalf("%d events got 200 while NATS was down", len(l.ok)-1)
		}

		testkit.MustStartNATS(t, natsCfg)
		n := 0
		testkit.Eventually(t, 20*time.Second, func() error {
			n++
			if w := l.track(t, h, fmt.Sprintf("after-%d", n)); w.Code != http.StatusOK {
				return fmt.Errorf("status %d after the restart", w.Code)
			}
			return nil
		})
		// The client retries what got 503 with the same event_ids.
		for i := range 3 {
			if w := l.track(t, h, fmt.Sprintf("down-%d", i)); w.Code != http.StatusOK {
				t.Errorf("retry of down-%d: status=%d, want 200", i, w.Code)
			}
		}
		if nc.Status() != nats.CONNECTED {
			t.Fatalf("connection status %v", nc.Status())
		}
		l.check(t, readStream(t, js))
	})

	// A subject that has a responder but no stream: no PubAck ever comes,
	// and the publisher's own timeout answers.
	t.Run("NoAck", func(t *testing.T) {
		t.Parallel()
		srv, js := MustServer(t, cfg)
		nc := js.Conn()
		h := srv.Handler()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, trackskills.StreamName); err != nil {
			t.Fatal(err)
		}
		sink, err := nc.Subscribe(trackskills.StreamSubjects, func(*nats.Msg) {})
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}

		var l ledger
		start := time.Now()
		w := l.track(t, h, "silent-1")
		elapsed := time.Since(start)
		want503(t, w, elapsed, cfg.Publisher.Timeout)
		if elapsed < cfg.Publisher.Timeout-100*time.Millisecond {
			t.Errorf("503 after %s, before the publisher timeout %s: some other error answered", elapsed, cfg.Publisher.Timeout)
		}

		if err := sink.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		testkit.MustStream(t, js)
		if w := l.track(t, h, "heard-1"); w.Code != http.StatusOK {
			t.Fatalf("status=%d with the stream back, want 200; body %s", w.Code, w.Body)
		}
		l.check(t, readStream(t, js))
	})

	t.Run("StreamDeleted", func(t *testing.T) {
		t.Parallel()
		srv, js := MustServer(t, cfg)
		h := srv.Handler()
		var before ledger
		if w := before.track(t, h, "kept-1"); w.Code != http.StatusOK {
			t.Fatalf("status=%d, want 200; body %s", w.Code, w.Body)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, trackskills.StreamName); err != nil {
			t.Fatal(err)
		}
		var l ledger
		start := time.Now()
		w := l.track(t, h, "lost-1")
		want503(t, w, time.Since(start), cfg.Publisher.Timeout)
		if w := serve(h, httptest.NewRequest(http.MethodGet, "/readyz", nil)); w.Code != http.StatusServiceUnavailable {
			t.Errorf("GET /readyz status=%d without the stream, want 503", w.Code)
		}

		testkit.MustStream(t, js)
		n := 0
		testkit.Eventually(t, 10*time.Second, func() error {
			n++
			if w := l.track(t, h, fmt.Sprintf("new-%d", n)); w.Code != http.StatusOK {
				return fmt.Errorf("status %d after the stream came back", w.Code)
			}
			return nil
		})
		events := readStream(t, js)
		l.check(t, events)
		if got := eventIDs(events)["lost-1"]; got != 0 {
			t.Errorf("the event answered 503 is in the new stream")
		}
		if got, want := len(events), len(l.ok); got != want {
			t.Errorf("new stream has %d events, want the %d answered 200", got, want)
		}
	})
}

// Ensure concurrent requests share messages (group commit) and all of
// them are in the stream when they get 200.
func TestServer_GroupCommit(t *testing.T) {
	t.Parallel()
	srv, js := MustServer(t, testConfig())
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	client := ts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 200

	const n = 200
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := client.Post(ts.URL+"/api/track", "application/json",
				strings.NewReader(okEventID("group", fmt.Sprintf("group-%03d", i))))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("request %d: status %d", i, resp.StatusCode)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	msgs := readMsgs(t, js)
	var events []trackskills.Event
	for _, m := range msgs {
		events = append(events, decodeMsg(t, m)...)
	}
	ids := eventIDs(events)
	for i := range n {
		if got := ids[fmt.Sprintf("group-%03d", i)]; got != 1 {
			t.Errorf("event group-%03d is %d times in the stream, want once", i, got)
		}
	}
	t.Logf("%d events in %d messages: %.1f events a message", len(events), len(msgs), float64(len(events))/float64(len(msgs)))
	if len(msgs) >= n {
		t.Errorf("%d messages for %d concurrent events, want fewer: no group commit", len(msgs), n)
	}
}

// testEvents returns n valid events with ids ev-00000, ev-00001, ...
func testEvents(n, pad int) []trackskills.Event {
	now := time.Now().UnixMilli()
	out := make([]trackskills.Event, n)
	for i := range out {
		out[i] = trackskills.Event{
			EventID: fmt.Sprintf("ev-%05d", i), ToolName: "pub", ToolCategory: "default",
			Status: "success", ErrorMessage: strings.Repeat("e", pad),
			Timestamp: now, ReceivedAt: now, UserHash: "h", Source: "api",
		}
	}
	return out
}

// Ensure one large Publish is split into messages within MaxEvents and
// MaxMsgBytes, and every event is stored once.
func TestPublisher_Publish(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      func(*ingest.PublisherConfig)
		pad      int // bytes of error_message in each event
		wantMsgs int // 0: not checked
	}{
		{name: "Default", cfg: func(*ingest.PublisherConfig) {}, wantMsgs: 3},
		{name: "SmallMessages", cfg: func(c *ingest.PublisherConfig) { c.MaxMsgBytes = 16 << 10 }, pad: 200},
		{name: "FewEvents", cfg: func(c *ingest.PublisherConfig) { c.MaxEvents = 7 }, wantMsgs: 358},
		{name: "OneInFlight", cfg: func(c *ingest.PublisherConfig) { c.MaxInFlight = 1 }, wantMsgs: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			js := testkit.MustRunStream(t)
			cfg := ingest.DefaultPublisherConfig()
			tt.cfg(&cfg)
			p := ingest.NewPublisher(js, cfg, testkit.Logger(t))
			t.Cleanup(func() {
				if err := p.Close(context.Background()); err != nil {
					t.Error(err)
				}
			})

			const n = 2500
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.Publish(ctx, testEvents(n, tt.pad)); err != nil {
				t.Fatal(err)
			}
			msgs := readMsgs(t, js)
			msgIDs := map[string]bool{}
			var all []trackskills.Event
			for _, m := range msgs {
				evs := decodeMsg(t, m)
				if len(evs) > cfg.MaxEvents {
					t.Errorf("message %d holds %d events, over MaxEvents %d", m.Sequence, len(evs), cfg.MaxEvents)
				}
				data, err := payloadOf(m)
				if err != nil {
					t.Fatal(err)
				}
				if len(data) > cfg.MaxMsgBytes {
					t.Errorf("message %d has %d bytes, over MaxMsgBytes %d", m.Sequence, len(data), cfg.MaxMsgBytes)
				}
				id := m.Header.Get(jetstream.MsgIDHeader)
				if id == "" || msgIDs[id] {
					t.Errorf("message %d has id %q: empty or repeated", m.Sequence, id)
				}
				msgIDs[id] = true
				all = append(all, evs...)
			}
			t.Logf("%d events in %d messages", len(all), len(msgs))
			if tt.wantMsgs != 0 && len(msgs) != tt.wantMsgs {
				t.Errorf("%d messages, want %d", len(msgs), tt.wantMsgs)
			}
			if len(all) != n {
				t.Fatalf("stream has %d events, want %d", len(all), n)
			}
			for i, ev := range all {
				if want := fmt.Sprintf("ev-%05d", i); ev.EventID != want {
					t.Fatalf("event %d is %s, want %s: order or count broken", i, ev.EventID, want)
				}
			}
		})
	}
}

// Ensure a closed publisher refuses events with ErrUnavailable, and that a
// shut-down server answers 503.
func TestPublisher_Close(t *testing.T) {
	t.Parallel()
	t.Run("Publisher", func(t *testing.T) {
		t.Parallel()
		js := testkit.MustRunStream(t)
		p := ingest.NewPublisher(js, ingest.DefaultPublisherConfig(), testkit.Logger(t))
		ctx := context.Background()
		if err := p.Publish(ctx, nil); err != nil {
			t.Errorf("publish nothing: %v", err)
		}
		if err := p.Publish(ctx, testEvents(3, 0)); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			t.Errorf("second close: %v", err)
		}
		err := p.Publish(ctx, testEvents(1, 0))
		if !errors.Is(err, ingest.ErrUnavailable) || !errors.Is(err, ingest.ErrClosed) {
			t.Errorf("publish after close: err=%v, want ErrUnavailable and ErrClosed", err)
		}
		if got, want := len(readStream(t, js)), 3; got != want {
			t.Errorf("stream has %d events, want %d", got, want)
		}
	})

	t.Run("Server", func(t *testing.T) {
		t.Parallel()
		srv, js := MustServer(t, testConfig())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		w := post(srv.Handler(), "/api/track", okEvent("late"))
		want503(t, w, 0, 0)
		if got := streamMsgs(t, js); got != 0 {
			t.Errorf("stream has %d messages, want 0", got)
		}
	})
}
