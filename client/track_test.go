package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// runTrackSh runs `bash track.sh args...` with env added to a clean
// environment, and fails the test unless it exits 0 and prints nothing on
// stdout. It returns stderr.
func runTrackSh(t *testing.T, env []string, args ...string) (stdout, stderr string) {
	t.Helper()
	return runShell(t, env, append([]string{"bash", trackSh(t)}, args...)...)
}

func runShell(t *testing.T, env []string, argv ...string) (stdout, stderr string) {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Skipf("%s not found: %v", argv[0], err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = testkit.CleanEnv(env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%q: %v\nstderr: %s", argv, err, errOut.String())
	}
	if out.Len() > 0 {
		t.Fatalf("%q printed on stdout: %q", argv, out.String())
	}
	return out.String(), errOut.String()
}

func trackSh(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("track.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// debugBody returns the JSON body that TRACKSKILLS_DEBUG=1 printed.
func debugBody(t *testing.T, stderr string) map[string]any {
	t.Helper()
	line, _, _ := strings.Cut(stderr, "\n")
	_, body, ok := strings.Cut(line, "/api/track ")
	if !strings.HasPrefix(line, "track.sh: POST ") || !ok {
		t.Fatalf("no request in %q", stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body %s is not JSON: %v", body, err)
	}
	return m
}

func TestTrackSh(t *testing.T) {
	t.Parallel()
	needServer(t)
	syncEnv := []string{"TRACKSKILLS_URL=" + shared.URL, "TRACKSKILLS_SYNC=1"}

	t.Run("Names", func(t *testing.T) {
		t.Parallel()
		suffix := uniqueName("")
		names := []string{
			"my_skill_name",
			`quote"d`,
			`back\slash\`,
			`","status":"error`,
			`"},{"tool_name":"x`,
			"ünïcödé 🚀 日本語",
			"it's $HOME `id` $(id) %s %d \\n",
			"  spaces  ",
			"-dash",
		}
		for _, n := range names {
			runTrackSh(t, syncEnv, n+suffix)
		}
		for _, n := range names {
			ev := waitStored(t, shared.URL, n+suffix, 1)[0]
			if ev.ToolName != n+suffix || ev.Status != "success" || ev.ToolCategory != "skill" || ev.Source != "bash" ||
				ev.DurationMs != nil || ev.ErrorType != nil {
				t.Fatalf("%q: stored %+v", n, ev)
			}
		}
	})

	t.Run("Args", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name           string
			args           []string
			status, cat    string
			duration       int64 // -1: none
			user, userHash bool
		}{
			{name: "All", args: []string{"error", "1234", "my cat"}, status: "error", cat: "my cat", duration: 1234},
			{name: "Empty", args: []string{"", "", ""}, status: "success", cat: "skill", duration: -1},
			{name: "Zeros", args: []string{"timeout", "007"}, status: "timeout", cat: "skill", duration: 7},
			{name: "Zero", args: []string{"success", "0"}, status: "success", cat: "skill", duration: 0},
			{name: "Max", args: []string{"success", "86400000", `q"\`}, status: "success", cat: `q"\`, duration: 86400000},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				name := uniqueName("args")
				runTrackSh(t, syncEnv, append([]string{name}, tt.args...)...)
				ev := waitStored(t, shared.URL, name, 1)[0]
				if ev.Status != tt.status || ev.ToolCategory != tt.cat {
					t.Fatalf("stored %+v", ev)
				}
				if tt.duration < 0 && ev.DurationMs != nil || tt.duration >= 0 && (ev.DurationMs == nil || *ev.DurationMs != tt.duration) {
					t.Fatalf("duration_ms=%v, want %d", ev.DurationMs, tt.duration)
				}
			})
		}
	})

	t.Run("ControlCharacters", func(t *testing.T) {
		t.Parallel()
		// The server refuses control characters in names: the body must
		// still be valid JSON holding the name exactly, refused for
		// tool_name and not as broken JSON.
		for _, n := range []string{"new\nline", "tab\there", "ctl\x01\x1b\x7f", "cr\r\"\n\\"} {
			_, stderr := runTrackSh(t, []string{"TRACKSKILLS_URL=" + shared.URL, "TRACKSKILLS_DEBUG=1"}, n)
			if got := debugBody(t, stderr)["tool_name"]; got != n {
				t.Fatalf("body tool_name=%q, want %q", got, n)
			}
			if !strings.Contains(stderr, `"field":"tool_name"`) || !strings.Contains(stderr, "HTTP 400") {
				t.Fatalf("%q: answer %s", n, stderr)
			}
		}
		// user_id may hold anything: it is hashed.
		name := uniqueName("user")
		user := "a\"b\nc\\d\te\x01 ü"
		_, stderr := runTrackSh(t, []string{"TRACKSKILLS_URL=" + shared.URL, "TRACKSKILLS_DEBUG=1", "TRACKSKILLS_USER=" + user}, name)
		if got := debugBody(t, stderr)["user_id"]; got != user {
			t.Fatalf("body user_id=%q, want %q", got, user)
		}
		if ev := waitStored(t, shared.URL, name, 1)[0]; ev.UserIDHash == "" || strings.Contains(ev.UserIDHash, "a") && len(ev.UserIDHash) < 16 {
			t.Fatalf("stored %+v", ev)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		name := uniqueName("invalid")
		debug := []string{"TRACKSKILLS_URL=" + shared.URL, "TRACKSKILLS_DEBUG=1"}
		for _, args := range [][]string{
			{},
			{""},
			{name, "maybe"},
			{name, "SUCCESS"},
			{name, "success", "1.5"},
			{name, "success", "-1"},
			{name, "success", "abc"},
			{name, "success", "86400001"},
			{name, "success", "99999999999999999999"},
		} {
			_, stderr := runTrackSh(t, debug, args...)
			if stderr == "" || strings.Contains(stderr, "POST") {
				t.Fatalf("%q: stderr %q, want a message and no request", args, stderr)
			}
		}
		// A valid event sent afterwards is stored after anything sent
		// before: once it is there, nothing else is.
		runTrackSh(t, syncEnv, name, "timeout")
		if ev := waitStored(t, shared.URL, name, 1)[0]; ev.Status != "timeout" {
			t.Fatalf("stored %+v", ev)
		}
	})

	t.Run("StrictCaller", func(t *testing.T) {
		t.Parallel()
		// A caller with set -eu exported through SHELLOPTS, and one that
		// runs it with sh.
		name := uniqueName("strict")
		runShell(t, syncEnv, "bash", "-c", `set -eu; export SHELLOPTS; bash "$0" "$1"; bash "$0" "$1" success "" ""`, trackSh(t), name)
		runShell(t, syncEnv, "sh", trackSh(t), name)
		waitStored(t, shared.URL, name, 3)
	})

	t.Run("ServerDown", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		runTrackSh(t, []string{"TRACKSKILLS_URL=" + closedURL(t), "TRACKSKILLS_SYNC=1"}, "down")
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %s", d)
		}
	})

	t.Run("FireAndForget", func(t *testing.T) {
		t.Parallel()
		// A server that accepts and never answers: without SYNC the
		// script returns at once, and its background curl holds none of
		// the caller's pipes (Run would wait for them).
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ln.Close() }) // the test is over
		accepted := make(chan net.Conn, 1)
		go func() {
			if c, err := ln.Accept(); err == nil {
				accepted <- c
			}
		}()
		start := time.Now()
		runTrackSh(t, []string{"TRACKSKILLS_URL=http://" + ln.Addr().String(), "TRACKSKILLS_TIMEOUT=3"}, "hang")
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %s: the script waited for the request", d)
		}
		select {
		case c := <-accepted:
			_ = c.Close() // the request did leave
		case <-time.After(5 * time.Second):
			t.Fatal("the background request never arrived")
		}
	})
}
