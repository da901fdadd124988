package alerts

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/trackskills/trackskills/sql"
)

// Units of a Finding's Value and Threshold.
const (
	UnitPercent = "percent"
	UnitMs      = "ms"
	UnitSeconds = "seconds"
	UnitCalls   = "calls"
)

// Finding is one subject of a rule whose condition holds at an evaluation:
// a tool, an MCP server, a tool's error type, or the consumer. It carries
// only names and numbers, never who made the calls.
type Finding struct {
	Subject   string // the tool or MCP server; empty for consumer_lag
	ErrorType string // new_error_type: the new type
	Value     float64
	Threshold float64
	Unit      string
	Calls     int64   // in the window
	Failures  int64   // in the window
	Expected  float64 // volume_drop: the calls the usual rate expected
	Summary   string  // one line of plain text
}

// key identifies the finding's subject within its rule.
func (f Finding) key() string { return f.Subject + "\x00" + f.ErrorType }

// match returns the tools a rule looks at.
func (r *Rule) match() sql.ToolMatch {
	if r.Kind == KindMCPServer {
		if r.Server == "*" {
			return sql.ToolMatch{Glob: "mcp__*"}
		}
		return sql.ToolMatch{Glob: "mcp__" + globEscape(r.Server) + "__*"}
	}
	return sql.ToolMatch{Tool: r.Tool, Glob: r.ToolGlob, Category: r.Category}
}

// globEscape quotes the GLOB metacharacters of s: in SQLite's GLOB, a
// character set of one character matches it literally.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mcpServer returns the server of an MCP tool name, mcp__<server>__<tool>.
func mcpServer(tool string) (string, bool) {
	rest, ok := strings.CutPrefix(tool, "mcp__")
	if !ok {
		return "", false
	}
	server, _, ok := strings.Cut(rest, "__")
	return server, ok && server != ""
}

// HourlyAfter is the longest window read from the raw events: longer ones
// read the hourly rollup, over the whole hours they touch. On 2 million
// seeded events over 18 days (the density of 10 million over 90), an
// error_rate over every tool for a day took 390 ms from the raw events and
// 17 ms from the rollup; for 15 minutes, 5 ms from the raw events.
const HourlyAfter = time.Hour

// toolWindows reads what the tools of r did in [from, to).
func (r *Rule) toolWindows(ctx context.Context, db *sql.DB, from, to int64) ([]sql.ToolWindow, error) {
	var (
		tws []sql.ToolWindow
		err error
	)
	if r.Window > HourlyAfter {
		tws, err = db.ToolHours(ctx, from, to, r.match())
	} else {
		tws, err = db.ToolWindows(ctx, from, to, r.match())
	}
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	return tws, nil
}

// Evaluate returns the findings of rule r against db at now: the subjects
// whose condition holds, ordered by subject.
func Evaluate(ctx context.Context, db *sql.DB, r *Rule, now time.Time) ([]Finding, error) {
	to := now.UnixMilli() + 1 // the window includes now
	from := now.Add(-r.Window).UnixMilli()
	win := formatDuration(r.Window)
	switch r.Kind {
	case KindErrorRate:
		tws, err := r.toolWindows(ctx, db, from, to)
		if err != nil {
			return nil, err
		}
		var out []Finding
		for _, tw := range tws {
			if f, ok := r.rateFinding(tw.Tool, tw.Calls, tw.Failures, win); ok {
				out = append(out, f)
			}
		}
		return out, nil
	case KindMCPServer:
		tws, err := r.toolWindows(ctx, db, from, to)
		if err != nil {
			return nil, err
		}
		type sums struct{ calls, failures int64 }
		per := map[string]*sums{}
		var order []string
		for _, tw := range tws {
			server, ok := mcpServer(tw.Tool)
			if !ok {
				continue
			}
			s := per[server]
			if s == nil {
				s = &sums{}
				per[server] = s
				order = append(order, server)
			}
			s.calls += tw.Calls
			s.failures += tw.Failures
		}
		var out []Finding
		for _, server := range slices.Sorted(slices.Values(order)) {
			if f, ok := r.rateFinding(server, per[server].calls, per[server].failures, win); ok {
				out = append(out, f)
			}
		}
		return out, nil
	case KindP95Duration:
		tws, err := r.toolWindows(ctx, db, from, to)
		if err != nil {
			return nil, err
		}
		var out []Finding
		bound := float64(r.AboveDuration.Milliseconds())
		for _, tw := range tws {
			n := int64(tw.Durations.Count())
			if n < r.MinCalls {
				continue
			}
			p95 := tw.Durations.Quantile(0.95)
			if p95 <= bound {
				continue
			}
			out = append(out, Finding{
				Subject: tw.Tool, Value: math.Round(p95), Threshold: bound, Unit: UnitMs,
				Calls: tw.Calls, Failures: tw.Failures,
				Summary: fmt.Sprintf("%s: p95 duration %s over %d timed calls in the last %s (above %s)",
					tw.Tool, formatMs(p95), n, win, formatDuration(r.AboveDuration)),
			})
		}
		return out, nil
	case KindVolumeDrop:
		return r.volumeDrop(ctx, db, now, from, to)
	case KindNewErrorType:
		return r.newErrorTypes(ctx, db, from, to)
	case KindConsumerLag:
		ms, ok, err := db.NewestReceived(ctx)
		if err != nil || !ok {
			return nil, err
		}
		lag := now.Sub(time.UnixMilli(ms))
		if lag <= r.AboveDuration {
			return nil, nil
		}
		return []Finding{{
			Value: math.Round(lag.Seconds()), Threshold: r.AboveDuration.Seconds(), Unit: UnitSeconds,
			Summary: fmt.Sprintf("the newest event in the database was received %s ago (above %s): the consumer may be stopped or behind",
				formatDuration(lag.Truncate(time.Second)), formatDuration(r.AboveDuration)),
		}}, nil
	}
	return nil, fmt.Errorf("rule %s: unknown kind %q", r.Name, r.Kind)
}

// rateFinding is the finding of an error rate above the rule's bound, if
// the calls reach the minimum.
func (r *Rule) rateFinding(subject string, calls, failures int64, win string) (Finding, bool) {
	if calls < r.MinCalls || calls == 0 {
		return Finding{}, false
	}
	rate := float64(failures) / float64(calls) * 100
	if rate <= r.AbovePercent {
		return Finding{}, false
	}
	what := subject
	if r.Kind == KindMCPServer {
		what = "MCP server " + subject
	}
	return Finding{
		Subject: subject, Value: math.Round(rate*10) / 10, Threshold: r.AbovePercent, Unit: UnitPercent,
		Calls: calls, Failures: failures,
		Summary: fmt.Sprintf("%s: %.1f%% of %d calls failed in the last %s (above %s%%)",
			what, rate, calls, win, formatFloat(r.AbovePercent)),
	}, true
}

// baselineDays returns the whole UTC days of a baseline, at least one.
func (r *Rule) baselineDays() sql.Day {
	return sql.Day(max(1, int64(math.Ceil(r.Baseline.Hours()/24))))
}

// volumeDrop: the usual rate is the calls of the baseline's whole days
// before today, spread evenly over them; a tool fires when that rate
// expected at least MinExpected calls in the window and none came.
func (r *Rule) volumeDrop(ctx context.Context, db *sql.DB, now time.Time, from, to int64) ([]Finding, error) {
	today := sql.DayOfTime(now)
	days := r.baselineDays()
	usual, err := db.DailyCalls(ctx, today-days, today-1, r.match())
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	span := float64(time.Duration(days) * 24 * time.Hour)
	expected := map[string]float64{}
	for _, c := range usual {
		if e := float64(c.Count) * float64(r.Window) / span; e >= r.MinExpected {
			expected[c.Name] = e
		}
	}
	if len(expected) == 0 {
		return nil, nil
	}
	tws, err := r.toolWindows(ctx, db, from, to)
	if err != nil {
		return nil, err
	}
	for _, tw := range tws {
		if tw.Calls > 0 {
			delete(expected, tw.Tool)
		}
	}
	var out []Finding
	for _, tool := range slices.Sorted(maps.Keys(expected)) {
		e := expected[tool]
		out = append(out, Finding{
			Subject: tool, Value: 0, Threshold: r.MinExpected, Unit: UnitCalls, Expected: math.Round(e*10) / 10,
			Summary: fmt.Sprintf("%s: no call in the last %s, where its usual rate over the %s before today expects about %s",
				tool, formatDuration(r.Window), formatDuration(time.Duration(days)*24*time.Hour), formatFloat(math.Round(e))),
		})
	}
	return out, nil
}

// newErrorTypes: an error type of a tool in the window is new when the
// failures of that tool and type in the daily rollup, over the baseline's
// days before the window and the days of the window itself, are no more
// than the window's own (the rollup holds the window's failures too).
func (r *Rule) newErrorTypes(ctx context.Context, db *sql.DB, from, to int64) ([]Finding, error) {
	recent, err := db.WindowErrorTypes(ctx, from, to, r.match())
	if err != nil || len(recent) == 0 {
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Name, err)
		}
		return nil, nil
	}
	known, err := db.DailyErrorTypes(ctx, sql.DayOf(from)-r.baselineDays(), sql.DayOf(to-1), r.match())
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	total := map[[2]string]int64{}
	for _, k := range known {
		total[[2]string{k.Tool, k.ErrorType}] = k.Failures
	}
	var out []Finding
	for _, t := range recent {
		if total[[2]string{t.Tool, t.ErrorType}] > t.Failures {
			continue
		}
		out = append(out, Finding{
			Subject: t.Tool, ErrorType: t.ErrorType, Value: float64(t.Failures), Unit: UnitCalls, Failures: t.Failures,
			Summary: fmt.Sprintf("%s: new error type %q, %d failures in the last %s and none in the %s before",
				t.Tool, t.ErrorType, t.Failures, formatDuration(r.Window), formatDuration(r.Baseline)),
		})
	}
	return out, nil
}

func formatMs(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.1fs", ms/1000)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func formatFloat(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%.10g", v), ".0") }
