package transcripts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/otlp"
	"github.com/trackskills/trackskills/transcripts"
)

const (
	session   = "0f4e2c1a-session"
	mainFile  = "testdata/projects/-home-dev-proj/" + session + ".jsonl"
	agentFile = "testdata/projects/-home-dev-proj/" + session + "/subagents/agent-a1b2.jsonl"
)

func readFile(t *testing.T, path string) ([]trackskills.Input, transcripts.Stats) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []trackskills.Input
	st, err := transcripts.Read(f, func(in trackskills.Input) error {
		out = append(out, in)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, st
}

// The fixture's session: parallel calls answered out of order, a failure
// with an exit code, a timeout, a rejection, an interruption, a skill, a
// validation error, an MCP call, a subagent, a call never answered,
// malformed lines, and usage repeated on the lines of one message.
func TestRead_Session(t *testing.T) {
	events, st := readFile(t, mainFile)
	if want := (transcripts.Stats{Lines: 28, Malformed: 2, Calls: 11, Denied: 1, Requests: 11, Unpaired: 1, Bytes: st.Bytes}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	type want struct {
		id, tool, category, status, errorType, kind, duration string
		meta                                                  map[string]any
	}
	wants := []want{
		{"toolu_X3", "Grep", "builtin", "success", "", "", "49", nil},
		{"toolu_X2", "Read", "builtin", "success", "", "", "80", nil},
		{"toolu_X1", "Bash", "builtin", "success", "", "", "52", map[string]any{"attribution_skill": "pdf-report", "duration_includes_wait": true}},
		{"toolu_X4", "Bash", "builtin", "error", claudecode.ErrorExitCode, "", "310", map[string]any{"exit_code": float64(2)}},
		{"toolu_X5", "Bash", "builtin", "timeout", claudecode.ErrorTimeout, "", "2000", nil},
		{claudecode.MarkID(session, trackskills.KindDenied, "toolu_X6"), "Write", "builtin", "success", "", trackskills.KindDenied, "", nil},
		{"toolu_X7", "Edit", "builtin", "error", claudecode.ErrorInterrupt, "", "500", nil},
		{"toolu_X8", "pdf-report", "skill", "success", "", "", "96", map[string]any{"tool": "Skill"}},
		{"toolu_X9", "Read", "builtin", "error", claudecode.ErrorTool, "", "3", map[string]any{"validation": true}},
		{"toolu_X10", "mcp__github__create_issue", "mcp", "success", "", "", "640", nil},
		{"toolu_X12", "Agent", "subagent", "success", "", "", "3000", map[string]any{"subagent_type": "Explore"}},
	}
	if len(events) != len(wants)+11 {
		t.Fatalf("%d events, want %d calls and 11 requests", len(events), len(wants))
	}
	for i, w := range wants {
		in := events[i]
		if in.EventID != w.id || in.ToolName != w.tool || in.ToolCategory != w.category || in.Status != w.status ||
			in.ErrorType != w.errorType || in.Kind != w.kind || string(in.DurationMs) != w.duration ||
			in.SessionID != session || in.Source != trackskills.SourceImport || in.AgentID != "" {
			t.Errorf("call %d: %+v, want %+v", i, in, w)
		}
		var meta map[string]any
		if err := json.Unmarshal(in.Metadata, &meta); err != nil {
			t.Fatal(err)
		}
		for k, v := range w.meta {
			if meta[k] != v {
				t.Errorf("call %s: metadata %s = %v, want %v (%s)", w.id, k, meta[k], v, in.Metadata)
			}
		}
	}
	if got, want := string(events[0].Timestamp), fmt.Sprint(time.Date(2026, 11, 20, 18, 25, 1, 101e6, time.UTC).UnixMilli()); got != want {
		t.Errorf("the Grep call at %s, want its tool_use's time %s", got, want)
	}
	reqs := events[len(wants):]
	first := reqs[0]
	var m trackskills.APIMeta
	if err := json.Unmarshal(first.Metadata, &m); err != nil {
		t.Fatal(err)
	}
	if first.Kind != trackskills.KindAPIRequest || first.EventID != otlp.APIRequestID("req_A", false) || first.ToolName != "claude-sonnet-4-5" ||
		m.InputTokens != 1200 || m.OutputTokens != 340 || m.CacheReadTokens != 5000 || m.Skill != "pdf-report" || m.Plugin != "acme-tools" {
		t.Errorf("first request %+v %+v: want req_A once, its final usage, attributed to pdf-report", first, m)
	}
	var costs []int64
	for _, r := range reqs {
		var m trackskills.APIMeta
		_ = json.Unmarshal(r.Metadata, &m)
		costs = append(costs, m.CostMicros)
	}
	if fmt.Sprint(costs) != "[0 0 12300 0 0 0 0 0 0 0 0]" {
		t.Errorf("costs %v: want the one line's costUSD", costs)
	}
	for _, in := range events {
		b, _ := json.Marshal(in)
		for _, secret := range []string{"secret-plan", "look around", "/etc/passwd", "package a"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("event %s holds %q: %s", in.EventID, secret, b)
			}
		}
	}
}

// A subagent's file: its calls and requests carry the agent's id.
func TestRead_Subagent(t *testing.T) {
	events, st := readFile(t, agentFile)
	if st.Calls != 1 || st.Requests != 1 || len(events) != 2 {
		t.Fatalf("stats %+v, %d events", st, len(events))
	}
	for _, in := range events {
		if in.AgentID != "a1b2" || in.SessionID != session {
			t.Errorf("%s: agent %q session %q, want a1b2 in %s", in.EventID, in.AgentID, in.SessionID, session)
		}
	}
}

// Lines that are no transcript line at all are counted and skipped; a
// line past MaxLine is skipped without being held.
func TestRead_Malformed(t *testing.T) {
	for _, tc := range []struct {
		name           string
		body           string
		lines, skipped int64
	}{
		{"empty", "", 0, 0},
		{"blank lines", "\n\n  \n", 0, 0},
		{"not json", "garbage\n{\"type\":\n[1,2]\n", 3, 3},
		{"no final newline", `{"type":"user","timestamp":"2026-11-20T18:25:00Z","message":{"content":"hi"}}`, 1, 0},
		{"too long", `{"type":"user","x":"` + strings.Repeat("a", transcripts.MaxLine) + "\"}\n" + `{"type":"summary"}` + "\n", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := transcripts.Read(strings.NewReader(tc.body), func(trackskills.Input) error { return nil })
			if err != nil || st.Lines != tc.lines || st.Malformed != tc.skipped {
				t.Errorf("stats %+v %v, want %d lines and %d skipped", st, err, tc.lines, tc.skipped)
			}
		})
	}
}
