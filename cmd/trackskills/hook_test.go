package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode/hookcmd"
	"github.com/trackskills/trackskills/testkit"
)

const fixtures = "../../claudecode/testdata/hooks/"

// runBinary runs the built binary with stdin and env, and returns its exit
// code, stdout and stderr.
func runBinary(t *testing.T, stdin []byte, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(testkit.MustBuildBinary(t, testkit.Trackskills), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runHookBinary runs `trackskills hook` as Claude Code does and checks the
// hook's promises: exit 0, nothing on stdout.
func runHookBinary(t *testing.T, payload []byte, env ...string) time.Duration {
	t.Helper()
	start := time.Now()
	code, stdout, stderr := runBinary(t, payload, env, "hook")
	if code != 0 || stdout != "" {
		t.Fatalf("hook: exit %d, stdout %q, stderr %q: want exit 0 and no stdout", code, stdout, stderr)
	}
	return time.Since(start)
}

func storedByID(t *testing.T, path string) map[string][]trackskills.Event {
	t.Helper()
	out := map[string][]trackskills.Event{}
	for _, ev := range readEvents(context.Background(), t, path) {
		out[ev.EventID] = append(out[ev.EventID], ev)
	}
	return out
}

// Fixtures through the HTTP hook endpoint and through `trackskills hook`
// are the same events; the same tool_use_id through both is stored once;
// a Post without duration is timed from its PreToolUse.
func TestHook_CommandAndHTTPEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	o := serveOptions(t)
	app := mustStartServe(t, o)
	env := []string{"TRACKSKILLS_URL=" + app.URL(), "TRACKSKILLS_SPOOL_DIR=" + t.TempDir(), "TRACKSKILLS_USER=dev"}

	// HTTP hook: every fixture answers 200 {}.
	for _, name := range []string{"bash_pre", "bash_post", "mcp_failure", "skill_post", "user_prompt_expansion", "session_start", "agent_post"} {
		req, _ := http.NewRequest(http.MethodPost, app.URL()+"/api/hooks/claude-code", bytes.NewReader(fixture(t, name)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Trackskills-User", "dev")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || body.String() != "{}" {
			t.Fatalf("%s: %d %q, want 200 {}", name, resp.StatusCode, body.String())
		}
	}
	// Command hook: the same bash_post (already sent over HTTP) and others.
	for _, name := range []string{"bash_post", "bash_timeout", "in_subagent_read", "old_skill_command", "skill_failure",
		"permission_denied", "session_end"} {
		runHookBinary(t, fixture(t, name), env...)
	}
	// Pre then Post without duration, through the command hook.
	pre := `{"hook_event_name":"PreToolUse","tool_name":"Glob","tool_use_id":"toolu_01CmDtImEd1aB2cD3eF4gH5i"}`
	post := `{"hook_event_name":"PostToolUse","tool_name":"Glob","tool_use_id":"toolu_01CmDtImEd1aB2cD3eF4gH5i","tool_response":{}}`
	runHookBinary(t, []byte(pre), env...)
	time.Sleep(30 * time.Millisecond)
	runHookBinary(t, []byte(post), env...)

	want := map[string]struct {
		name, category, status, errType string
		minDur, maxDur                  int64 // -1: no duration
	}{
		"toolu_01JtQ5uVbC7dXnR2pK9sLmWa": {"Bash", "builtin", "success", "", 1874, 1874},
		"toolu_01M3cpZr8wqYhT6eVn2KxDfB": {"mcp__github__search_repositories", "mcp", "error", "mcp_error", 311, 311},
		"toolu_01Pq7sK2vW9xYz3aB4cD5eFg": {"acme-tools:deploy-runbook", "skill", "success", "", 96, 96},
		"toolu_01AgEnT5aB6cD7eF8gH9iJ0k": {"Agent", "subagent", "success", "", 48230, 48230},
		"toolu_01TmOuT7aB8cD9eF0gH1iJ2k": {"Bash", "builtin", "timeout", "timeout", 120004, 120004},
		"toolu_01SuBaGeNtReAd2aB3cD4eF5": {"Read", "builtin", "success", "", 3, 3},
		"toolu_01Rt8uL3wX0yZa4bC5dE6fGh": {"deploy-runbok", "skill", "error", "tool_error", 4, 4},
		"toolu_01CmDtImEd1aB2cD3eF4gH5i": {"Glob", "builtin", "success", "", 30, 10_000},
	}
	var got map[string][]trackskills.Event
	testkit.Eventually(t, 10*time.Second, func() error {
		got = storedByID(t, o.dbPath())
		if len(got) < len(want)+2 { // + the /deploy-runbook expansion and old_skill_command
			return fmt.Errorf("%d events stored", len(got))
		}
		return nil
	})
	for id, w := range want {
		evs := got[id]
		if len(evs) != 1 {
			t.Errorf("%s stored %d times, want once", id, len(evs))
			continue
		}
		ev := evs[0]
		if ev.ToolName != w.name || ev.ToolCategory != w.category || ev.Status != w.status || ev.ErrorType != w.errType || ev.Source != "hook" {
			t.Errorf("%s: stored %s/%s/%s/%s from %s, want %s/%s/%s/%s from hook", id, ev.ToolName, ev.ToolCategory, ev.Status, ev.ErrorType, ev.Source, w.name, w.category, w.status, w.errType)
		}
		if ev.DurationMs == nil || *ev.DurationMs < w.minDur || *ev.DurationMs > w.maxDur {
			t.Errorf("%s: duration %v, want %d-%d ms", id, ev.DurationMs, w.minDur, w.maxDur)
		}
	}
	names := map[string]bool{}
	for _, evs := range got {
		names[evs[0].ToolName+"/"+evs[0].ToolCategory] = true
		// Marks (a denied call, a session's end) travel with their kind
		// from the command hook too: they are no tool calls, no rows.
		if evs[0].ToolCategory == "session" || evs[0].EventID == "mk_967ba556f439215bd22db7f8" { // permission_denied's mark
			t.Errorf("the mark %s/%s (%s) was stored as a tool call", evs[0].ToolName, evs[0].ToolCategory, evs[0].EventID)
		}
	}

	for _, n := range []string{"deploy-runbook/skill", "pdf-extract/skill"} {
		if !names[n] {
			t.Errorf("no %s event; stored %v", n, names)
		}
	}
	// The analytics see them, once rolled up.
	testkit.WaitRolledUp(t, o.dbPath(), 10*time.Second)
	var tools []struct {
		ToolName    string `json:"tool_name"`
		Invocations int    `json:"invocations"`
	}
	apiGet(t, app.URL(), "/analytics/tools?hours=2", &tools)
	seen := map[string]int{}
	for _, tl := range tools {
		seen[tl.ToolName] = tl.Invocations
	}
	if seen["Bash"] != 2 || seen["acme-tools:deploy-runbook"] != 1 || seen["mcp__github__search_repositories"] != 1 {
		t.Errorf("analytics tools %v: want Bash 2, acme-tools:deploy-runbook 1, mcp__github__search_repositories 1", seen)
	}
}

// With the server down the hook spools (fast, exit 0); a later run with the
// server up delivers everything, once.
func TestHook_SpoolsWhileDownThenDelivers(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	spool := t.TempDir()
	down := []string{"TRACKSKILLS_URL=http://" + testkit.MustFreeAddr(t), "TRACKSKILLS_SPOOL_DIR=" + spool, "TRACKSKILLS_TIMEOUT=500ms"}
	const n = 12
	payload := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"toolu_spool%03d","duration_ms":%d}`, i, i))
	}
	var slowest time.Duration
	for i := 0; i < n; i++ {
		slowest = max(slowest, runHookBinary(t, payload(i), down...))
	}
	t.Logf("hook with the server down: slowest run %v", slowest)
	data, err := os.ReadFile(filepath.Join(spool, "spool.ndjson"))
	if err != nil || bytes.Count(data, []byte("\n")) != n {
		t.Fatalf("spool holds %d lines (%v), want %d", bytes.Count(data, []byte("\n")), err, n)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if bytes.Contains(line, []byte("tool_input")) || !json.Valid(line) {
			t.Errorf("spool line %s", line)
		}
	}

	o := serveOptions(t)
	app := mustStartServe(t, o)
	up := []string{"TRACKSKILLS_URL=" + app.URL(), "TRACKSKILLS_SPOOL_DIR=" + spool}
	runHookBinary(t, payload(n), up...)
	runHookBinary(t, payload(0), up...) // a retry of a spooled one
	testkit.Eventually(t, 10*time.Second, func() error {
		got := storedByID(t, o.dbPath())
		if len(got) != n+1 {
			return fmt.Errorf("%d events stored, want %d", len(got), n+1)
		}
		for id, evs := range got {
			if len(evs) != 1 {
				return fmt.Errorf("%s stored %d times", id, len(evs))
			}
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(spool, "spool.ndjson")); !os.IsNotExist(err) {
		t.Errorf("spool still there after delivery: %v", err)
	}
}

// Ensure the hook, run with a full spool and the server down, keeps the
// spool at SpoolMax events with its own event last, and counts what it
// dropped in the file "dropped" of TRACKSKILLS_SPOOL_DIR, as the docs say.
// Which events go and how the count adds up is TestRunner_Spool's, in
// package hookcmd; here, the files as a user finds them.
func TestHook_SpoolIsBounded(t *testing.T) {
	spool := t.TempDir()
	var buf bytes.Buffer
	for i := 0; i < hookcmd.SpoolMax; i++ {
		fmt.Fprintf(&buf, `{"tool_name":"old","status":"success","event_id":"old%05d"}`+"\n", i)
	}
	if err := os.WriteFile(filepath.Join(spool, "spool.ndjson"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	down := []string{"TRACKSKILLS_URL=http://" + testkit.MustFreeAddr(t), "TRACKSKILLS_SPOOL_DIR=" + spool, "TRACKSKILLS_TIMEOUT=300ms"}
	runHookBinary(t, []byte(`{"hook_event_name":"PostToolUse","tool_name":"New","tool_use_id":"toolu_new0"}`), down...)
	data, _ := os.ReadFile(filepath.Join(spool, "spool.ndjson"))
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	dropped, _ := os.ReadFile(filepath.Join(spool, "dropped"))
	if len(lines) != hookcmd.SpoolMax || !bytes.Contains(lines[len(lines)-1], []byte("toolu_new0")) || strings.TrimSpace(string(dropped)) != "1" {
		t.Errorf("spool: %d lines, last %s, dropped %q: want %d, the hook's event last, 1 dropped and counted", len(lines), lines[len(lines)-1], dropped, hookcmd.SpoolMax)
	}
}

// Garbage, other events and a hook that cannot reach anything: exit 0,
// nothing on stdout, never exit 2.
func TestHook_NeverFails(t *testing.T) {
	env := []string{"TRACKSKILLS_URL=http://" + testkit.MustFreeAddr(t), "TRACKSKILLS_SPOOL_DIR=" + t.TempDir(), "TRACKSKILLS_TIMEOUT=200ms"}
	for _, in := range []string{"", "not json", "[1,2]", `{"hook_event_name":"Stop"}`, `{"hook_event_name":"PostToolUse"}`, `{"hook_event_name":"PostToolUse","tool_name":"` + strings.Repeat("x", 500) + `"}`} {
		runHookBinary(t, []byte(in), env...)
	}
	runHookBinary(t, []byte(`{"hook_event_name":"PostToolUse","tool_name":"Read"}`), "TRACKSKILLS_URL=http://[::1", "TRACKSKILLS_SPOOL_DIR=/proc/forbidden")
}

// The lean trackskills-hook binary (what hook install sets up) runs the
// same hook: a fixture through it is stored like one through
// `trackskills hook`. And it stays lean: none of the server's packages.
func TestHook_LeanBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	out, err := exec.Command("go", "list", "-deps", "../trackskills-hook").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, heavy := range []string{"nats-io", "labstack/echo", "mattn/go-sqlite3", "segmentio", "klauspost", "regexp"} {
		if strings.Contains(string(out), heavy) {
			t.Errorf("trackskills-hook depends on %s: it must start fast", heavy)
		}
	}
	lean := testkit.MustBuildBinary(t, "./cmd/trackskills-hook")
	o := serveOptions(t)
	app := mustStartServe(t, o)
	for _, name := range []string{"mcp_failure", "skill_post"} {
		cmd := exec.Command(lean)
		cmd.Env = append(os.Environ(), "TRACKSKILLS_URL="+app.URL(), "TRACKSKILLS_SPOOL_DIR="+t.TempDir())
		cmd.Stdin = bytes.NewReader(fixture(t, name))
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		if err := cmd.Run(); err != nil || stdout.Len() != 0 {
			t.Fatalf("%s: %v, stdout %q: want exit 0 and nothing on stdout", name, err, stdout.String())
		}
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		got := storedByID(t, o.dbPath())
		a, b := got["toolu_01M3cpZr8wqYhT6eVn2KxDfB"], got["toolu_01Pq7sK2vW9xYz3aB4cD5eFg"]
		if len(a) != 1 || len(b) != 1 {
			return fmt.Errorf("stored %d and %d", len(a), len(b))
		}
		if a[0].ErrorType != "mcp_error" || b[0].ToolName != "acme-tools:deploy-runbook" || a[0].Source != "hook" {
			return fmt.Errorf("stored %+v and %+v", a[0], b[0])
		}
		return nil
	})
}

// The plugin's hook entry, run as Claude Code runs it (exec form: its
// command on the PATH with its args, the user's options exported as
// CLAUDE_PLUGIN_OPTION_<KEY>), stores the call on a server that wants a
// key; a TRACKSKILLS_URL that is set wins over the option.
func TestHook_PluginEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	var hooks struct {
		Hooks map[string][]struct {
			Hooks []struct {
				Command string   `json:"command"`
				Args    []string `json:"args"`
			} `json:"hooks"`
		} `json:"hooks"`
	}
	data, err := os.ReadFile(filepath.Join(testkit.ModuleRoot(t), "integrations", "claude-code", "hooks", "hooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &hooks); err != nil {
		t.Fatal(err)
	}
	entry := hooks.Hooks["PostToolUse"][0].Hooks[0]
	bin := testkit.MustBuildBinary(t, testkit.Trackskills)
	pathDir := t.TempDir() // the PATH holds `trackskills`, as the plugin expects
	if err := os.Symlink(bin, filepath.Join(pathDir, entry.Command)); err != nil {
		t.Fatal(err)
	}
	o := serveOptions(t)
	o.ingestKeys = "plugin-key"
	app := mustStartServe(t, o)
	for _, tt := range []struct {
		name, fixture string
		env           []string
	}{
		{"options", "mcp_failure", []string{hookcmd.PluginOptionURL + "=" + app.URL(), hookcmd.PluginOptionKey + "=plugin-key"}},
		{"TRACKSKILLS_URL wins", "skill_post", []string{"TRACKSKILLS_URL=" + app.URL(), hookcmd.PluginOptionURL + "=http://" + testkit.MustFreeAddr(t),
			hookcmd.PluginOptionKey + "=plugin-key"}},
	} {
		cmd := exec.Command(filepath.Join(pathDir, entry.Command), entry.Args...) // what the PATH finds
		cmd.Env = append(testkit.CleanEnv("PATH="+pathDir, "TRACKSKILLS_SPOOL_DIR="+t.TempDir(), "TRACKSKILLS_TIMEOUT=5s",
			"CLAUDE_PLUGIN_ROOT="+filepath.Join(testkit.ModuleRoot(t), "integrations", "claude-code")), tt.env...)
		cmd.Stdin = bytes.NewReader(fixture(t, tt.fixture))
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Fatalf("%s: %v, output %q", tt.name, err, out)
		}
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		got := storedByID(t, o.dbPath())
		if a, b := len(got["toolu_01M3cpZr8wqYhT6eVn2KxDfB"]), len(got["toolu_01Pq7sK2vW9xYz3aB4cD5eFg"]); a != 1 || b != 1 {
			return fmt.Errorf("stored %d and %d, want each once", a, b)
		}
		return nil
	})
}
