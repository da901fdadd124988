package testkit_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure CleanEnv drops the variables that configure trackskills and its
// clients, and adds the extra ones.
func TestCleanEnv(t *testing.T) {
	t.Setenv("TRACKSKILLS_URL", "http://example.invalid")
	t.Setenv("API_KEY", "secret")
	env := testkit.CleanEnv("TRACKSKILLS_SYNC=1")
	for _, kv := range env {
		if strings.HasPrefix(kv, "TRACKSKILLS_URL=") || strings.HasPrefix(kv, "API_KEY=") {
			t.Errorf("CleanEnv kept %s", kv)
		}
	}
	for _, want := range []string{"TRACKSKILLS_SYNC=1", "NO_PROXY=127.0.0.1,localhost"} {
		if !slices.Contains(env, want) {
			t.Errorf("CleanEnv has no %s", want)
		}
	}
}

// Ensure the binary is built once, runs serve until it is ready, and stops
// cleanly on SIGTERM; and that a process that exits at once is reported.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	bin := testkit.MustBuildBinary(t, testkit.Trackskills)
	if again := testkit.MustBuildBinary(t, testkit.Trackskills); again != bin {
		t.Fatalf("second build at %s, want the first, %s", again, bin)
	}
	t.Cleanup(func() {
		if err := testkit.RemoveBinaries(); err != nil {
			t.Error(err)
		}
	})

	t.Run("Serve", func(t *testing.T) {
		httpAddr := testkit.MustFreeAddr(t)
		p := testkit.MustStartProcess(t, bin, testkit.CleanEnv(), "serve", "--data-dir", t.TempDir(),
			"--http-addr", httpAddr, "--nats-addr", testkit.MustFreeAddr(t))
		if err := p.WaitHTTP("http://"+httpAddr+"/readyz", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if p.PID() <= 0 {
			t.Fatalf("PID()=%d", p.PID())
		}
		if err := p.MustStop(t, syscall.SIGTERM, 30*time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Logs())
		}
		if p.Logs() == "" {
			t.Error("no logs captured")
		}
		// Stopping again reports the same clean exit.
		if err := p.Stop(syscall.SIGTERM, time.Second); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
	t.Run("ExitsEarly", func(t *testing.T) {
		p := testkit.MustStartProcess(t, bin, testkit.CleanEnv(), "serve", "--no-such-flag")
		err := p.WaitHTTP("http://"+testkit.MustFreeAddr(t)+"/readyz", 30*time.Second)
		if err == nil || !strings.Contains(err.Error(), "exited before") {
			t.Fatalf("WaitHTTP()=%v, want an error saying the process exited", err)
		}
		var ee *exec.ExitError
		if err := p.Stop(syscall.SIGTERM, time.Second); !errors.As(err, &ee) || errors.Is(err, testkit.ErrNotStopped) {
			t.Fatalf("Stop()=%v, want the exit error", err)
		}
	})
}
