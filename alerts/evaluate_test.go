package alerts_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/alerts"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// testNow is the clock of the evaluation tests.
var testNow = time.Date(2026, 2, 9, 21, 30, 0, 0, time.UTC)

// events builds events through one description per group of calls.
type events struct {
	list []trackskills.Event
	n    int
}

// add appends n calls of tool at now-ago (spread one second apart, back in
// time), the first failures of them failed with errType.
func (e *events) add(tool string, n, failures int, errType string, ago time.Duration, durationMs int64) *events {
	for i := range n {
		e.n++
		ts := testNow.Add(-ago - time.Duration(i)*time.Second).UnixMilli()
		d := durationMs
		ev := trackskills.Event{
			EventID: fmt.Sprintf("ev-%06d", e.n), ToolName: tool, ToolCategory: trackskills.DefaultCategory,
			Status: trackskills.StatusSuccess, DurationMs: &d, Timestamp: ts, ReceivedAt: ts + 10,
			UserHash: fmt.Sprintf("%032x", e.n%7), Source: trackskills.DefaultSource, StreamSeq: uint64(e.n),
		}
		if i < failures {
			ev.Status, ev.ErrorType = trackskills.StatusError, errType
		}
		e.list = append(e.list, ev)
	}
	return e
}

// mustFillDB writes the evaluation tests' events through the consumer's
// write path: a window of 15 minutes before testNow and 7 days before it.
func mustFillDB(t *testing.T) *sql.DB {
	t.Helper()
	var e events
	// The last 15 minutes.
	e.add("Bash", 14, 4, "exit_code", time.Minute, 100)
	e.add("Bash", 6, 2, "oom", 3*time.Minute, 100)
	e.add("Read", 20, 0, "", 2*time.Minute, 3000)
	e.add("mcp__github__search", 5, 3, "mcp_error", 4*time.Minute, 50)
	e.add("mcp__github__get", 5, 3, "mcp_error", 5*time.Minute, 50)
	e.add("mcp__slack__post", 10, 0, "", 6*time.Minute, 50)
	e.add("Skill_one", 10, 5, "failed", 7*time.Minute, 50)
	// The 7 days before today: Bash fails with exit_code now and then,
	// Grep is called 48 times a day (1 per 30 minutes on average) and not
	// in the window.
	for day := 1; day <= 7; day++ {
		ago := time.Duration(day) * 24 * time.Hour
		e.add("Bash", 10, 2, "exit_code", ago, 100)
		midnight := testNow.Truncate(24 * time.Hour).Add(-time.Duration(day) * 24 * time.Hour)
		for h := range 24 {
			at := midnight.Add(time.Duration(h)*time.Hour + 30*time.Minute)
			e.add("Grep", 2, 0, "", testNow.Sub(at), 10)
		}
	}
	for i := range e.list {
		if e.list[i].ToolName == "Skill_one" {
			e.list[i].ToolCategory = "skill"
		}
	}
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, e.list)
	return db
}

func subjects(fs []alerts.Finding) string {
	var parts []string
	for _, f := range fs {
		s := f.Subject
		if f.ErrorType != "" {
			s += "/" + f.ErrorType
		}
		parts = append(parts, fmt.Sprintf("%s=%g", s, f.Value))
	}
	return strings.Join(parts, " ")
}

func TestEvaluate(t *testing.T) {
	db := mustFillDB(t)
	w := 15 * time.Minute
	tests := []struct {
		name string
		rule alerts.Rule
		want string // the findings, "subject=value ..."
	}{
		{"ErrorRate/Fires", alerts.Rule{Kind: alerts.KindErrorRate, Tool: "Bash", AbovePercent: 20, Window: w, MinCalls: 10}, "Bash=30"},
		{"ErrorRate/BelowBound", alerts.Rule{Kind: alerts.KindErrorRate, Tool: "Bash", AbovePercent: 30, Window: w, MinCalls: 10}, ""},
		{"ErrorRate/TooFewCalls", alerts.Rule{Kind: alerts.KindErrorRate, Tool: "Bash", AbovePercent: 20, Window: w, MinCalls: 21}, ""},
		{"ErrorRate/Glob", alerts.Rule{Kind: alerts.KindErrorRate, ToolGlob: "mcp__*", AbovePercent: 50, Window: w, MinCalls: 5}, "mcp__github__get=60 mcp__github__search=60"},
		{"ErrorRate/Category", alerts.Rule{Kind: alerts.KindErrorRate, Category: "skill", AbovePercent: 20, Window: w, MinCalls: 5}, "Skill_one=50"},
		{"ErrorRate/ShortWindow", alerts.Rule{Kind: alerts.KindErrorRate, Tool: "Bash", AbovePercent: 20, Window: time.Minute, MinCalls: 2}, ""},
		{"ErrorRate/HourlyWindow", alerts.Rule{Kind: alerts.KindErrorRate, Tool: "Bash", AbovePercent: 20, Window: 2 * time.Hour, MinCalls: 10}, "Bash=30"},
		{"MCPServer/HourlyWindow", alerts.Rule{Kind: alerts.KindMCPServer, Server: "github", AbovePercent: 50, Window: 3 * time.Hour, MinCalls: 10}, "github=60"},
		{"P95/HourlyWindow", alerts.Rule{Kind: alerts.KindP95Duration, Tool: "Read", AboveDuration: 2 * time.Second, Window: 2 * time.Hour, MinCalls: 10}, "Read=3110"},
		{"VolumeDrop/HourlyWindow", alerts.Rule{Kind: alerts.KindVolumeDrop, Tool: "Grep", Window: 2 * time.Hour, Baseline: 7 * 24 * time.Hour, MinExpected: 2}, "Grep=0"},
		{"MCPServer/Fires", alerts.Rule{Kind: alerts.KindMCPServer, Server: "github", AbovePercent: 50, Window: w, MinCalls: 10}, "github=60"},
		{"MCPServer/EachServer", alerts.Rule{Kind: alerts.KindMCPServer, Server: "*", AbovePercent: 0, Window: w, MinCalls: 10}, "github=60"},
		{"MCPServer/Healthy", alerts.Rule{Kind: alerts.KindMCPServer, Server: "slack", AbovePercent: 0, Window: w, MinCalls: 1}, ""},
		{"MCPServer/TooFewCalls", alerts.Rule{Kind: alerts.KindMCPServer, Server: "github", AbovePercent: 50, Window: w, MinCalls: 11}, ""},
		{"P95/Fires", alerts.Rule{Kind: alerts.KindP95Duration, Tool: "Read", AboveDuration: 2 * time.Second, Window: w, MinCalls: 10}, "Read=3110"},
		{"P95/BelowBound", alerts.Rule{Kind: alerts.KindP95Duration, Tool: "Read", AboveDuration: 5 * time.Second, Window: w, MinCalls: 10}, ""},
		{"P95/TooFewCalls", alerts.Rule{Kind: alerts.KindP95Duration, Tool: "Read", AboveDuration: time.Second, Window: w, MinCalls: 21}, ""},
		{"VolumeDrop/Fires", alerts.Rule{Kind: alerts.KindVolumeDrop, Window: 30 * time.Minute, Baseline: 7 * 24 * time.Hour, MinExpected: 1}, "Grep=0"},
		{"VolumeDrop/ExpectsTooFew", alerts.Rule{Kind: alerts.KindVolumeDrop, Tool: "Grep", Window: 30 * time.Minute, Baseline: 7 * 24 * time.Hour, MinExpected: 2}, ""},
		{"VolumeDrop/LongerWindowExpectsMore", alerts.Rule{Kind: alerts.KindVolumeDrop, Tool: "Grep", Window: 2 * time.Hour, Baseline: 7 * 24 * time.Hour, MinExpected: 2}, "Grep=0"},
		{"VolumeDrop/StillCalled", alerts.Rule{Kind: alerts.KindVolumeDrop, Tool: "Bash", Window: 30 * time.Minute, Baseline: 7 * 24 * time.Hour, MinExpected: 0.1}, ""},
		{"NewErrorType/Fires", alerts.Rule{Kind: alerts.KindNewErrorType, Tool: "Bash", Window: w, Baseline: 7 * 24 * time.Hour}, "Bash/oom=2"},
		{"NewErrorType/EveryTool", alerts.Rule{Kind: alerts.KindNewErrorType, Window: w, Baseline: 7 * 24 * time.Hour}, "Bash/oom=2 Skill_one/failed=5 mcp__github__get/mcp_error=3 mcp__github__search/mcp_error=3"},
		{"NewErrorType/KnownType", alerts.Rule{Kind: alerts.KindNewErrorType, ToolGlob: "Gr*", Window: w, Baseline: 7 * 24 * time.Hour}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rule.Name = tt.name
			got, err := alerts.Evaluate(context.Background(), db, &tt.rule, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if s := subjects(got); s != tt.want {
				t.Fatalf("findings=%q, want %q", s, tt.want)
			}
			for _, f := range got {
				if f.Summary == "" || !strings.Contains(f.Summary, f.Subject) {
					t.Errorf("summary %q does not name %q", f.Summary, f.Subject)
				}
			}
		})
	}
}

// Ensure a type seen before the window on the same day is not new.
func TestEvaluate_NewErrorTypeSeenToday(t *testing.T) {
	var e events
	e.add("Bash", 1, 1, "oom", 2*time.Hour, 10)
	e.add("Bash", 1, 1, "oom", time.Minute, 10)
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, e.list)
	r := alerts.Rule{Name: "x", Kind: alerts.KindNewErrorType, Window: 15 * time.Minute, Baseline: 24 * time.Hour}
	got, err := alerts.Evaluate(context.Background(), db, &r, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("findings=%q, want none", subjects(got))
	}
}

func TestEvaluate_ConsumerLag(t *testing.T) {
	db := testkit.MustOpenDB(t)
	r := alerts.Rule{Name: "lag", Kind: alerts.KindConsumerLag, AboveDuration: 5 * time.Minute}
	eval := func() string {
		t.Helper()
		got, err := alerts.Evaluate(context.Background(), db, &r, testNow)
		if err != nil {
			t.Fatal(err)
		}
		return subjects(got)
	}
	t.Run("Empty", func(t *testing.T) {
		if got := eval(); got != "" {
			t.Fatalf("findings=%q, want none before any event", got)
		}
	})
	var e events
	e.add("Bash", 1, 0, "", 10*time.Minute, 10)
	testkit.MustWriteBatch(t, db, e.list)
	t.Run("Fires", func(t *testing.T) {
		if got, want := eval(), "=600"; got != want {
			t.Fatalf("findings=%q, want %q", got, want)
		}
	})
	t.Run("WithinBound", func(t *testing.T) {
		r.AboveDuration = 15 * time.Minute
		if got := eval(); got != "" {
			t.Fatalf("findings=%q, want none", got)
		}
	})
}
