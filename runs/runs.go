// Package runs cuts the events of a session into skill runs: a run starts
// at a skill invocation (a Skill tool call, or a user-typed /skill) and
// ends at the next user prompt, the next top-level skill run, the end of
// the turn (Stop or StopFailure), the end of the session, or an idle
// timeout. The tool calls, denials and subagents in between belong to the
// run; a skill invoked from inside a subagent of a run nests under it.
//
// The package is pure: it walks events already in session order (Less)
// from a State, and reports the runs it touched. Package sql keeps the
// State and the events in SQLite, so that a restart, a replay or a late
// event gives the same runs (docs/CONTRACT.md, Skill runs).
package runs

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/trackskills/trackskills"
)

// End states of a run.
const (
	Open        = "open"        // still running: no end seen yet
	Completed   = "completed"   // the turn ended (Stop), the next skill started, or its subagent finished
	Failed      = "failed"      // the turn ended on an API error (StopFailure), or the skill did not load
	Interrupted = "interrupted" // a prompt or the session's end came before the turn ended
	Abandoned   = "abandoned"   // no event of its session within the idle timeout
)

// States lists the end states, open last.
var States = []string{Completed, Failed, Interrupted, Abandoned, Open}

// DefaultIdleMs is the default idle timeout: 30 minutes.
const DefaultIdleMs = 30 * 60 * 1000

// slashPromptMs is how long after a user-typed /skill its own prompt may
// come: a prompt that close to an expansion, with no call between, is the
// expansion's prompt and does not end the run.
const slashPromptMs = 10_000

// Event is what a run needs of one event of a session.
type Event struct {
	TS int64
	// ID orders events of the same millisecond: the stored event id.
	ID []byte
	// Kind is trackskills' kind: "" for a tool call, else a session mark.
	Kind      string
	Name      string // the tool (a skill's name for a skill call)
	Category  string // the tool category; "skill" starts a run
	Status    string
	Interrupt bool   // a tool call the user interrupted
	Agent     string // the subagent's id hash; "" for the main agent
	UserSlash bool   // a skill the user typed (/skill), not a Skill tool call
}

// Less orders events by time, then by id.
func Less(a, b *Event) bool { return Compare(a, b) < 0 }

// Compare orders events as Less does, for the slices package: -1, 0 or +1.
func Compare(a, b *Event) int {
	if c := cmp.Compare(a.TS, b.TS); c != 0 {
		return c
	}
	return bytes.Compare(a.ID, b.ID)
}

// Reset reports whether ev closes every run open before it whatever came
// before: the end of a turn or a session, or a skill started by the main
// agent. A walk may restart from such an event with an empty State.
func Reset(ev *Event) bool {
	switch ev.Kind {
	case trackskills.KindStop, trackskills.KindStopFailure, trackskills.KindSessionStart, trackskills.KindSessionEnd:
		return true
	case "":
		return ev.Category == "skill" && ev.Agent == "" && ev.Status == trackskills.StatusSuccess
	}
	return false
}

// Tally is the calls and failed calls of one tool in a run.
type Tally struct {
	Calls, Failed int64
}

// Run is one skill run.
type Run struct {
	Skill string
	Start int64  // the skill invocation's time, Unix ms
	ID    []byte // the skill invocation's event id: (Start, ID) names the run in its session
	// Parent names the run this one nests in (ParentStart, ParentID);
	// ParentID is nil for a top-level run.
	ParentStart int64
	ParentID    []byte
	Agent       string // the subagent a nested run runs in
	UserSlash   bool
	End         int64 // the end, Unix ms; for an open run its last event
	Last        int64 // the run's last event, Unix ms
	State       string

	Calls, FailedCalls, DeniedCalls int64
	SubagentStarts, SubagentCalls   int64
	Tools                           map[string]Tally // by tool name, skill calls included
}

// WallMs is how long the run took, from its start to its end.
func (r *Run) WallMs() int64 { return r.End - r.Start }

// Subagents is how many subagents the run started: the SubagentStart
// marks seen, or, where no hook sent them, its Agent tool calls.
func (r *Run) Subagents() int64 { return max(r.SubagentStarts, r.SubagentCalls) }

// Clone returns a copy of r that shares nothing with it.
func (r *Run) Clone() *Run {
	c := *r
	c.ID, c.ParentID = slices.Clone(r.ID), slices.Clone(r.ParentID)
	c.Tools = make(map[string]Tally, len(r.Tools))
	for k, v := range r.Tools {
		c.Tools[k] = v
	}
	return &c
}

// State is a session's walk so far: its open runs and its last event.
type State struct {
	Top    *Run   // the open top-level run, or nil
	Nested []*Run // the open runs nested in Top, one per subagent
	// LastTS and LastID are the last event walked; LastID is nil before
	// the first.
	LastTS int64
	LastID []byte
}

// Walker walks events of one session from a State, collecting every run
// it opened, changed or closed.
type Walker struct {
	State  State
	IdleMs int64
	// Touched are the runs the walk opened, changed or closed, each once,
	// in the order first touched.
	Touched []*Run
	seen    map[*Run]bool
}

func (w *Walker) touch(r *Run) {
	if w.seen == nil {
		w.seen = map[*Run]bool{}
	}
	if !w.seen[r] {
		w.seen[r] = true
		w.Touched = append(w.Touched, r)
	}
}

// closeAll ends every open run in state at end (nested first).
func (w *Walker) closeAll(state string, end int64) {
	s := &w.State
	for _, r := range s.Nested {
		w.closeRun(r, state, end)
	}
	s.Nested = nil
	if s.Top != nil {
		w.closeRun(s.Top, state, end)
		s.Top = nil
	}
}

func (w *Walker) closeRun(r *Run, state string, end int64) {
	r.State, r.End = state, end
	w.touch(r)
}

// Expire ends the open runs as abandoned at their last event, as an event
// more than the idle timeout later would; a sweep calls it for sessions
// that have gone quiet.
func (w *Walker) Expire() {
	s := &w.State
	for _, r := range s.Nested {
		w.closeRun(r, Abandoned, r.Last)
	}
	s.Nested = nil
	if s.Top != nil {
		w.closeRun(s.Top, Abandoned, s.Top.Last)
		s.Top = nil
	}
}

// open lists the open runs an event of agent counts in: the top-level run,
// and the nested run of that subagent.
func (w *Walker) open(agent string) []*Run {
	s := &w.State
	if s.Top == nil {
		return nil
	}
	out := []*Run{s.Top}
	if agent != "" {
		for _, r := range s.Nested {
			if r.Agent == agent {
				out = append(out, r)
			}
		}
	}
	return out
}

// Feed walks one event, which must come after every event walked so far
// (Less).
func (w *Walker) Feed(ev *Event) {
	s := &w.State
	if s.LastID != nil && w.IdleMs > 0 && ev.TS-s.LastTS > w.IdleMs {
		w.Expire()
	}
	if !trackskills.InRuns(ev.Kind) {
		return // inventory, no event of the session's work
	}
	s.LastTS, s.LastID = ev.TS, slices.Clone(ev.ID)
	switch ev.Kind {
	case "":
		w.call(ev)
	case trackskills.KindDenied:
		for _, r := range w.open(ev.Agent) {
			r.DeniedCalls++
		}
	case trackskills.KindSubagentStart:
		if s.Top != nil {
			s.Top.SubagentStarts++
		}
	case trackskills.KindSubagentStop:
		for i, r := range s.Nested {
			if r.Agent != "" && r.Agent == ev.Agent {
				r.Last = ev.TS
				w.closeRun(r, Completed, ev.TS)
				s.Nested = slices.Delete(s.Nested, i, i+1)
				break
			}
		}
	case trackskills.KindPrompt:
		if t := s.Top; t != nil && t.UserSlash && t.Calls == 0 && t.DeniedCalls == 0 && ev.TS-t.Start <= slashPromptMs {
			break // the prompt of the /skill the user typed
		}
		w.closeAll(Interrupted, ev.TS)
	case trackskills.KindStop:
		w.closeAll(Completed, ev.TS)
	case trackskills.KindStopFailure:
		w.closeAll(Failed, ev.TS)
	case trackskills.KindSessionStart, trackskills.KindSessionEnd:
		w.closeAll(Interrupted, ev.TS)
	}
	for _, r := range w.open(ev.Agent) {
		r.Last, r.End = ev.TS, ev.TS
		w.touch(r)
	}
}

// call walks a tool call: it counts in the open runs, and a skill call
// starts a run.
func (w *Walker) call(ev *Event) {
	s := &w.State
	for _, r := range w.open(ev.Agent) {
		r.Calls++
		if ev.Status != trackskills.StatusSuccess {
			r.FailedCalls++
		}
		if ev.Category == "subagent" {
			r.SubagentCalls++
		}
		t := r.Tools[ev.Name]
		t.Calls++
		if ev.Status != trackskills.StatusSuccess {
			t.Failed++
		}
		if r.Tools == nil {
			r.Tools = map[string]Tally{}
		}
		r.Tools[ev.Name] = t
	}
	if ev.Category != "skill" {
		return
	}
	run := &Run{Skill: ev.Name, Start: ev.TS, ID: slices.Clone(ev.ID), Agent: ev.Agent, UserSlash: ev.UserSlash,
		End: ev.TS, Last: ev.TS, State: Open, Tools: map[string]Tally{}}
	switch {
	case ev.Status != trackskills.StatusSuccess:
		// The skill did not load: a failed run of no length, which
		// changes nothing around it.
		if s.Top != nil && ev.Agent != "" {
			run.ParentStart, run.ParentID = s.Top.Start, slices.Clone(s.Top.ID)
		}
		run.State = Failed
		w.touch(run)
	case ev.Agent != "" && s.Top != nil:
		// A skill inside a subagent of the run: it nests, and ends the
		// subagent's previous nested run.
		for i, r := range s.Nested {
			if r.Agent == ev.Agent {
				w.closeRun(r, Completed, ev.TS)
				s.Nested = slices.Delete(s.Nested, i, i+1)
				break
			}
		}
		run.ParentStart, run.ParentID = s.Top.Start, slices.Clone(s.Top.ID)
		s.Nested = append(s.Nested, run)
		w.touch(run)
	default:
		w.closeAll(Completed, ev.TS)
		run.Agent = ""
		s.Top = run
		w.touch(run)
	}
}

// Walk returns the runs of a whole session, its events in any order,
// closing those still open at the end as abandoned when expire is set: the
// reference the stored runs are tested against.
func Walk(events []Event, idleMs int64, expire bool) []*Run {
	evs := slices.Clone(events)
	slices.SortFunc(evs, func(a, b Event) int {
		if Less(&a, &b) {
			return -1
		}
		if Less(&b, &a) {
			return 1
		}
		return 0
	})
	w := Walker{IdleMs: idleMs}
	for i := range evs {
		w.Feed(&evs[i])
	}
	if expire {
		w.Expire()
	}
	return w.Touched
}
