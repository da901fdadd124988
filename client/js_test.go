package client_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// TestJS runs the JavaScript client's tests (node --test) against the shared
// server. Without node it is skipped, unless CI is set.
func TestJS(t *testing.T) {
	t.Parallel()
	needServer(t)
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node not found and CI is set: %v", err)
		}
		t.Skipf("node not found: %v", err)
	}
	files, err := filepath.Glob(filepath.Join("js", "test", "*.test.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no JS tests found (%v)", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--test"}, files...)...)
	cmd.Env = testkit.CleanEnv("TRACKSKILLS_TEST_URL=" + shared.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	// Every test ran: none was skipped for want of the server.
	if !strings.Contains(string(out), "# skipped 0") || !strings.Contains(string(out), "# fail 0") {
		t.Fatalf("node --test:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "# tests ") || strings.HasPrefix(line, "# pass ") {
			t.Log("node --test: " + strings.TrimPrefix(line, "# "))
		}
	}
}
