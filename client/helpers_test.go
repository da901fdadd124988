package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
	if binPath, err = buildBinary(tmp); err != nil {
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

// buildBinary builds ./cmd/trackskills of this module into dir.
func buildBinary(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not in a module")
	}
	bin := filepath.Join(dir, "trackskills")
	build := exec.Command("go", "build", "-o", bin, "./cmd/trackskills")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build trackskills: %w\n%s", err, out)
	}
	return bin, nil
}

// cleanEnv is the environment without the variables that would change the
// server or the clients under test (TRACKSKILLS_*, API_KEY) and without
// proxies for the loopback address.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TRACKSKILLS_") || strings.HasPrefix(kv, "API_KEY=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "no_proxy=127.0.0.1,localhost", "NO_PROXY=127.0.0.1,localhost")
	return append(env, extra...)
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// closedURL returns a base URL where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// syncBuffer collects the output of a process.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a `trackskills serve` process.
type server struct {
	URL    string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
}

// startServer runs `trackskills serve` on free ports with its data in
// dataDir, and waits until /readyz answers 200.
func startServer(dataDir string, args ...string) (*server, error) {
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	natsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &server{URL: "http://" + httpAddr, logs: &syncBuffer{}, exited: make(chan struct{})}
	args = append([]string{"serve", "--data-dir", dataDir, "--http-addr", httpAddr, "--nats-addr", natsAddr,
		"--log-level", "warn"}, args...)
	s.cmd = exec.Command(binPath, args...)
	s.cmd.Env = cleanEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	go func() {
		_ = s.cmd.Wait() // the exit status shows in the logs and in stop
		close(s.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.URL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("server exited before ready (%v):\n%s", s.cmd.ProcessState, s.logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stop() // the timeout is the error to report
			return nil, fmt.Errorf("server not ready within 30 s:\n%s", s.logs)
		}
	}
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

// stop sends SIGTERM and waits for the process (killing it after 15 s).
func (s *server) stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop server: %w", err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill() // the timeout is the error to report
		<-s.exited
		return fmt.Errorf("server did not stop within 15 s of SIGTERM:\n%s", s.logs)
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

// exported returns the stored events of one tool in the last hour.
func exported(base, tool string) ([]stored, error) {
	res, err := http.Get(base + "/analytics/export.ndjson?hours=1&tool=" + url.QueryEscape(tool))
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

// eventually calls fn until it returns nil, failing the test with its last
// error after timeout.
func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStored waits (10 s at most) until the server holds exactly n events of
// tool, and returns them.
func waitStored(t *testing.T, base, tool string, n int) []stored {
	t.Helper()
	var evs []stored
	eventually(t, 10*time.Second, func() error {
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
