package runs_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/runs"
)

// ev builds a session event from a short spec: "skill:NAME", "slash:NAME",
// "call:TOOL", "fail:TOOL", "prompt", "stop", "stopfail", "end", "start",
// "denied", "sub+", "sub-", each optionally "@AGENT".
func ev(ts int64, spec string) runs.Event {
	spec, agent, _ := strings.Cut(spec, "@")
	kind, name, _ := strings.Cut(spec, ":")
	e := runs.Event{TS: ts, ID: fmt.Appendf(nil, "%06d", ts), Status: trackskills.StatusSuccess, Agent: agent, Name: name}
	switch kind {
	case "skill", "slash":
		e.Category, e.UserSlash = "skill", kind == "slash"
	case "skillfail":
		e.Category, e.Status = "skill", trackskills.StatusError
	case "call":
	case "fail":
		e.Status = trackskills.StatusError
	case "prompt":
		e.Kind = trackskills.KindPrompt
	case "stop":
		e.Kind = trackskills.KindStop
	case "stopfail":
		e.Kind = trackskills.KindStopFailure
	case "end":
		e.Kind = trackskills.KindSessionEnd
	case "start":
		e.Kind = trackskills.KindSessionStart
	case "denied":
		e.Kind = trackskills.KindDenied
	case "sub+":
		e.Kind = trackskills.KindSubagentStart
	case "sub-":
		e.Kind = trackskills.KindSubagentStop
	default:
		panic("bad spec " + spec)
	}
	return e
}

// summary is one run as "skill state start-end calls/failed/denied sub=N [parent=S]".
func summary(r *runs.Run) string {
	s := fmt.Sprintf("%s %s %d-%d %d/%d/%d sub=%d", r.Skill, r.State, r.Start, r.End, r.Calls, r.FailedCalls, r.DeniedCalls, r.Subagents())
	if r.ParentID != nil {
		s += fmt.Sprintf(" parent=%d", r.ParentStart)
	}
	return s
}

func TestWalk(t *testing.T) {
	const idle = 1000
	for _, tc := range []struct {
		name   string
		events []string // one a millisecond apart from 10, every 10 ms
		expire bool
		want   []string
	}{
		{"EndsAtStop", []string{"prompt", "skill:a", "call:Read", "fail:Bash", "stop"},
			false, []string{"a completed 20-50 2/1/0 sub=0"}},
		{"NextPromptInterrupts", []string{"skill:a", "call:Read", "prompt"},
			false, []string{"a interrupted 10-30 1/0/0 sub=0"}},
		{"StopFailureFails", []string{"skill:a", "stopfail"},
			false, []string{"a failed 10-20 0/0/0 sub=0"}},
		{"NextSkillCompletes", []string{"skill:a", "call:Read", "skill:b", "stop"},
			false, []string{"a completed 10-30 2/0/0 sub=0", "b completed 30-40 0/0/0 sub=0"}},
		{"SessionEndInterrupts", []string{"skill:a", "end"},
			false, []string{"a interrupted 10-20 0/0/0 sub=0"}},
		{"OpenUntilExpired", []string{"skill:a", "call:Read"},
			false, []string{"a open 10-20 1/0/0 sub=0"}},
		{"ExpiredAtLastEvent", []string{"skill:a", "call:Read"},
			true, []string{"a abandoned 10-20 1/0/0 sub=0"}},
		{"FailedLoadIsAFailedRunOfNoLength", []string{"skill:a", "skillfail:b", "stop"},
			false, []string{"a completed 10-30 1/1/0 sub=0", "b failed 20-20 0/0/0 sub=0"}},
		{"SlashPromptDoesNotEndIt", []string{"slash:a", "prompt", "call:Read", "stop"},
			false, []string{"a completed 10-40 1/0/0 sub=0"}},
		{"DenialsAndSubagents", []string{"skill:a", "denied", "sub+@x", "call:Read@x", "sub-@x", "stop"},
			false, []string{"a completed 10-60 1/0/1 sub=1"}},
		{"SkillInSubagentNests", []string{"skill:a", "sub+@x", "skill:b@x", "call:Read@x", "sub-@x", "call:Edit", "stop"},
			false, []string{"a completed 10-70 3/0/0 sub=1", "b completed 30-50 1/0/0 sub=0 parent=10"}},
		{"NestedEndsWithParent", []string{"skill:a", "skill:b@x", "call:Read@x", "prompt"},
			false, []string{"a interrupted 10-40 2/0/0 sub=0", "b interrupted 20-40 1/0/0 sub=0 parent=10"}},
		{"CallsOutsideRunsCountNowhere", []string{"call:Read", "stop", "skill:a", "stop"},
			false, []string{"a completed 30-40 0/0/0 sub=0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var evs []runs.Event
			for i, s := range tc.events {
				evs = append(evs, ev(int64(10*(i+1)), s))
			}
			got := []string{}
			for _, r := range runs.Walk(evs, idle, tc.expire) {
				got = append(got, summary(r))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestWalk_IdleGap checks that a gap longer than the idle timeout ends the
// open runs at their last event, and that Walk sorts its input.
func TestWalk_IdleGap(t *testing.T) {
	evs := []runs.Event{ev(5000, "call:Read"), ev(10, "skill:a"), ev(20, "call:Read")}
	got := runs.Walk(evs, 1000, false)
	if len(got) != 1 || summary(got[0]) != "a abandoned 10-20 1/0/0 sub=0" {
		t.Fatalf("runs %v", got)
	}
}

// TestReset checks which events close every run whatever came before.
func TestReset(t *testing.T) {
	for spec, want := range map[string]bool{
		"stop": true, "stopfail": true, "start": true, "end": true, "skill:a": true,
		"skill:a@x": false, "skillfail:a": false, "prompt": false, "call:Read": false, "sub-@x": false,
	} {
		e := ev(1, spec)
		if got := runs.Reset(&e); got != want {
			t.Errorf("Reset(%s) = %v, want %v", spec, got, want)
		}
	}
}
