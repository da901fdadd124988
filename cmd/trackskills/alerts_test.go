package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/alerts"
	"github.com/trackskills/trackskills/testkit"
)

// runAlertsCmd runs `trackskills alerts args...` in-process, with getenv
// reading env, and returns its output and error.
func runAlertsCmd(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"alerts"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// writeRules writes text as a rules file in a new temp dir.
func writeRules(t *testing.T, text string) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "alerts.yml", []byte(text))
}

func TestAlerts_Check(t *testing.T) {
	t.Run("Example", func(t *testing.T) {
		path := filepath.Join("..", "..", "examples", "alerts.yml")
		out, errOut, err := runAlertsCmd(t, map[string]string{"TRACKSKILLS_SLACK_WEBHOOK": "https://hooks.slack.test/services/X"}, "check", path)
		if err != nil {
			t.Fatalf("check: %v\n%s", err, errOut)
		}
		if want := path + ": ok: 7 rules, 2 targets\n"; out != want {
			t.Fatalf("output=%q, want %q", out, want)
		}
	})
	t.Run("FromEnv", func(t *testing.T) {
		path := writeRules(t, "targets:\n  ops: {type: json, url: 'http://127.0.0.1:1/'}\nrules: []\n")
		out, _, err := runAlertsCmd(t, map[string]string{"TRACKSKILLS_ALERTS": path}, "check")
		if err != nil || !strings.HasSuffix(out, ": ok: 0 rules, 1 target\n") {
			t.Fatalf("out=%q err=%v", out, err)
		}
	})
	t.Run("Problems", func(t *testing.T) {
		path := writeRules(t, "targets:\n  ops:\n    type: xml\n    url: http://127.0.0.1:1/\nrules:\n  - name: x\n    kind: error_rate\n    above: 200%\n")
		_, errOut, err := runAlertsCmd(t, nil, "check", path)
		if err == nil || errors.Is(err, errUsage) {
			t.Fatalf("err=%v, want a failure", err)
		}
		want := path + ":3:11: type must be json or slack, not \"xml\"\n" +
			path + ":8:12: above must be a percentage from 0 to 100 (20 or 20%), not \"200%\"\n"
		if errOut != want {
			t.Fatalf("stderr=\n%s\nwant\n%s", errOut, want)
		}
		if got, want := err.Error(), path+": 2 problems"; got != want {
			t.Fatalf("err=%q, want %q", got, want)
		}
	})
	t.Run("Usage", func(t *testing.T) {
		for _, args := range [][]string{nil, {"lint"}, {"check"}, {"check", "a", "b"}} {
			if _, _, err := runAlertsCmd(t, nil, args...); !errors.Is(err, errUsage) {
				t.Errorf("alerts %q: err=%v, want a usage error", args, err)
			}
		}
	})
}

// Ensure alerts test posts the sample to every target, reports each
// status, and fails when one fails.
func TestAlerts_Test(t *testing.T) {
	var mu sync.Mutex
	var got []string
	handler := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body) // a short body fails the check below
			mu.Lock()
			got = append(got, string(body))
			mu.Unlock()
			w.WriteHeader(status)
		}
	}
	ok, bad := httptest.NewServer(handler(http.StatusOK)), httptest.NewServer(handler(http.StatusInternalServerError))
	t.Cleanup(ok.Close)
	t.Cleanup(bad.Close)
	file := func(second string) string {
		return fmt.Sprintf("targets:\n  ops: {type: json, url: '%s'}\n  chat: {type: slack, url_env: HOOK}\nrules: []\n", ok.URL) + second
	}
	t.Run("OK", func(t *testing.T) {
		out, _, err := runAlertsCmd(t, map[string]string{"HOOK": ok.URL}, "test", writeRules(t, file("")))
		if err != nil {
			t.Fatalf("test: %v\n%s", err, out)
		}
		if want := "ops (json): HTTP 200\nchat (slack): HTTP 200\n"; out != want {
			t.Fatalf("output=%q, want %q", out, want)
		}
		mu.Lock()
		defer mu.Unlock()
		var n alerts.Notification
		if err := json.Unmarshal([]byte(got[0]), &n); err != nil || !n.Test || n.Status != alerts.StatusFiring {
			t.Fatalf("json body %s: %+v %v", got[0], n, err)
		}
		if !strings.Contains(got[1], `"blocks"`) || !strings.Contains(got[1], "[TEST]") {
			t.Fatalf("slack body %s", got[1])
		}
	})
	t.Run("OneFails", func(t *testing.T) {
		out, _, err := runAlertsCmd(t, map[string]string{"HOOK": bad.URL + "/secret"}, "test", writeRules(t, file("")))
		if err == nil || !strings.Contains(err.Error(), "1 target failed: chat") {
			t.Fatalf("err=%v, want chat failed", err)
		}
		if !strings.Contains(out, "ops (json): HTTP 200\n") || !strings.Contains(out, "chat (slack): failed: target chat: HTTP 500 after 1 attempts\n") {
			t.Fatalf("output=%q", out)
		}
		if strings.Contains(out, "/secret") {
			t.Fatalf("output %q shows the URL from the environment", out)
		}
	})
}

// alertReceiver is a real local webhook that collects the JSON bodies
// posted to it.
type alertReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []alerts.Notification
}

func newAlertReceiver(t *testing.T) *alertReceiver {
	rc := &alertReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n alerts.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.msgs = append(rc.msgs, n)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

// waitFor waits until a message of rule has come.
func (rc *alertReceiver) waitFor(t *testing.T, rule string) alerts.Notification {
	t.Helper()
	var got alerts.Notification
	testkit.Eventually(t, 20*time.Second, func() error {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, n := range rc.msgs {
			if n.Rule == rule {
				got = n
				return nil
			}
		}
		return fmt.Errorf("no alert %s among %d messages", rule, len(rc.msgs))
	})
	return got
}

const bashFailing = `  - name: bash-failing
    kind: error_rate
    tool: Bash
    above: 10%
    min_calls: 1
`

// Ensure analytics evaluates the rules of --alerts on its database and
// posts what fires.
func TestAnalytics_Alerts(t *testing.T) {
	rc := newAlertReceiver(t)
	db := testkit.MustOpenDB(t)
	now := time.Now().UnixMilli()
	testkit.MustWriteBatch(t, db, []trackskills.Event{{
		EventID: "a-1", ToolName: "Bash", ToolCategory: "default", Status: trackskills.StatusError, ErrorType: "exit_code",
		Timestamp: now, ReceivedAt: now, UserHash: strings.Repeat("ab", 16), Source: "api", StreamSeq: 1,
	}})
	rules := writeRules(t, fmt.Sprintf("targets:\n  ops: {type: json, url: '%s'}\nrules:\n%s", rc.URL, bashFailing))
	addr := testkit.MustFreeAddr(t)
	startInProcess(t, addr, "analytics", "--db", db.Path(), "--http-addr", addr, "--nats-url=", "--log-level", "error",
		"--alerts", rules, "--alerts-every", "1s")
	n := rc.waitFor(t, "bash-failing")
	if n.Subject != "Bash" || n.Calls != 1 || n.Failures != 1 || n.Status != alerts.StatusFiring {
		t.Fatalf("alert=%+v", n)
	}
}

// Ensure serve evaluates --alerts over what it ingests, and refuses to
// start on a bad rules file.
func TestServe_Alerts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve")
	}
	rc := newAlertReceiver(t)
	rules := writeRules(t, fmt.Sprintf("targets:\n  ops: {type: json, url: '%s'}\nrules:\n%s", rc.URL, bashFailing))
	t.Run("BadFile", func(t *testing.T) {
		bad := writeRules(t, "targets: {}\n")
		err := run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--nats-addr", "none",
			"--alerts", bad}, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), bad+":1:10: targets must name at least one") {
			t.Fatalf("err=%v, want the file's problem", err)
		}
	})
	addr := testkit.MustFreeAddr(t)
	startInProcess(t, addr, "serve", "--data-dir", t.TempDir(), "--http-addr", addr, "--nats-addr", "none", "--log-level", "error",
		"--alerts", rules, "--alerts-every", "1s")
	status, err := testkit.PostJSON(http.DefaultClient, "http://"+addr+"/api/track",
		[]byte(`{"tool_name":"Bash","status":"error","error_type":"exit_code","user_id":"alice"}`), nil, nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("track: status=%d err=%v", status, err)
	}
	n := rc.waitFor(t, "bash-failing")
	if n.Subject != "Bash" || n.Failures != 1 {
		t.Fatalf("alert=%+v", n)
	}
}

// Ensure the binary exits 1 on a file with problems, 2 on a usage error,
// and 0 on a good file.
func TestAlerts_CheckExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bad := writeRules(t, "targets:\n  ops: {type: xml, url: 'http://127.0.0.1:1/'}\n")
	good := writeRules(t, "targets:\n  ops: {type: json, url: 'http://127.0.0.1:1/'}\n")
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"Problems", []string{"alerts", "check", bad}, 1, bad + ":2:15: type must be json or slack, not \"xml\"\ntrackskills: " + bad + ": 1 problem\n"},
		{"Usage", []string{"alerts", "lint"}, 2, ""},
		{"OK", []string{"alerts", "check", good}, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runBinary(t, nil, nil, tt.args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d\n%s", code, tt.code, stderr)
			}
			if tt.stderr != "" && stderr != tt.stderr {
				t.Fatalf("stderr=%q, want %q", stderr, tt.stderr)
			}
		})
	}
}
