package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/relay"
	"github.com/trackskills/trackskills/testkit"
)

// postHook posts a hook payload to the relay at addr as Claude Code's HTTP
// hook does, and reports whether it was answered 200 {}.
func postHook(client *http.Client, addr string, body []byte) bool {
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/hooks/claude-code", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Trackskills-User", "dev")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && string(b) == "{}"
}

// relayCall is the PostToolUse of call i, with an id of its own.
func relayCall(i int) (id string, body []byte) {
	id = fmt.Sprintf("toolu_relay%06d", i)
	return id, fmt.Appendf(nil, `{"hook_event_name":"PostToolUse","session_id":"relay-session","tool_name":"Read",`+
		`"tool_use_id":%q,"tool_input":{"file_path":"/tmp/x"},"tool_response":{},"duration_ms":4}`, id)
}

// Hook calls keep flowing into the relay while the server is stopped and
// restarted and while the relay itself is killed (SIGKILL, no chance to
// sync) and started again on its spool: every call the relay answered 200
// is stored on the server exactly once.
func TestRelay_OutageAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir, httpAddr, relayAddr, spool := t.TempDir(), testkit.MustFreeAddr(t), testkit.MustFreeAddr(t), t.TempDir()
	serveArgs := []string{"serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", testkit.MustFreeAddr(t), "--batch-wait", "20ms"}
	srv := startBinary(t, nil, serveArgs...)
	mustWaitReady(t, srv, httpAddr)
	relayArgs := []string{"relay", "--url", "http://" + httpAddr, "--listen", relayAddr, "--spool-dir", spool}
	rl := startBinary(t, nil, relayArgs...)
	if err := rl.WaitHTTP("http://"+relayAddr+"/healthz", 30*time.Second); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		answered = map[string]bool{}
		refused  int
	)
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() { // about 300 calls a second, from 4 sessions at once
		defer close(sent)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 2 * time.Second}
				for i := w; ; i += 4 {
					select {
					case <-stop:
						return
					case <-time.After(12 * time.Millisecond):
					}
					id, body := relayCall(i)
					ok := postHook(client, relayAddr, body)
					mu.Lock()
					if ok {
						answered[id] = true
					} else {
						refused++ // the relay was down: Claude Code would go on without it
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}()

	time.Sleep(500 * time.Millisecond)
	if err := srv.Stop(syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // the relay spools
	if err := rl.Stop(syscall.SIGKILL, stopTimeout); err != nil && !strings.Contains(err.Error(), "killed") {
		t.Logf("kill relay: %v", err)
	}
	rl = startBinary(t, nil, relayArgs...)
	if err := rl.WaitHTTP("http://"+relayAddr+"/healthz", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	srv = startBinary(t, nil, serveArgs...)
	mustWaitReady(t, srv, httpAddr)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-sent

	mu.Lock()
	n := len(answered)
	mu.Unlock()
	if n < 200 {
		t.Fatalf("only %d calls answered (%d refused): the relay did not take the load", n, refused)
	}
	dbPath := filepath.Join(dir, "trackskills.db")
	testkit.Eventually(t, 60*time.Second, func() error {
		got := storedByID(t, dbPath)
		missing := 0
		for id := range answered {
			switch len(got[id]) {
			case 0:
				missing++
			case 1:
			default:
				return fmt.Errorf("%s stored %d times", id, len(got[id]))
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d answered calls not stored yet", missing, len(answered))
		}
		return nil
	})
	got := storedByID(t, dbPath)
	for id, evs := range got {
		if len(evs) != 1 || !strings.HasPrefix(id, "toolu_relay") {
			t.Errorf("%s: stored %d times", id, len(evs))
		}
		if ev := evs[0]; ev.Source != "hook" || ev.ToolName != "Read" || ev.DurationMs == nil || *ev.DurationMs != 4 || ev.UserHash == "" {
			t.Errorf("%s stored as %+v", id, ev)
		}
	}
	var h relay.Health
	resp, err := http.Get("http://" + relayAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.PendingBytes != 0 || h.Dropped != 0 {
		t.Errorf("relay health %+v, %v: want nothing pending or dropped", h, err)
	}
	t.Logf("%d calls answered and stored once each; %d refused while the relay restarted", n, refused)
}

// The relay refuses to listen beyond loopback, and refuses what a web
// page could send it.
func TestRelay_LocalOnly(t *testing.T) {
	if _, errOut, err := runCmd(t, "relay", "--listen", "0.0.0.0:7718", "--spool-dir", t.TempDir()); err == nil || !strings.Contains(errOut+err.Error(), "not a loopback address") {
		t.Errorf("--listen 0.0.0.0: %v %s", err, errOut)
	}
	r, err := relay.New(relay.Config{Server: "http://" + testkit.MustFreeAddr(t), SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	h := r.Handler()
	_, body := relayCall(1)
	for _, tt := range []struct {
		name   string
		header []string
		host   string
		want   int
		path   string // "" for the hook's
	}{
		{"the hook", []string{"Content-Type", "application/json"}, "127.0.0.1:7718", http.StatusOK, ""},
		{"a web page", []string{"Content-Type", "application/json", "Origin", "http://evil.example"}, "127.0.0.1:7718", http.StatusForbidden, ""},
		{"DNS rebinding", []string{"Content-Type", "application/json"}, "evil.example:7718", http.StatusForbidden, ""},
		{"a form", []string{"Content-Type", "text/plain"}, "localhost:7718", http.StatusUnsupportedMediaType, ""},
		{"another path", []string{"Content-Type", "application/json"}, "127.0.0.1:7718", http.StatusNotFound, "/"},
	} {
		path := cmp.Or(tt.path, claudecode.HookPath)
		req, _ := http.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Host = tt.host
		for i := 0; i < len(tt.header); i += 2 {
			req.Header.Set(tt.header[i], tt.header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.want)
		}
		if tt.want == http.StatusNotFound && !strings.Contains(rec.Body.String(), "POST /api/hooks/claude-code") {
			t.Errorf("%s: %q does not say where the hook goes", tt.name, rec.Body)
		}
	}
}

// A second relay started by mistake leaves the first alone: on the same
// spool it is refused and says how to give it its own; on the same port it
// fails before it touches any spool.
func TestRelay_SecondRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	addr, spool := testkit.MustFreeAddr(t), t.TempDir()
	rl := startBinary(t, nil, "relay", "--url", "http://"+testkit.MustFreeAddr(t), "--listen", addr, "--spool-dir", spool)
	if err := rl.WaitHTTP("http://"+addr+"/healthz", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, "relay", "--listen", testkit.MustFreeAddr(t), "--spool-dir", spool)
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "--spool-dir") {
		t.Errorf("a second relay on the spool: %v, want it refused with a way out", err)
	}
	other := filepath.Join(t.TempDir(), "spool")
	if _, _, err := runCmd(t, "relay", "--listen", addr, "--spool-dir", other); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("a second relay on the port: %v, want the listen error", err)
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the relay that could not listen made its spool: %v", err)
	}
	if _, body := relayCall(1); !postHook(&http.Client{Timeout: 2 * time.Second}, addr, body) {
		t.Error("the first relay stopped answering")
	}
}
