package testkit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/runs"
	"github.com/trackskills/trackskills/sql"
)

// SessionConfig shapes RandomSessions.
type SessionConfig struct {
	Sessions int   // how many sessions
	Events   int   // events per session, about
	Start    int64 // Unix ms of the first event
	IdleMs   int64 // the idle timeout the runs are cut with: some gaps exceed it
}

// RandomSessions returns the events of random sessions, each in time
// order, built to reach every rule of the runs: skill calls from the main
// agent and from subagents, skills that fail to load, typed /skills and
// their prompts, prompts, Stop, StopFailure, session starts and ends,
// subagents, denials, interrupted and failed calls, MCP calls, gaps longer
// than the idle timeout, events of the same millisecond, a few events
// without a session and inventory entries. Event ids are text, unique.
func RandomSessions(r *rand.Rand, cfg SessionConfig) []trackskills.Event {
	users := []string{"11111111111111111111111111111111", "22222222222222222222222222222222", "33333333333333333333333333333333"}
	skills := []string{"deploy", "review", "plan", "superpowers:brainstorming"}
	tools := []string{"Read", "Bash", "Edit", "mcp__github__create_issue", "mcp__linear__search", "mcp__github__get_pr"}
	var out []trackskills.Event
	for s := range cfg.Sessions {
		session := fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
		user := users[r.IntN(len(users))]
		ts := cfg.Start + int64(s)*7_919
		var agents []string
		n := cfg.Events/2 + r.IntN(cfg.Events+1)
		for i := range n {
			switch x := r.IntN(100); {
			case x < 8:
				ts += 0 // same millisecond
			case x < 12:
				ts += cfg.IdleMs + 1 + r.Int64N(cfg.IdleMs)
			default:
				ts += 1 + r.Int64N(20_000)
			}
			ev := trackskills.Event{
				EventID: fmt.Sprintf("ev-%s-%04d", session[:8], i), ToolCategory: "builtin",
				Status: trackskills.StatusSuccess, Timestamp: ts, ReceivedAt: ts + 5, UserHash: user,
				SessionHash: session, Source: "hook",
			}
			if len(agents) > 0 && r.IntN(100) < 40 {
				ev.AgentHash = agents[r.IntN(len(agents))]
			}
			mark := func(kind, name string) {
				ev.Kind, ev.ToolName, ev.ToolCategory = kind, name, "session"
			}
			switch x := r.IntN(100); {
			case x < 48:
				ev.ToolName = tools[r.IntN(len(tools))]
				if server, tool := trackskills.SplitMCP(ev.ToolName); server != "" {
					ev.ToolCategory, ev.MCPServer, ev.MCPTool = "mcp", server, tool
				}
				if r.IntN(100) < 6 {
					ev.ToolName, ev.ToolCategory = "Agent", "subagent"
				}
				switch y := r.IntN(100); {
				case y < 10:
					ev.Status, ev.ErrorType = trackskills.StatusError, "tool_error"
				case y < 13:
					ev.Status, ev.ErrorType = trackskills.StatusError, "interrupt"
				case y < 15:
					ev.Status, ev.ErrorType = trackskills.StatusTimeout, "timeout"
				}
			case x < 62:
				ev.ToolName, ev.ToolCategory = skills[r.IntN(len(skills))], "skill"
				ev.Metadata = []byte(`{"hook_event":"PostToolUse","tool":"Skill"}`)
				if r.IntN(100) < 8 {
					ev.Status, ev.ErrorType = trackskills.StatusError, "tool_error"
				}
			case x < 65:
				ev.ToolName, ev.ToolCategory, ev.AgentHash = skills[r.IntN(len(skills))], "skill", ""
				ev.Metadata = []byte(`{"hook_event":"UserPromptExpansion","trigger":"user-slash"}`)
			case x < 73:
				mark(trackskills.KindPrompt, "UserPromptSubmit")
				ev.AgentHash = ""
			case x < 79:
				mark(trackskills.KindStop, "Stop")
				ev.AgentHash = ""
			case x < 81:
				mark(trackskills.KindStopFailure, "StopFailure")
				ev.Status, ev.ErrorType, ev.AgentHash = trackskills.StatusError, "rate_limit", ""
			case x < 86:
				agent := fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
				agents = append(agents, agent)
				mark(trackskills.KindSubagentStart, "Explore")
				ev.ToolCategory, ev.AgentHash = "subagent", agent
			case x < 90:
				mark(trackskills.KindSubagentStop, "Explore")
				ev.ToolCategory = "subagent"
				if len(agents) > 0 {
					k := r.IntN(len(agents))
					ev.AgentHash = agents[k]
					agents = slices.Delete(agents, k, k+1)
				}
			case x < 94:
				mark(trackskills.KindDenied, tools[r.IntN(len(tools))])
			case x < 96:
				mark(trackskills.KindSessionStart, "SessionStart")
				ev.AgentHash = ""
			case x < 98:
				mark(trackskills.KindSessionEnd, "SessionEnd")
				ev.AgentHash = ""
			case x < 99:
				mark(trackskills.KindSkillKnown, skills[0])
				ev.ToolCategory = "inventory"
			default:
				ev.ToolName, ev.SessionHash, ev.AgentHash = "Read", "", "" // no session: no run
			}
			out = append(out, ev)
		}
	}
	return out
}

// RunEvent is what the runs see of ev, for a reference walk (runs.Walk)
// over events with text ids, as RandomSessions makes them.
func RunEvent(ev *trackskills.Event) runs.Event {
	return runs.Event{TS: ev.Timestamp, ID: []byte(ev.EventID), Kind: ev.Kind, Name: ev.ToolName,
		Category: ev.ToolCategory, Status: ev.Status, Interrupt: ev.ErrorType == "interrupt", Agent: ev.AgentHash,
		UserSlash: ev.ToolCategory == "skill" && string(ev.Metadata) == `{"hook_event":"UserPromptExpansion","trigger":"user-slash"}`}
}

// WantRuns returns the runs of the sessions of events by a reference walk
// of each whole session in time order (duplicates of an id counted once),
// by session hash; the open runs of a session whose last event came
// before quietBefore end as abandoned.
func WantRuns(events []trackskills.Event, idleMs, quietBefore int64) map[string][]*runs.Run {
	by := map[string][]runs.Event{}
	seen := map[string]bool{}
	for i := range events {
		ev := &events[i]
		if ev.SessionHash == "" || seen[ev.EventID] || !trackskills.InRuns(ev.Kind) {
			continue
		}
		seen[ev.EventID] = true
		by[ev.SessionHash] = append(by[ev.SessionHash], RunEvent(ev))
	}
	out := map[string][]*runs.Run{}
	for s, evs := range by {
		last := int64(0)
		for _, e := range evs {
			last = max(last, e.TS)
		}
		out[s] = runs.Walk(evs, idleMs, last < quietBefore)
	}
	return out
}

// RunSummary is a run as one comparable line: its skill, state, start,
// end, counts, parent and tools.
func RunSummary(r *runs.Run) string {
	tools := make([]string, 0, len(r.Tools))
	for name, t := range r.Tools {
		tools = append(tools, fmt.Sprintf("%s=%d/%d", name, t.Calls, t.Failed))
	}
	slices.Sort(tools)
	parent := "top"
	if r.ParentID != nil {
		parent = fmt.Sprintf("in %d", r.ParentStart)
	}
	return fmt.Sprintf("%d %s %s end %d calls %d/%d denied %d subagents %d %s slash %v tools %v", r.Start, r.Skill, r.State,
		r.End, r.Calls, r.FailedCalls, r.DeniedCalls, r.Subagents(), parent, r.UserSlash, tools)
}

// StoredRunSummaries returns every run db holds as RunSummary lines, by
// stored session hash, each session's in order.
func StoredRunSummaries(tb testing.TB, db *sql.DB) map[string][]string {
	tb.Helper()
	list, err := db.Runs(context.Background(), sql.RunQuery{From: 0, To: 1 << 62})
	if err != nil {
		tb.Fatalf("read runs: %v", err)
	}
	out := map[string][]string{}
	for i := range list {
		out[list[i].Session] = append(out[list[i].Session], RunSummary(&list[i].Run))
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

// WantRunSummaries returns the reference runs of events (WantRuns) as
// StoredRunSummaries gives the stored ones.
func WantRunSummaries(events []trackskills.Event, idleMs, quietBefore int64) map[string][]string {
	out := map[string][]string{}
	for s, rs := range WantRuns(events, idleMs, quietBefore) {
		for _, r := range rs {
			out[sql.StoredHash(s)] = append(out[sql.StoredHash(s)], RunSummary(r))
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

// SameRuns reports the differences between two sets of run summaries.
func SameRuns(tb testing.TB, what string, got, want map[string][]string) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Errorf("%s: runs in %d sessions, want %d", what, len(got), len(want))
	}
	for s, w := range want {
		if g := got[s]; !slices.Equal(g, w) {
			tb.Errorf("%s: session %s:\n got %q\nwant %q", what, s, g, w)
		}
	}
}
