package otlp

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
)

// Claude Code's beta trace spans (CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1):
// claude_code.tool is one tool call, from its request to its result; its
// children claude_code.tool.blocked_on_user (the permission wait, with the
// decision) and claude_code.tool.execution (the run, with success) split
// that time. They are the one source that tells waiting from running.
const (
	spanTool      = "tool"
	spanBlocked   = "tool.blocked_on_user"
	spanExecution = "tool.execution"
)

// spanName is a span's name without the claude_code. prefix.
func spanName(s *tracepb.Span) string { return strings.TrimPrefix(s.GetName(), "claude_code.") }

// MapTraces maps an export of spans: a tool span whose execution child the
// export holds is a tool call, timed by that child, with the permission
// wait in its metadata; one whose wait ended in a rejection is a denied
// mark. A tool span exported without either child is ignored: the
// exporter sends spans as they end, the children often in an earlier
// export, and without them the span cannot tell waiting from running nor
// a rejection from a call; tool_result and tool_decision report that call.
// Other spans, and children exported without their tool span, are
// ignored too.
func MapTraces(req *tracepb.TracesData, now time.Time) Result {
	var res Result
	var tools []span
	children := map[string][]span{} // by parent span id
	for _, rs := range req.GetResourceSpans() {
		base := index(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				a := attrs{own: index(s.GetAttributes()), base: base}
				switch spanName(s) {
				case spanTool:
					tools = append(tools, span{s, a})
				case spanBlocked, spanExecution:
					parent := string(s.GetParentSpanId())
					children[parent] = append(children[parent], span{s, a})
				default:
					res.Ignored++
				}
			}
		}
	}
	for _, t := range tools {
		var exec, blocked *span
		kids := children[string(t.s.GetSpanId())]
		delete(children, string(t.s.GetSpanId()))
		for i := range kids {
			switch spanName(kids[i].s) {
			case spanExecution:
				exec = &kids[i]
			case spanBlocked:
				blocked = &kids[i]
			}
		}
		rejected := blocked != nil && strings.EqualFold(blocked.a.str("decision"), "reject")
		if exec == nil && !rejected {
			res.Ignored++
			continue
		}
		in, reject := toolSpan(t, exec, blocked)
		if reject != "" {
			res.Rejected = append(res.Rejected, reject)
			continue
		}
		ts := int64(t.s.GetStartTimeUnixNano() / 1e6)
		if ts <= 0 {
			ts = now.UnixMilli()
		}
		in.Timestamp = json.RawMessage(strconv.FormatInt(ts, 10))
		in.Source = Source
		in.SessionID = t.a.str("session.id")
		in.UserID = t.a.first("user.account_uuid", "user.id", "user.account_id")
		res.Inputs = append(res.Inputs, in)
	}
	for _, kids := range children { // their tool span is not in the export
		res.Ignored += len(kids)
	}
	return res
}

// span is a span with its attributes and its resource's.
type span struct {
	s *tracepb.Span
	a attrs
}

// spanMs is a span's duration in ms; ok is false when it has no end.
func spanMs(s *tracepb.Span) (int64, bool) {
	start, end := s.GetStartTimeUnixNano(), s.GetEndTimeUnixNano()
	if start == 0 || end < start {
		return 0, false
	}
	return int64((end - start + 5e5) / 1e6), true
}

// toolSpan maps the tool span t, with its execution and permission-wait
// children when the export holds them (else nil).
func toolSpan(t span, exec, blocked *span) (trackskills.Input, string) {
	s, a := t.s, t.a
	tool := a.first("tool_name", "tool.name", "gen_ai.tool.name")
	if tool == "" {
		return trackskills.Input{}, "tool span without tool_name"
	}
	p := readParams(a)
	in := trackskills.Input{Status: trackskills.StatusSuccess}
	var redacted bool
	in.ToolName, in.ToolCategory, redacted = toolName(tool, p)
	meta := claudecode.NewMeta()
	meta.Add("otel_span", spanTool)
	if redacted {
		meta.Add("redacted", true)
	}
	total, hasTotal := spanMs(s)
	if hasTotal {
		meta.Add("total_ms", total)
	}
	dur, hasDur := total, hasTotal
	failed := s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR
	msg := s.GetStatus().GetMessage()
	if blocked != nil {
		bs, ba := blocked.s, blocked.a
		if wait, ok := spanMs(bs); ok {
			meta.Add("wait_ms", wait)
		}
		meta.Add("decision", ba.str("decision"))
		meta.Add("decision_source", ba.first("source", "decision_source"))
		if strings.EqualFold(ba.str("decision"), "reject") {
			in.Kind = trackskills.KindDenied
		}
	}
	if exec != nil {
		es, ea := exec.s, exec.a
		if d, ok := spanMs(es); ok {
			dur, hasDur = d, true
		}
		if ok, has := ea.boolean("success"); has {
			failed = !ok
		}
		failed = failed || es.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR
		if m := ea.str("error"); m != "" {
			msg = m
		} else if m := es.GetStatus().GetMessage(); m != "" {
			msg = m
		}
	}
	id := a.first("tool_use_id", "tool.use_id", "gen_ai.tool.call.id")
	if in.Kind == trackskills.KindDenied {
		// A rejected call ran nothing: it is a mark, as a tool_decision
		// reject or a PermissionDenied hook makes it, with their id.
		if session := a.str("session.id"); id != "" && session != "" {
			in.EventID = claudecode.MarkID(session, trackskills.KindDenied, id)
		}
		meta.Add("tool_use_id", id)
		in.Metadata = meta.JSON()
		return in, ""
	}
	if failed {
		f := claudecode.Classify(tool, in.ToolCategory, msg, false)
		in.Status, in.ErrorType = f.Status, f.ErrorType
		if f.HasCode {
			meta.Add("exit_code", f.ExitCode)
		}
		in.ErrorMessage = claudecode.CleanMessage(msg)
	}
	if hasDur && dur <= trackskills.MaxDurationMs {
		in.DurationMs = json.RawMessage(strconv.FormatInt(dur, 10))
	}
	if id != "" {
		in.EventID = claudecode.EventID(id)
		meta.Add("tool_use_id", id)
	}
	in.Metadata = meta.JSON()
	return in, ""
}
