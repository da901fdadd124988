package testkit_test

import (
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure a test logger can be used from a goroutine that outlives its test
// (tb.Log would panic then) and while the test runs.
func TestLogger(t *testing.T) {
	var logger = testkit.Logger(t)
	t.Run("Inner", func(t *testing.T) {
		inner := testkit.Logger(t)
		inner.Debug("during the test", "k", 1)
		logger = inner
	})
	logger.Info("after the test has ended") // must not panic
}

// Ensure a fuzz test's logger can be used inside the fuzz target, where
// f.Log panics. Only a run with -v exercises it: otherwise Logger discards.
func FuzzLogger(f *testing.F) {
	logger := testkit.Logger(f)
	logger.Info("before the fuzz target")
	f.Add(1)
	f.Fuzz(func(t *testing.T, n int) {
		logger.Debug("inside the fuzz target", "n", n) // must not panic
	})
}
