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
