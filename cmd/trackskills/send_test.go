package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

func TestSend(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	o := serveOptions(t)
	app := mustStartServe(t, o)
	env := []string{"TRACKSKILLS_URL=" + app.URL()}
	code, out, errOut := runBinary(t, nil, env, "send", "nightly-report", "--status", "error", "--duration-ms", "1200", "--error-type", "exit_code", "--error-message", "exit 3", "--category", "script", "--event-id", "send-1")
	if code != 0 || !strings.Contains(out, "sent nightly-report") {
		t.Fatalf("send: exit %d, %q %q", code, out, errOut)
	}
	code, _, errOut = runBinary(t, nil, env, "send", "x", "--status", "maybe")
	if code != 1 || !strings.Contains(errOut, "status") {
		t.Errorf("bad status: exit %d, stderr %q: want 1 naming status", code, errOut)
	}
	code, _, errOut = runBinary(t, nil, []string{"TRACKSKILLS_URL=http://" + testkit.MustFreeAddr(t)}, "send", "x", "--timeout", "300ms")
	if code != 1 || !strings.Contains(errOut, "send to") {
		t.Errorf("server down: exit %d, stderr %q: want 1", code, errOut)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		evs := storedByID(t, o.dbPath())["send-1"]
		if len(evs) != 1 {
			return fmt.Errorf("send-1 stored %d times", len(evs))
		}
		ev := evs[0]
		if ev.ToolName != "nightly-report" || ev.Status != "error" || ev.ErrorType != "exit_code" || ev.ErrorMessage != "exit 3" ||
			ev.ToolCategory != "script" || ev.DurationMs == nil || *ev.DurationMs != 1200 || ev.Source != "bash" {
			return fmt.Errorf("stored %+v", ev)
		}
		return nil
	})
}
