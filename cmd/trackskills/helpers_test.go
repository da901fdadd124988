package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// testBinary is the trackskills binary built once for the tests that run
// it as separate OS processes.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func mustBuildBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "trackskills-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "trackskills")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath)) // best effort
	}
	os.Exit(code)
}

func testLogger(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// eventually polls fn until it returns nil or the timeout passes.
func eventually(tb testing.TB, timeout time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveOptions returns serve's options on free ports under a temp dir.
func serveOptions(tb testing.TB) *options {
	o := defaultOptions()
	o.dataDir, o.httpAddr, o.natsAddr = tb.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	o.applyRetention()
	o.consumer.BatchWait = 20 * time.Millisecond
	return &o
}

// mustStartServe starts serve in-process; Cleanup closes it.
func mustStartServe(tb testing.TB, o *options) *serveApp {
	tb.Helper()
	app, err := startServe(context.Background(), o, func(string) string { return "" }, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := app.Close(ctx); err != nil {
			tb.Errorf("close serve: %v", err)
		}
	})
	return app
}

// postJSON posts v (already JSON when it is []byte) and decodes the answer.
func postJSON(client *http.Client, url string, body []byte, header map[string]string, out any) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %q: %w", b, err)
		}
	}
	return resp.StatusCode, nil
}

// countRows counts the stored events and their distinct ids.
func countRows(tb testing.TB, path string) (rows, distinct int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs := readEvents(ctx, tb, path)
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[ev.EventID] = true
	}
	return int64(len(evs)), int64(len(seen))
}

// process is a trackskills subcommand running as an OS process.
type process struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan error
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// startProcess runs the built binary with args and extra environment.
func startProcess(tb testing.TB, env []string, args ...string) *process {
	tb.Helper()
	p := &process{logs: new(bytes.Buffer), mu: new(sync.Mutex), done: make(chan error, 1)}
	p.cmd = exec.Command(mustBuildBinary(tb), args...)
	p.cmd.Env = append(os.Environ(), env...)
	w := lockedWriter{mu: p.mu, w: p.logs}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	tb.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill() // the test is over; the process must go
			<-p.done
		}
		if tb.Failed() {
			tb.Logf("%s logs:\n%s", args[0], p.Logs())
		}
	})
	return p
}

// Logs returns what the process wrote so far.
func (p *process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// stop sends sig and waits for the exit, returning its error.
func (p *process) stop(tb testing.TB, sig os.Signal) error {
	tb.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		tb.Fatalf("process did not exit after %v", sig)
		return nil
	}
}

// waitHTTP waits until GET url answers 200.
func waitHTTP(tb testing.TB, url string, timeout time.Duration) {
	tb.Helper()
	eventually(tb, timeout, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %d", url, resp.StatusCode)
		}
		return nil
	})
}

// readEvents reads every stored event of the database at path.
func readEvents(ctx context.Context, tb testing.TB, path string) []trackskills.Event {
	tb.Helper()
	db, err := sql.OpenReadOnly(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	evs, err := db.Events(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}
