package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// transcriptFixture copies the transcripts package's fixture (a session
// and its subagent) under dir/projects, moved to yesterday, and returns
// the projects folder.
func transcriptFixture(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(testkit.ModuleRoot(t), "transcripts", "testdata", "projects")
	day := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, "projects", rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, bytes.ReplaceAll(data, []byte("2026-11-20T"), []byte(day+"T")), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "projects")
}

// The import of a session's transcript through a real serve: its calls
// and model requests are stored; a call a hook reported first and a
// request telemetry reported first are not stored twice; a second import
// adds nothing; CLAUDE_CONFIG_DIR names where the transcripts are.
func TestImport_Transcripts(t *testing.T) {
	o := serveOptions(t)
	app := mustStartServe(t, o)
	base := app.URL()
	cfgDir := t.TempDir()
	transcriptFixture(t, cfgDir)
	env := map[string]string{"TRACKSKILLS_URL": base, "TRACKSKILLS_USER": "dev", "CLAUDE_CONFIG_DIR": cfgDir}
	getenv := func(k string) string { return env[k] }

	// The hook saw toolu_X1 first.
	hook := []byte(`{"hook_event_name":"PostToolUse","session_id":"0f4e2c1a-session","tool_name":"Bash","tool_use_id":"toolu_X1","duration_ms":40}`)
	if code, err := testkit.PostJSON(http.DefaultClient, base+"/api/hooks/claude-code", hook, nil, nil); err != nil || code != 200 {
		t.Fatalf("hook: %d %v", code, err)
	}
	// Telemetry reported req_A and toolu_X1 too: the call comes from
	// all three sources, and is one row.
	otlpReq := testkit.ClaudeCodeLogs(t, time.Now())
	sl := otlpReq.ResourceLogs[0].ScopeLogs[0]
	sl.LogRecords = append(sl.LogRecords[:0], apiRequestRecord("pdf-report", "req_A", 0.02),
		toolResultRecord("0f4e2c1a-session", "Bash", "toolu_X1", 41))
	postOTLPLogs(t, base, otlpReq)

	importOnce := func() string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"import", "transcripts"}, getenv, &out, &errOut); err != nil {
			t.Fatalf("import: %v\n%s", err, errOut.String())
		}
		return out.String()
	}
	out := importOnce()
	for _, want := range []string{"read 2 files", "2 malformed", "found 12 tool calls (1 denied), 12 model requests; 1 calls without a result yet",
		"sent 24 events", "24 accepted, 0 refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("import said %q, want %q in it", out, want)
		}
	}
	checkStored := func() {
		t.Helper()
		testkit.Eventually(t, 20*time.Second, func() error {
			got := storedByID(t, o.dbPath())
			// 11 calls that ran (the denied one is a mark), toolu_X1 among them.
			if len(got) != 11 {
				return fmt.Errorf("%d events stored, want 11", len(got))
			}
			if x1 := got["toolu_X1"]; len(x1) != 1 || x1[0].Source != "hook" || *x1[0].DurationMs != 40 {
				return fmt.Errorf("toolu_X1 stored as %+v, want the hook's, once", x1)
			}
			if s1 := got["toolu_S1"]; len(s1) != 1 || s1[0].Source != "import" {
				return fmt.Errorf("the subagent's call stored as %+v", s1)
			}
			var costs analytics.CostsResponse
			apiGet(t, base, "/analytics/costs?days=7", &costs)
			// 12 requests of the transcripts; req_A from telemetry first, with its cost.
			if costs.Totals.Requests != 12 || costs.Totals.CostMicros != 20_000+12_300 {
				return fmt.Errorf("costs %+v, want 12 requests costing $0.0323", costs.Totals)
			}
			return nil
		})
	}
	checkStored()
	testkit.WaitRolledUp(t, o.dbPath(), 10*time.Second)
	// Coverage: toolu_X1 came from the hook, telemetry and the import.
	var cov analytics.CoverageResponse
	apiGet(t, base, "/analytics/coverage?days=7", &cov)
	bySource := map[string]analytics.SourceEntry{}
	for _, s := range cov.Sources {
		bySource[s.Source] = s
	}
	if h, o, i := bySource["hook"], bySource["otlp"], bySource["import"]; h.CallsStored != 1 || h.CallsShared != 1 ||
		o.CallsSeen != 1 || o.CallsShared != 1 || i.CallsStored != 10 || i.CallsSeen != 11 || i.CallsShared != 1 {
		t.Errorf("coverage %+v: want toolu_X1 shared by hook, otlp and import, and 10 calls stored from the import", cov.Sources)
	}
	importOnce()
	time.Sleep(500 * time.Millisecond) // the second import's events are in, had they added anything
	testkit.WaitRolledUp(t, o.dbPath(), 10*time.Second)
	checkStored()
}

// Usage errors and an unreachable server are clear, with an exit code.
func TestImport_Errors(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"TRACKSKILLS_URL": "http://" + testkit.MustFreeAddr(t)}[k]
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"import"}, getenv, &out, &errOut); err != errUsage || !strings.Contains(errOut.String(), "import transcripts") {
		t.Errorf("no what: %v %q", err, errOut.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"import", "transcripts", dir}, getenv, &out, &errOut); err != nil || !strings.Contains(out.String(), "nothing imported") {
		t.Errorf("empty dir: %v %q", err, out.String())
	}
	projects := transcriptFixture(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := run(ctx, []string{"import", "transcripts", projects, "--timeout", "200ms"}, getenv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "run the import again") {
		t.Errorf("server down: %v, want an error saying to run it again", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"import", "transcripts", projects, "--dry-run"}, getenv, &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "dry run: nothing sent") {
		t.Errorf("dry run: %v %q", err, out.String())
	}
}
