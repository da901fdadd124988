package analytics_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// liveEnv is an analytics server with live mode over a real embedded NATS
// server, behind a real HTTP listener (live responses stream).
type liveEnv struct {
	url  string
	nc   *nats.Conn // the publisher's connection
	live *analytics.Live
}

func newLiveEnv(tb testing.TB, lcfg analytics.LiveConfig, cfg analytics.Config) *liveEnv {
	tb.Helper()
	// No TCP listener: the publisher and the live feed connect in-process.
	ns := testkit.MustStartNATS(tb, embeddednats.Config{StoreDir: tb.TempDir()})
	pub := testkit.MustConnect(tb, ns)
	sub := testkit.MustConnect(tb, ns)

	ro := testkit.MustOpenReadOnly(tb, testkit.MustOpenDB(tb).Path())
	live := analytics.NewLive(lcfg, sub, slog.New(slog.DiscardHandler))
	srv := analytics.New(cfg, ro, slog.New(slog.DiscardHandler))
	srv.SetLive(live)
	e := echo.New()
	e.HTTPErrorHandler = errorHandler
	// The tests' clients come through a proxy on loopback, which names
	// them with X-Forwarded-For (the product trusts --trusted-proxies).
	e.IPExtractor = echo.ExtractIPFromXFFHeader()
	if err := srv.Register(e); err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(e)
	tb.Cleanup(func() { live.Close(); hs.Close() })
	return &liveEnv{url: hs.URL, nc: pub, live: live}
}

// publish sends one stream message holding evs, as ingest does.
func (env *liveEnv) publish(tb testing.TB, compress bool, evs ...trackskills.Event) {
	tb.Helper()
	var data []byte
	for i := range evs {
		var err error
		if data, err = wire.AppendEvent(data, &evs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	msg := nats.NewMsg(trackskills.SubjectIngest)
	msg.Header.Set(wire.SchemaHeader, wire.SchemaV1)
	msg.Data = data
	if compress {
		msg.Header.Set(wire.EncodingHeader, wire.EncodingS2)
		msg.Data = s2.Encode(nil, data)
	}
	if err := env.nc.PublishMsg(msg); err != nil {
		tb.Fatal(err)
	}
}

// sseStream reads Server-Sent Events from a live response.
type sseStream struct {
	resp *http.Response
	r    *bufio.Reader
}

// openLive GETs /analytics/live and waits for its first line.
func (env *liveEnv) openLive(tb testing.TB, header ...string) *sseStream {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.url+"/analytics/live", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /analytics/live: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		tb.Fatalf("Content-Type %q, want text/event-stream", ct)
	}
	s := &sseStream{resp: resp, r: bufio.NewReader(resp.Body)}
	if line, err := s.r.ReadString('\n'); err != nil || line != ": connected\n" {
		tb.Fatalf("first line %q, %v; want \": connected\"", line, err)
	}
	return s
}

// next returns the next event's name and data, skipping comments.
func (s *sseStream) next() (event, data string, err error) {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if event != "" {
				return event, data, nil
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

func liveEvent(i int, status string) trackskills.Event {
	d := int64(i)
	return trackskills.Event{
		EventID: fmt.Sprintf("ev-%06d", i), ToolName: fmt.Sprintf("tool-%d", i%3), ToolCategory: "skill",
		Status: status, DurationMs: &d, Timestamp: testNow.UnixMilli(), ReceivedAt: testNow.UnixMilli(),
		UserHash: "0123456789abcdef0123456789abcdef", SessionHash: "fedcba9876543210fedcba9876543210", Source: "api",
	}
}

func TestLive_DeliversNewEvents(t *testing.T) {
	env := newLiveEnv(t, analytics.LiveConfig{}, analytics.Config{})
	s := env.openLive(t)
	bad := liveEvent(2, trackskills.StatusError)
	bad.ToolName, bad.ErrorType = `<img src=x onerror=alert(1)>`, "boom"
	env.publish(t, false, liveEvent(1, trackskills.StatusSuccess))
	env.publish(t, true, bad, liveEvent(3, trackskills.StatusTimeout))

	var got []analytics.LiveEvent
	for len(got) < 3 {
		event, data, err := s.next()
		if err != nil {
			t.Fatalf("read live stream: %v", err)
		}
		if event != "events" {
			t.Fatalf("event %q (%s), want events", event, data)
		}
		if strings.Contains(data, "0123456789abcdef") || strings.Contains(data, "fedcba98") || strings.Contains(data, "<img") {
			t.Errorf("live data carries a hash or raw HTML: %s", data)
		}
		var evs []analytics.LiveEvent
		if err := json.Unmarshal([]byte(data), &evs); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		got = append(got, evs...)
	}
	want := []struct{ id, tool, status, errType string }{
		{"ev-000001", "tool-1", "success", ""},
		{"ev-000002", `<img src=x onerror=alert(1)>`, "error", "boom"},
		{"ev-000003", "tool-0", "timeout", ""},
	}
	for i, w := range want {
		g := got[i]
		errType := ""
		if g.ErrorType != nil {
			errType = *g.ErrorType
		}
		if g.EventID != w.id || g.ToolName != w.tool || g.Status != w.status || errType != w.errType ||
			g.ToolCategory != "skill" || g.DurationMs == nil || g.Timestamp != testNow.UnixMilli() || g.Source != "api" {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
}

// A browser that stops reading loses events, is told how many, and never
// holds up the publisher: every event is either delivered or counted.
func TestLive_SlowClientIsToldWhatItMissed(t *testing.T) {
	env := newLiveEnv(t, analytics.LiveConfig{Buffer: 8, Heartbeat: 50 * time.Millisecond}, analytics.Config{})
	s := env.openLive(t)
	const messages = 20000 // ~20 MB: more than the sockets can hold
	ev := liveEvent(0, trackskills.StatusError)
	ev.ErrorMessage = strings.Repeat("x", 1000)
	for i := 0; i < messages; i++ {
		ev.EventID = fmt.Sprintf("ev-%06d", i)
		env.publish(t, false, ev)
	}
	if err := env.nc.FlushTimeout(10 * time.Second); err != nil {
		t.Fatalf("the publisher was held up by a slow live client: %v", err)
	}
	if !env.nc.IsConnected() {
		t.Fatal("publisher disconnected")
	}

	delivered, dropped := 0, 0
	deadline := time.Now().Add(20 * time.Second)
	for delivered+dropped < messages && time.Now().Before(deadline) {
		event, data, err := s.next()
		if err != nil {
			t.Fatalf("read live stream: %v", err)
		}
		switch event {
		case "events":
			var evs []analytics.LiveEvent
			if err := json.Unmarshal([]byte(data), &evs); err != nil {
				t.Fatal(err)
			}
			delivered += len(evs)
		case "dropped":
			var d struct{ Dropped int }
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Fatal(err)
			}
			dropped += d.Dropped
		}
	}
	t.Logf("delivered %d, dropped %d", delivered, dropped)
	if delivered+dropped != messages || dropped == 0 {
		t.Errorf("delivered %d + dropped %d, want %d with some dropped", delivered, dropped, messages)
	}
}

func TestLive_Refusals(t *testing.T) {
	t.Run("NoNATS", func(t *testing.T) {
		path := testkit.MustOpenDB(t).Path()
		e := newRouter(t, path, analytics.Config{})
		rec := get(e, "/analytics/live")
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "live mode needs") {
			t.Errorf("got %d %s, want 503 saying why", rec.Code, rec.Body)
		}
	})
	t.Run("Key", func(t *testing.T) {
		env := newLiveEnv(t, analytics.LiveConfig{}, analytics.Config{ReadKeys: []string{"k1"}})
		resp, err := http.Get(env.url + "/analytics/live")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("no key: %s, want 401", resp.Status)
		}
		env.openLive(t, "X-Api-Key", "k1")
	})
	t.Run("TooMany", func(t *testing.T) {
		env := newLiveEnv(t, analytics.LiveConfig{MaxClients: 2}, analytics.Config{})
		env.openLive(t)
		env.openLive(t)
		resp, err := http.Get(env.url + "/analytics/live")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("third client: %s, want 503 with Retry-After", resp.Status)
		}
	})
	t.Run("TooManyFromOneAddress", func(t *testing.T) {
		env := newLiveEnv(t, analytics.LiveConfig{MaxClients: 10, MaxClientsPerAddr: 2}, analytics.Config{})
		try := func(addr string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, env.url+"/analytics/live", nil)
			req.Header.Set("X-Forwarded-For", addr)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body errorBody
			_ = json.NewDecoder(resp.Body).Decode(&body) // a 200 streams: no JSON
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
			return resp.StatusCode, body.Error
		}
		first := env.openLive(t, "X-Forwarded-For", "198.51.100.1")
		env.openLive(t, "X-Forwarded-For", "198.51.100.1")
		env.openLive(t, "X-Forwarded-For", "2001:db8::1")
		env.openLive(t, "X-Forwarded-For", "2001:db8::2")
		for _, tt := range []struct {
			name, addr string
		}{{"IPv4", "198.51.100.1"}, {"IPv6SameSlash64", "2001:db8::ffff"}} {
			if got, msg := try(tt.addr); got != http.StatusTooManyRequests || !strings.Contains(msg, "close one") {
				t.Errorf("%s: third client of %s: %d %q, want 429 saying what to do", tt.name, tt.addr, got, msg)
			}
		}
		env.openLive(t, "X-Forwarded-For", "198.51.100.2")
		env.openLive(t, "X-Forwarded-For", "2001:db8:0:1::1")
		if got, want := env.live.Clients(), 6; got != want {
			t.Errorf("%d clients, want %d", got, want)
		}
		// A slot comes back when its client leaves.
		first.resp.Body.Close()
		testkit.Eventually(t, 5*time.Second, func() error {
			if n := env.live.Clients(); n != 5 {
				return fmt.Errorf("%d clients, want 5", n)
			}
			return nil
		})
		env.openLive(t, "X-Forwarded-For", "198.51.100.1")
	})
	t.Run("Close", func(t *testing.T) {
		env := newLiveEnv(t, analytics.LiveConfig{}, analytics.Config{})
		s := env.openLive(t)
		env.live.Close()
		done := make(chan error, 1)
		go func() { _, _, err := s.next(); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				t.Error("got an event after Close, want the end of the stream")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not end the live response")
		}
		if n := env.live.Clients(); n != 0 {
			t.Errorf("%d clients after Close, want 0", n)
		}
	})
}
