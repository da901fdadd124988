package client_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// binPath is the trackskills binary built by TestMain; shared is a server
// without keys that the tests share (each uses its own tool names).
var (
	binPath string
	shared  *server
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // no server: the tests that need one skip
	}
	tmp, err := os.MkdirTemp("", "trackskills-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	defer func() { _ = testkit.RemoveBinaries() }() // best effort: a temp dir
	if binPath, err = testkit.BuildBinary(testkit.Trackskills); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if shared, err = startServer(filepath.Join(tmp, "shared")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := shared.stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// needServer skips the test under -short, which runs no server.
func needServer(t *testing.T) {
	t.Helper()
	if shared == nil {
		t.Skip("-short: no server")
	}
}

// closedURL returns a base URL where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	return "http://" + testkit.MustFreeAddr(t)
}

// server is a `trackskills serve` process.
type server struct {
	URL string
	p   *testkit.Process
}

// startServer runs `trackskills serve` on free ports with its data in
// dataDir, and waits until /readyz answers 200.
func startServer(dataDir string, args ...string) (*server, error) {
	httpAddr, err := testkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	natsAddr, err := testkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	args = append([]string{"serve", "--data-dir", dataDir, "--http-addr", httpAddr, "--nats-addr", natsAddr,
		"--log-level", "warn"}, args...)
	p, err := testkit.StartProcess(binPath, testkit.CleanEnv(), args...)
	if err != nil {
		return nil, err
	}
	s := &server{URL: "http://" + httpAddr, p: p}
	if err := p.WaitHTTP(s.URL+"/readyz", 30*time.Second); err != nil {
		_ = s.stop() // the readiness error is the one to report
		return nil, err
	}
	return s, nil
}

// mustStartServer starts a server of its own for one test, stopped in Cleanup.
func mustStartServer(t *testing.T, args ...string) *server {
	t.Helper()
	needServer(t)
	s, err := startServer(t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// stop sends SIGTERM and waits for the process (killing it after 15 s). It
// returns the timeout, or the exit error when the server did not exit
// cleanly.
func (s *server) stop() error {
	err := s.p.Stop(syscall.SIGTERM, 15*time.Second)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, testkit.ErrNotStopped): // the error holds the logs
		return fmt.Errorf("stop server: %w", err)
	default:
		return fmt.Errorf("stop server: %w\n%s", err, s.p.Logs())
	}
}

// stored is one line of /analytics/export.ndjson.
type stored struct {
	EventID      string          `json:"event_id"`
	Timestamp    string          `json:"timestamp"`
	ToolName     string          `json:"tool_name"`
	ToolCategory string          `json:"tool_category"`
	Status       string          `json:"status"`
	DurationMs   *int64          `json:"duration_ms"`
	ErrorType    *string         `json:"error_type"`
	ErrorMessage *string         `json:"error_message"`
	Metadata     json.RawMessage `json:"metadata"`
	Source       string          `json:"source"`
	UserIDHash   string          `json:"user_id_hash"`
	SessionHash  *string         `json:"session_hash"`
}

// exported returns the stored events of one tool in this hour and the one
// before: hours=1 is this clock hour alone, which an event sent a moment
// before the hour turns would miss.
func exported(base, tool string) ([]stored, error) {
	res, err := http.Get(base + "/analytics/export.ndjson?hours=2&tool=" + url.QueryEscape(tool))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("export: HTTP %d", res.StatusCode)
	}
	var out []stored
	dec := json.NewDecoder(res.Body)
	for dec.More() {
		var ev stored
		if err := dec.Decode(&ev); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// waitStored waits (10 s at most) until the server holds exactly n events of
// tool, and returns them.
func waitStored(t *testing.T, base, tool string, n int) []stored {
	t.Helper()
	var evs []stored
	testkit.Eventually(t, 10*time.Second, func() error {
		var err error
		if evs, err = exported(base, tool); err != nil {
			return err
		}
		if len(evs) < n {
			return fmt.Errorf("%d event(s) of %q stored, want %d", len(evs), tool, n)
		}
		return nil
	})
	if len(evs) != n {
		t.Fatalf("%d event(s) of %q stored, want %d", len(evs), tool, n)
	}
	return evs
}

// uniqueName returns a tool name that no other test or run uses.
func uniqueName(label string) string {
	return "go_" + label + "_" + strings.ToLower(rand.Text()[:10])
}

// countingTransport counts requests on their way to the server.
type countingTransport struct {
	mu    sync.Mutex
	paths []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) Paths() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

// ctxTimeout returns a context that ends after d, cancelled in Cleanup.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
