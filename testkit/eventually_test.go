package testkit_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// recordingTB is a testing.TB whose Fatal* record the failure instead of
// ending the goroutine, so that a test can check how a helper fails.
type recordingTB struct {
	testing.TB
	fatal string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestEventually(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		calls := 0
		testkit.Eventually(t, 5*time.Second, func() error {
			if calls++; calls < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		if got, want := calls, 3; got != want {
			t.Fatalf("calls=%d, want %d", got, want)
		}
	})
	t.Run("TimeoutLastError", func(t *testing.T) {
		rec := &recordingTB{TB: t}
		calls := 0
		start := time.Now()
		testkit.Eventually(rec, 100*time.Millisecond, func() error {
			calls++
			return fmt.Errorf("attempt %d", calls)
		})
		if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
			t.Errorf("gave up after %s, before the timeout", elapsed)
		}
		if want := fmt.Sprintf("attempt %d", calls); !strings.HasSuffix(rec.fatal, want) {
			t.Fatalf("failure %q, want the last error %q", rec.fatal, want)
		}
		if !strings.Contains(rec.fatal, "100ms") {
			t.Errorf("failure %q does not name the timeout", rec.fatal)
		}
	})
}
