package testkit

import (
	"testing"
	"time"
)

// PollInterval is how often Eventually calls its function. The copies this
// package replaces polled every 20 to 50 ms; the shortest keeps every test's
// meaning (the conditions are reads) and makes passing tests return sooner.
const PollInterval = 20 * time.Millisecond

// Eventually calls fn every PollInterval until it returns nil. When timeout
// passes first, it fails tb with fn's last error.
func Eventually(tb testing.TB, timeout time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not true after %s: %v", timeout, err)
			return // Fatalf returns only in a TB that records failures
		}
		time.Sleep(PollInterval)
	}
}
