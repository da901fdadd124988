package claudecode_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
)

var update = flag.Bool("update", false, "rewrite the golden .want.json files")

// mapped is what a fixture maps to, as its golden file holds it.
type mapped struct {
	Action    string             `json:"action"`
	Reason    string             `json:"reason,omitempty"`
	ToolUseID string             `json:"tool_use_id,omitempty"`
	Event     *trackskills.Input `json:"event,omitempty"`
}

func mapFile(t *testing.T, path string, opt claudecode.Options) mapped {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := claudecode.Parse(data)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	m := claudecode.Map(p, opt)
	out := mapped{Action: [...]string{"ignore", "start", "track"}[m.Action], Reason: m.Reason, ToolUseID: m.ToolUseID}
	if m.Action == claudecode.Track {
		in := m.Input
		out.Event = &in
	}
	return out
}

// Every fixture (the documented payloads and older or odder shapes) maps to its
// golden event, which must also pass ingest's validation.
func TestMap_Golden(t *testing.T) {
	files, _ := filepath.Glob("testdata/hooks/*.json")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".want.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			got := mapFile(t, f, claudecode.Options{})
			b, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			want := strings.TrimSuffix(f, ".json") + ".want.json"
			if *update {
				if err := os.WriteFile(want, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./claudecode -update)", err)
			}
			if !bytes.Equal(b, w) {
				t.Errorf("%s maps to\n%s\nwant (%s)\n%s", f, b, want, w)
			}
			if got.Event != nil {
				if _, err := got.Event.Validate(time.Now()); err != nil {
					t.Errorf("the mapped event does not pass validation: %v", err)
				}
			}
		})
	}
	if n < 20 {
		t.Fatalf("%d fixtures, want every documented example payload and more", n)
	}
}

func TestMap_Rules(t *testing.T) {
	tests := []struct {
		file                      string
		action                    claudecode.Action
		name, category, status    string
		errorType, eventID, durMs string
		kind                      string
		metaHas                   []string
	}{
		{file: "bash_pre", action: claudecode.Start},
		{file: "bash_post", action: claudecode.Track, name: "Bash", category: "builtin", status: "success", eventID: "toolu_01JtQ5uVbC7dXnR2pK9sLmWa", durMs: "1874"},
		{file: "bash_failure", action: claudecode.Track, name: "Bash", category: "builtin", status: "error", errorType: "exit_code", eventID: "toolu_01JtQ5uVbC7dXnR2pK9sLmWa", durMs: "2210", metaHas: []string{`"exit_code":1`}},
		{file: "bash_timeout", action: claudecode.Track, name: "Bash", category: "builtin", status: "timeout", errorType: "timeout", durMs: "120004", eventID: "toolu_01TmOuT7aB8cD9eF0gH1iJ2k", metaHas: []string{`"exit_code":143`}},
		{file: "bash_interrupt", action: claudecode.Track, name: "Bash", category: "builtin", status: "error", errorType: "interrupt", durMs: "5310", eventID: "toolu_01IntR3pT4aB5cD6eF7gH8iJ"},
		{file: "mcp_post", action: claudecode.Track, name: "mcp__github__search_repositories", category: "mcp", status: "success", durMs: "643", eventID: "toolu_01M3cpZr8wqYhT6eVn2KxDfB", metaHas: []string{`"mcp_server":"github"`, `"mcp_tool":"search_repositories"`}},
		{file: "mcp_failure", action: claudecode.Track, name: "mcp__github__search_repositories", category: "mcp", status: "error", errorType: "mcp_error", durMs: "311", eventID: "toolu_01M3cpZr8wqYhT6eVn2KxDfB"},
		{file: "mcp_plugin_server", action: claudecode.Track, name: "mcp__plugin_acme-tools_my__db__run_query", category: "mcp", status: "success", durMs: "89", eventID: "toolu_01PlUg1nMcP2aB3cD4eF5gH6", metaHas: []string{`"mcp_server":"plugin_acme-tools_my__db"`, `"mcp_tool":"run_query"`}},
		{file: "skill_post", action: claudecode.Track, name: "acme-tools:deploy-runbook", category: "skill", status: "success", durMs: "96", eventID: "toolu_01Pq7sK2vW9xYz3aB4cD5eFg"},
		{file: "skill_failure", action: claudecode.Track, name: "deploy-runbok", category: "skill", status: "error", errorType: "tool_error", durMs: "4", eventID: "toolu_01Rt8uL3wX0yZa4bC5dE6fGh"},
		{file: "user_prompt_expansion", action: claudecode.Track, name: "deploy-runbook", category: "skill", status: "success", metaHas: []string{`"trigger":"user-slash"`, `"command_source":"plugin"`}},
		{file: "user_prompt_expansion_mcp", action: claudecode.Track, name: "mcp__github__summarize_pr", category: "mcp", status: "success"},
		{file: "old_skill_command", action: claudecode.Track, name: "pdf-extract", category: "skill", status: "success"},
		{file: "old_2025_capture", action: claudecode.Track, name: "Write", category: "builtin", status: "success"},
		{file: "skill_commandname_only", action: claudecode.Track, name: "superpowers:brainstorming", category: "skill", status: "success", eventID: "toolu_01CmDnAm3oNlY4aB5cD6eF7g"},
		{file: "agent_post", action: claudecode.Track, name: "Agent", category: "subagent", status: "success", durMs: "48230", metaHas: []string{`"subagent_type":"general-purpose"`}},
		{file: "in_subagent_read", action: claudecode.Track, name: "Read", category: "builtin", status: "success", durMs: "3", metaHas: []string{`"agent_type":"general-purpose"`, `"in_subagent":true`}},
		{file: "no_duration", action: claudecode.Track, name: "Grep", category: "builtin", status: "success", eventID: "toolu_01NoDuRaTi0n1aB2cD3eF4gH"},
		{file: "unknown_types", action: claudecode.Track, name: "Edit", category: "builtin", status: "error", errorType: "tool_error", durMs: "17", eventID: "toolu_01WeIrDtYpEs1aB2cD3eF4gH"},
		{file: "session_start", action: claudecode.Track, kind: "session_start", name: "SessionStart", category: "session", status: "success", metaHas: []string{`"source":"startup"`, `"model":"claude-opus-4-5"`}},
		{file: "session_end", action: claudecode.Track, kind: "session_end", name: "SessionEnd", category: "session", status: "success", metaHas: []string{`"reason":"prompt_input_exit"`}},
		{file: "user_prompt_submit", action: claudecode.Track, kind: "prompt", name: "UserPromptSubmit", category: "session", status: "success", metaHas: []string{`"prompt_id":"5f0c2b1a`}},
		{file: "stop", action: claudecode.Track, kind: "stop", name: "Stop", category: "session", status: "success"},
		{file: "stop_failure", action: claudecode.Track, kind: "stop_failure", name: "StopFailure", category: "session", status: "error", errorType: "rate_limit"},
		{file: "subagent_start", action: claudecode.Track, kind: "subagent_start", name: "Explore", category: "subagent", status: "success"},
		{file: "subagent_stop", action: claudecode.Track, kind: "subagent_stop", name: "Explore", category: "subagent", status: "success"},
		{file: "permission_denied", action: claudecode.Track, kind: "denied", name: "Bash", category: "builtin", status: "success"},
		{file: "no_tool_name", action: claudecode.Ignore},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/hooks/" + tt.file + ".json")
			if err != nil {
				t.Fatal(err)
			}
			p, err := claudecode.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			m := claudecode.Map(p, claudecode.Options{})
			if m.Action != tt.action {
				t.Fatalf("action %v (%s), want %v", m.Action, m.Reason, tt.action)
			}
			if m.Action != claudecode.Track {
				return
			}
			in := m.Input
			if in.ToolName != tt.name || in.ToolCategory != tt.category || in.Status != tt.status || in.ErrorType != tt.errorType {
				t.Errorf("got %q %q %q %q, want %q %q %q %q", in.ToolName, in.ToolCategory, in.Status, in.ErrorType, tt.name, tt.category, tt.status, tt.errorType)
			}
			if tt.eventID != "" && in.EventID != tt.eventID {
				t.Errorf("event_id %q, want %q (the tool_use_id)", in.EventID, tt.eventID)
			}
			if in.Kind != tt.kind {
				t.Errorf("kind %q, want %q", in.Kind, tt.kind)
			}
			if string(in.DurationMs) != tt.durMs {
				t.Errorf("duration_ms %s, want %q", in.DurationMs, tt.durMs)
			}
			for _, s := range tt.metaHas {
				if !strings.Contains(string(in.Metadata), s) {
					t.Errorf("metadata %s lacks %s", in.Metadata, s)
				}
			}
		})
	}
}

// tool_input and tool_response can hold secrets: nothing of them is kept,
// and skill arguments only when asked.
func TestMap_NeverKeepsToolInputOrResponse(t *testing.T) {
	secrets := []string{"secret token abc123", "go test", "select 1", "notes.md", "/home/dev", "track-skills language", "total_count", "staging", "ingest_test.go:42"}
	files, _ := filepath.Glob("testdata/hooks/*.json")
	for _, f := range files {
		if strings.HasSuffix(f, ".want.json") {
			continue
		}
		got := mapFile(t, f, claudecode.Options{})
		if got.Event == nil {
			continue
		}
		ev := *got.Event
		ev.ErrorMessage = "" // the error text is the failure's message, kept on purpose
		b, _ := json.Marshal(ev)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s: the event keeps %q: %s", f, s, b)
			}
		}
	}
	got := mapFile(t, "testdata/hooks/skill_post.json", claudecode.Options{StoreSkillArgs: true})
	if !strings.Contains(string(got.Event.Metadata), `"skill_args":"staging"`) {
		t.Errorf("StoreSkillArgs: metadata %s lacks the args", got.Event.Metadata)
	}
}

func TestParse_Malformed(t *testing.T) {
	for _, body := range []string{"", "   ", "[]", `"PostToolUse"`, "{", `{"hook_event_name":`, "null", "plain text"} {
		if _, err := claudecode.Parse([]byte(body)); !errors.Is(err, claudecode.ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", body, err)
		}
	}
}

// A retried UserPromptExpansion hook with a prompt_id maps to the same
// event id, another prompt to another; without a prompt_id there is no id
// (the sender makes one), so the same /command typed twice stays two.
func TestMap_ExpansionIDs(t *testing.T) {
	a := mapFile(t, "testdata/hooks/user_prompt_expansion_mcp.json", claudecode.Options{})
	b := mapFile(t, "testdata/hooks/user_prompt_expansion_mcp.json", claudecode.Options{})
	if a.Event.EventID == "" || a.Event.EventID != b.Event.EventID || trackskills.CheckEventID(a.Event.EventID) != nil {
		t.Errorf("ids %q %q: want equal and valid", a.Event.EventID, b.Event.EventID)
	}
	data, _ := os.ReadFile("testdata/hooks/user_prompt_expansion_mcp.json")
	p, _ := claudecode.Parse(bytes.Replace(data, []byte("9a8b7c6d-5e4f"), []byte("1a2b3c4d-5e4f"), 1))
	if c := claudecode.Map(p, claudecode.Options{}); c.Input.EventID == a.Event.EventID {
		t.Errorf("another prompt has the same id %q", c.Input.EventID)
	}
	if n := mapFile(t, "testdata/hooks/user_prompt_expansion.json", claudecode.Options{}); n.Event.EventID != "" {
		t.Errorf("without prompt_id: id %q, want none", n.Event.EventID)
	}
}

// A shell's output saying "timed out" is not a timeout: only Claude Code's
// own line is.
func TestMap_ShellTimeoutOnlyFromClaudeCode(t *testing.T) {
	tests := []struct{ tool, err, status, errType string }{
		{"Bash", "Exit code 28\ncurl: (28) Connection timed out after 5001 milliseconds", "error", "exit_code"},
		{"Bash", "Exit code 143\nCommand timed out after 2m 0s", "timeout", "timeout"},
		{"mcp__db__query", "Request timed out", "timeout", "timeout"},
	}
	for _, tt := range tests {
		body, _ := json.Marshal(map[string]any{"hook_event_name": "PostToolUseFailure", "tool_name": tt.tool, "error": tt.err})
		p, _ := claudecode.Parse(body)
		m := claudecode.Map(p, claudecode.Options{})
		if m.Input.Status != tt.status || m.Input.ErrorType != tt.errType {
			t.Errorf("%s %q: %s/%s, want %s/%s", tt.tool, tt.err, m.Input.Status, m.Input.ErrorType, tt.status, tt.errType)
		}
	}
}

func FuzzMap(f *testing.F) {
	files, _ := filepath.Glob("testdata/hooks/*.json")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil && !strings.HasSuffix(file, ".want.json") {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := claudecode.Parse(data)
		if err != nil {
			return
		}
		m := claudecode.Map(p, claudecode.Options{StoreSkillArgs: true})
		if m.Action == claudecode.Track {
			if m.Input.ToolName == "" || m.Input.Status == "" {
				t.Fatalf("tracked event without name or status: %+v", m.Input)
			}
			if m.Input.EventID != "" && trackskills.CheckEventID(m.Input.EventID) != nil {
				t.Fatalf("bad event id %q", m.Input.EventID)
			}
			var v map[string]any
			if err := json.Unmarshal(m.Input.Metadata, &v); err != nil {
				t.Fatalf("metadata is not a JSON object: %s", m.Input.Metadata)
			}
		}
	})
}
