package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
)

// mustServer runs a real ingest server on a real stream and returns its
// URL and the stream, to read back what the relay forwarded.
func mustServer(t *testing.T) (string, jetstream.JetStream) {
	t.Helper()
	js := testkit.MustRunStream(t)
	srv := ingest.New(ingest.DefaultConfig(), js, []byte("relay-test-hash-key"), testkit.Logger(t))
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown ingest: %v", err)
		}
	})
	return hs.URL, js
}

// mustRelay starts a relay forwarding to server, and returns it with the
// URL of its hook and a stop that waits for Run to end.
func mustRelay(t *testing.T, cfg Config) (*Relay, string, func() error) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testkit.Logger(t)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(r.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		hs.Close()
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return r, hs.URL + "/api/hooks/claude-code", stop
}

// post sends the PostToolUse of call i to the relay's hook and returns
// the status.
func post(t *testing.T, hook string, i int) int {
	t.Helper()
	body := fmt.Appendf(nil, `{"hook_event_name":"PostToolUse","session_id":"s","tool_name":"Read","tool_use_id":"toolu_%04d","tool_input":{},"tool_response":{}}`, i)
	resp, err := http.Post(hook, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// forwardedIDs counts each event id in the stream.
func forwardedIDs(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, p := range testkit.MustStreamPayloads(t, js) {
		for l := range bytes.Lines(p) {
			var ev struct {
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal(l, &ev); err != nil {
				t.Fatalf("stream line %q: %v", l, err)
			}
			ids[ev.EventID]++
		}
	}
	return ids
}

// When the spool's cursor cannot be written (here a directory in its way;
// a full disk or no file descriptors in life) the forwarder does not stop:
// Health says what fails, and once the cause is gone every event answered
// 200 reaches the server.
func TestRelay_ForwarderSurvivesSpoolFailures(t *testing.T) {
	url, js := mustServer(t)
	spool := t.TempDir()
	r, hook, stop := mustRelay(t, Config{Server: url, SpoolDir: spool, User: "dev"})
	blocker := filepath.Join(spool, cursorFile)
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		if code := post(t, hook, i); code != http.StatusOK {
			t.Fatalf("hook %d answered %d", i, code)
		}
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if h := r.Health(); !strings.Contains(h.LastError, "cursor") {
			return fmt.Errorf("health %+v: want the cursor's failure", h)
		}
		return nil
	})
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	for i := n; i < 2*n; i++ {
		if code := post(t, hook, i); code != http.StatusOK {
			t.Fatalf("hook %d answered %d", i, code)
		}
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		if h := r.Health(); h.LastError != "" || h.PendingBytes != 0 {
			return fmt.Errorf("health %+v: want everything forwarded", h)
		}
		return nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if ids := forwardedIDs(t, js); len(ids) != 2*n {
		t.Fatalf("%d distinct events reached the server, want %d", len(ids), 2*n)
	}
}

// A second relay on a spool in use is refused, and the first goes on.
func TestRelay_SpoolInUse(t *testing.T) {
	url, js := mustServer(t)
	spool := t.TempDir()
	r, hook, _ := mustRelay(t, Config{Server: url, SpoolDir: spool})
	if _, err := New(Config{Server: url, SpoolDir: spool}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second relay on the spool: %v, want it refused", err)
	}
	for i := range 5 {
		if code := post(t, hook, i); code != http.StatusOK {
			t.Fatalf("hook %d answered %d", i, code)
		}
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if f := r.forwarded.Load(); f != 5 {
			return fmt.Errorf("%d forwarded", f)
		}
		return nil
	})
	if ids := forwardedIDs(t, js); len(ids) != 5 {
		t.Fatalf("%d events reached the server, want 5", len(ids))
	}
}

// Health answers what is pending and dropped and the last error, as JSON.
func TestRelay_Health(t *testing.T) {
	// Nothing listens at the server's address: forwards fail.
	_, hook, _ := mustRelay(t, Config{Server: "http://" + testkit.MustFreeAddr(t), SpoolDir: t.TempDir(), Timeout: time.Second})
	if code := post(t, hook, 1); code != http.StatusOK {
		t.Fatalf("hook answered %d", code)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get(strings.TrimSuffix(hook, "/api/hooks/claude-code") + "/healthz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var h Health
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			return err
		}
		if h.PendingBytes == 0 || !strings.HasPrefix(h.LastError, "forward: ") || h.LastErrorAt == nil || h.Forwarded != 0 {
			return fmt.Errorf("health %+v: want the event pending and the forward's error", h)
		}
		return nil
	})
}
