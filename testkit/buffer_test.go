package testkit_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure concurrent writers and a reader can share a LockedBuffer (the race
// detector checks the locking) and that no write is lost.
func TestLockedBuffer(t *testing.T) {
	var buf testkit.LockedBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				logger.Info("line", "writer", i, "n", j)
				_ = buf.String() // a reader while the writers run
			}
		})
	}
	wg.Wait()
	out := buf.String()
	if got, want := strings.Count(out, "\n"), 800; got != want {
		t.Fatalf("%d lines, want %d", got, want)
	}
	for i := range 8 {
		if !strings.Contains(out, fmt.Sprintf("writer=%d n=99", i)) {
			t.Errorf("writer %d's last line is missing", i)
		}
	}
}
