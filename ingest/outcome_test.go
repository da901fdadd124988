package ingest_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackskills/trackskills/ingest"
)

// hookCounts records what the hooks of a server are told.
type hookCounts struct {
	mu        sync.Mutex
	accepted  int
	rejected  map[string]int
	published int // events of the messages published without an error
	failed    int // messages whose publish failed
}

func newHookCounts() *hookCounts { return &hookCounts{rejected: map[string]int{}} }

// config returns cfg with its hooks counting into h.
func (h *hookCounts) config(cfg ingest.Config) ingest.Config {
	cfg.Hooks = ingest.Hooks{
		Accepted: func(n int) { h.mu.Lock(); h.accepted += n; h.mu.Unlock() },
		Rejected: func(reason string, n int) { h.mu.Lock(); h.rejected[reason] += n; h.mu.Unlock() },
	}
	cfg.Publisher.OnPublish = func(n int, _ time.Duration, err error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if err != nil {
			h.failed++
		} else {
			h.published += n
		}
	}
	return cfg
}

// take returns the counts so far and starts again from zero.
func (h *hookCounts) take() (accepted int, rejected map[string]int, published int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	accepted, rejected, published = h.accepted, h.rejected, h.published
	h.accepted, h.rejected, h.published = 0, map[string]int{}, 0
	return accepted, rejected, published
}

// Ensure the hooks count every event accepted, and every one refused with
// its reason: a request refused before its events are read as one.
func TestServer_Hooks(t *testing.T) {
	h := newHookCounts()
	cfg := testConfig()
	cfg.Keys = []string{"k"}
	srv, _ := MustServer(t, h.config(cfg))
	tests := []struct {
		name     string
		path     string
		body     string
		ctype    string
		noKey    bool
		code     int
		accepted int
		rejected map[string]int
	}{
		{name: "Event", path: "/api/track", body: okEvent("a"), code: 200, accepted: 1},
		{name: "BatchPartlyInvalid", path: "/api/track/batch", body: "[" + okEvent("a") + `,{"tool_name":""},` + okEvent("b") + "]",
			code: 200, accepted: 2, rejected: map[string]int{ingest.ReasonInvalid: 1}},
		{name: "BatchAllInvalid", path: "/api/track/batch", body: `[{"tool_name":""},{"status":"nope"}]`,
			code: 400, rejected: map[string]int{ingest.ReasonInvalid: 2}},
		{name: "NoKey", path: "/api/track", body: okEvent("a"), noKey: true, code: 401, rejected: map[string]int{ingest.ReasonUnauthorized: 1}},
		{name: "NotJSON", path: "/api/track", body: "{nope", code: 400, rejected: map[string]int{ingest.ReasonInvalid: 1}},
		{name: "WrongType", path: "/api/track", body: okEvent("a"), ctype: "text/xml", code: 415, rejected: map[string]int{ingest.ReasonInvalid: 1}},
		{name: "TooLarge", path: "/api/track", body: `{"tool_name":"` + strings.Repeat("x", ingest.MaxEventBytes) + `"}`,
			code: 413, rejected: map[string]int{ingest.ReasonTooLarge: 1}},
		{name: "NoRoute", path: "/api/nope", body: okEvent("a"), code: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPost(tt.path, tt.body)
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			if !tt.noKey {
				r.Header.Set("Authorization", "Bearer k")
			}
			if rec := serve(srv.Handler(), r); rec.Code != tt.code {
				t.Fatalf("code=%d, want %d: %s", rec.Code, tt.code, rec.Body)
			}
			accepted, rejected, published := h.take()
			if accepted != tt.accepted || published != tt.accepted {
				t.Errorf("accepted=%d published=%d, want %d", accepted, published, tt.accepted)
			}
			if len(rejected) != len(tt.rejected) {
				t.Errorf("rejected=%v, want %v", rejected, tt.rejected)
			}
			for reason, n := range tt.rejected {
				if rejected[reason] != n {
					t.Errorf("rejected=%v, want %v", rejected, tt.rejected)
				}
			}
		})
	}
}

// Ensure the events of a batch that a full stream refuses are counted as
// store_full, each of them, and the failed publish reported.
func TestServer_HooksStoreFull(t *testing.T) {
	h := newHookCounts()
	srv, js := MustServer(t, h.config(testConfig()))
	cfg := ingest.DefaultStreamConfig()
	cfg.MaxBytes, cfg.Given.MaxBytes = 4<<10, true
	if _, err := ingest.EnsureStream(context.Background(), js, cfg); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	batch := "[" + bigEvent(rnd) + "," + bigEvent(rnd) + "," + bigEvent(rnd) + "]" // ~6 KB, over the cap
	if rec := post(srv.Handler(), "/api/track/batch", batch); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("code=%d, want 503: %s", rec.Code, rec.Body)
	}
	accepted, rejected, _ := h.take()
	if accepted != 0 || len(rejected) != 1 || rejected[ingest.ReasonStoreFull] != 3 {
		t.Fatalf("accepted=%d rejected=%v, want 3 store_full", accepted, rejected)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed != 1 {
		t.Fatalf("failed publishes=%d, want 1", h.failed)
	}
}
