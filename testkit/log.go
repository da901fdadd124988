package testkit

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// Logger returns the logger of a test. It discards everything unless the
// tests run with -v; then it logs at Debug level through tb.Log, so that the
// lines stay with their test. A line logged after tb's cleanup (a goroutine
// that outlives its test) goes to stderr instead, as tb.Log would panic.
// So does every line of a fuzz test's logger (tb a *testing.F): f.Log
// panics while the fuzz target runs, and what the test started logs then.
func Logger(tb testing.TB) *slog.Logger {
	tb.Helper()
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	if _, fuzz := tb.(*testing.F); fuzz {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	w := &tbWriter{tb: tb}
	// Registered before any Cleanup of what the logger is handed to, so it
	// runs after them: their shutdown logs still reach tb.Log.
	tb.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, opts))
}

// tbWriter sends each write to tb.Log until close, and to stderr after.
type tbWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return os.Stderr.Write(p)
	}
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (w *tbWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}
