// Package otlp maps what Claude Code exports over OpenTelemetry (OTLP/HTTP
// logs, and the beta trace spans) to Track Skills events, so that a call a
// hook saw and telemetry reported is one event: a tool call's event id is
// its tool_use_id either way (claudecode.EventID), and a mark's id is made
// from the same parts as the hook's.
//
// Only fields Track Skills keeps are read. Prompts, tool inputs and
// outputs, e-mail addresses and request bodies are never copied into an
// event; the user and session ids go into the event's user_id and
// session_id, which ingest hashes before anything is published.
//
// Names Claude Code redacts without OTEL_LOG_TOOL_DETAILS=1 (a skill as
// "custom_skill", an MCP tool as "mcp_tool", a third-party plugin's skill
// as "third-party") are kept as those placeholders and marked redacted in
// the metadata, never guessed.
//
// The logs OpenAI Codex exports (events named codex.*) are mapped too, in
// codex.go, with the same rules of privacy.
package otlp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
)

// Source is the source of every event made here.
const Source = "otlp"

// DetailsSetting is the Claude Code setting that reveals redacted names.
const DetailsSetting = "OTEL_LOG_TOOL_DETAILS=1"

// The redacted names, as Claude Code sends them (claudecode.IsRedacted).
const (
	RedactedSkill   = claudecode.RedactedSkill
	RedactedMCPTool = claudecode.RedactedMCPTool
)

// Result is what an export maps to.
type Result struct {
	// Inputs are the events to store, in the order of their records.
	Inputs []trackskills.Input
	// Ignored counts the records of events Track Skills does not keep
	// (prompts, API bodies, other services' logs). They are not errors.
	Ignored int
	// Rejected says why each record that should have made an event could
	// not (a tool_result without a tool name), in order.
	Rejected []string
}

// MapLogs maps an export of logs. now stands in for a record without any
// time.
func MapLogs(req *logspb.LogsData, now time.Time) Result {
	var res Result
	for _, rl := range req.GetResourceLogs() {
		base := index(rl.GetResource().GetAttributes())
		for _, sl := range rl.GetScopeLogs() {
			for _, rec := range sl.GetLogRecords() {
				a := attrs{own: index(rec.GetAttributes()), base: base}
				in, ignored, reject := mapRecord(eventName(rec, a), a, recordTime(rec, a, now))
				switch {
				case reject != "":
					res.Rejected = append(res.Rejected, reject)
				case ignored:
					res.Ignored++
				default:
					res.Inputs = append(res.Inputs, in)
				}
			}
		}
	}
	return res
}

// eventName is the record's event without the claude_code. prefix: from
// event.name, the record's event_name, or its body, in that order.
func eventName(rec *logspb.LogRecord, a attrs) string {
	name := a.str("event.name")
	if name == "" {
		name = rec.GetEventName()
	}
	if name == "" {
		name = strings.TrimSpace(rec.GetBody().GetStringValue())
	}
	return strings.TrimPrefix(name, "claude_code.")
}

// recordTime is when the record's event happened, in Unix ms: its time,
// else event.timestamp, else when it was observed, else now.
func recordTime(rec *logspb.LogRecord, a attrs, now time.Time) int64 {
	if t := rec.GetTimeUnixNano(); t > 0 {
		return int64(t / 1e6)
	}
	if t, err := time.Parse(time.RFC3339Nano, a.str("event.timestamp")); err == nil {
		return t.UnixMilli()
	}
	if t := rec.GetObservedTimeUnixNano(); t > 0 {
		return int64(t / 1e6)
	}
	return now.UnixMilli()
}

// mapRecord maps one event. ignored is true for events Track Skills does
// not keep; reject says why a kept event cannot be made.
func mapRecord(name string, a attrs, ts int64) (in trackskills.Input, ignored bool, reject string) {
	if isCodex(name) {
		return mapCodex(name, a, ts)
	}
	switch name {
	case "tool_result":
		in, reject = toolResult(a)
	case "tool_decision":
		in, ignored, reject = toolDecision(a)
	case "skill_activated":
		in, ignored = skillActivated(a)
	case "subagent_completed":
		in = subagentCompleted(a)
	case "api_request", "api_error":
		in = apiRequest(name, a)
	case "plugin_loaded":
		in, reject = pluginLoaded(a)
	default:
		return in, true, ""
	}
	if ignored || reject != "" {
		return in, ignored, reject
	}
	in.Timestamp = json.RawMessage(strconv.FormatInt(ts, 10))
	in.Source = Source
	in.SessionID = a.str("session.id")
	if in.EventID == "" {
		in.EventID = RecordID(in.SessionID, name, a.str("event.sequence"))
	}
	// The person: the account when signed in, else the installation (or,
	// behind the Claude apps gateway, the identity provider's subject).
	// user.email is never read.
	in.UserID = a.first("user.account_uuid", "user.id", "user.account_id")
	return in, false, ""
}

// params are the members of tool_parameters (sent with the details
// setting) that name what a tool ran. The rest, such as a Bash command, is
// never read.
type params struct {
	SkillName     string `json:"skill_name"`
	MCPServerName string `json:"mcp_server_name"`
	MCPToolName   string `json:"mcp_tool_name"`
	SubagentType  string `json:"subagent_type"`
}

// maxParams bounds the tool_parameters read: Claude Code caps its JSON at
// a few KB.
const maxParams = 64 << 10

func readParams(a attrs) params {
	var p params
	if v := a.get("tool_parameters"); v != nil {
		if kv := v.GetKvlistValue(); kv != nil {
			raw, _ := json.Marshal(plain(v, plainDepth))
			_ = json.Unmarshal(raw, &p)
		} else if s := v.GetStringValue(); len(s) <= maxParams {
			_ = json.Unmarshal([]byte(s), &p) // a JSON string; anything else names nothing
		}
	}
	return p
}

// toolName is the stored name and category of Claude Code's tool, and
// whether Claude Code redacted the name.
func toolName(tool string, p params) (name, category string, redacted bool) {
	switch {
	case tool == "Skill":
		if s := strings.TrimPrefix(strings.TrimSpace(p.SkillName), "/"); s != "" {
			return s, claudecode.CategorySkill, claudecode.IsRedacted(s)
		}
		return RedactedSkill, claudecode.CategorySkill, true
	case tool == RedactedMCPTool:
		if p.MCPServerName != "" && p.MCPToolName != "" {
			return "mcp__" + p.MCPServerName + "__" + p.MCPToolName, claudecode.CategoryMCP, false
		}
		return RedactedMCPTool, claudecode.CategoryMCP, true
	}
	return tool, claudecode.Category(tool), false
}

func toolResult(a attrs) (trackskills.Input, string) {
	tool := a.str("tool_name")
	if tool == "" {
		return trackskills.Input{}, "tool_result without tool_name"
	}
	p := readParams(a)
	in := trackskills.Input{Status: trackskills.StatusSuccess}
	var redacted bool
	in.ToolName, in.ToolCategory, redacted = toolName(tool, p)
	meta := claudecode.NewMeta()
	meta.Add("otel_event", "tool_result")
	if in.ToolCategory == claudecode.CategorySkill {
		meta.Add("tool", tool)
	}
	if redacted {
		meta.Add("redacted", true)
	}
	meta.Add("subagent_type", p.SubagentType)
	if ok, has := a.boolean("success"); has && !ok {
		msg := a.str("error")
		f := claudecode.Classify(tool, in.ToolCategory, msg, false)
		in.Status, in.ErrorType = f.Status, f.ErrorType
		if f.HasCode {
			meta.Add("exit_code", f.ExitCode)
		}
		in.ErrorMessage = claudecode.CleanMessage(msg)
		meta.Add("otel_error_type", a.str("error_type"))
	}
	if d, ok := a.count("duration_ms"); ok && d <= trackskills.MaxDurationMs {
		in.DurationMs = json.RawMessage(strconv.FormatInt(d, 10))
	}
	if n, ok := a.count("tool_input_size_bytes"); ok {
		in.RequestSizeBytes = json.RawMessage(strconv.FormatInt(n, 10))
	}
	if n, ok := a.count("tool_result_size_bytes"); ok {
		in.ResponseSizeBytes = json.RawMessage(strconv.FormatInt(n, 10))
	}
	if id := a.str("tool_use_id"); id != "" {
		in.EventID = claudecode.EventID(id)
		meta.Add("tool_use_id", id)
	}
	meta.Add("prompt_id", a.str("prompt.id"))
	meta.Add("decision_source", a.str("decision_source"))
	meta.Add("tool_source", a.str("tool_source"))
	meta.Add("mcp_server_scope", a.str("mcp_server_scope"))
	in.Metadata = meta.JSON()
	return in, ""
}

// toolDecision keeps a rejected call as a denied mark, with the id a
// PermissionDenied hook gives the same call. An accepted call is stored
// from its tool_result, which carries the decision's source.
func toolDecision(a attrs) (in trackskills.Input, ignored bool, reject string) {
	decision := strings.ToLower(a.str("decision"))
	if decision != "reject" {
		return in, true, ""
	}
	tool := a.str("tool_name")
	if tool == "" {
		return in, false, "tool_decision without tool_name"
	}
	in = trackskills.Input{ToolName: tool, ToolCategory: claudecode.Category(tool), Status: trackskills.StatusSuccess,
		Kind: trackskills.KindDenied}
	if tool == RedactedMCPTool {
		in.ToolCategory = claudecode.CategoryMCP
	}
	meta := claudecode.NewMeta()
	meta.Add("otel_event", "tool_decision")
	meta.Add("decision", decision)
	meta.Add("decision_source", a.str("source"))
	meta.Add("tool_source", a.str("tool_source"))
	if claudecode.IsRedacted(tool) {
		meta.Add("redacted", true)
	}
	if id, session := a.str("tool_use_id"), a.str("session.id"); id != "" && session != "" {
		in.EventID = claudecode.MarkID(session, trackskills.KindDenied, id)
		meta.Add("tool_use_id", id)
	}
	in.Metadata = meta.JSON()
	return in, false, ""
}

// skillActivated keeps a skill the user typed (/name), which no tool call
// reports, with the id a UserPromptExpansion hook gives it. A skill Claude
// invoked is stored from its Skill tool call.
func skillActivated(a attrs) (in trackskills.Input, ignored bool) {
	trigger := a.str("invocation_trigger")
	name := strings.TrimPrefix(a.str("skill.name"), "/")
	if trigger != "user-slash" || name == "" {
		return in, true
	}
	in = trackskills.Input{ToolName: name, ToolCategory: claudecode.CategorySkill, Status: trackskills.StatusSuccess}
	meta := claudecode.NewMeta()
	meta.Add("otel_event", "skill_activated")
	meta.Add("trigger", trigger)
	meta.Add("skill_source", a.str("skill.source"))
	meta.Add("skill_kind", a.str("skill.kind"))
	meta.Add("plugin", a.str("plugin.name"))
	meta.Add("marketplace", a.str("marketplace.name"))
	if claudecode.IsRedacted(name) {
		meta.Add("redacted", true)
	}
	prompt, session := a.str("prompt.id"), a.str("session.id")
	if prompt != "" && session != "" {
		in.EventID = claudecode.ExpansionID(session, prompt, name)
		meta.Add("prompt_id", prompt)
	}
	in.Metadata = meta.JSON()
	return in, false
}

// subagentCompleted keeps the end of a subagent as a subagent_stop mark.
// The event names no agent id, so the mark ends no run by itself.
func subagentCompleted(a attrs) trackskills.Input {
	name := a.first("agent_type", "agent.name")
	if name == "" {
		name = "subagent"
	}
	in := trackskills.Input{ToolName: trackskills.CutTo(name, trackskills.MaxToolName), ToolCategory: claudecode.CategorySubagent,
		Status: trackskills.StatusSuccess, Kind: trackskills.KindSubagentStop}
	if d, ok := a.count("duration_ms"); ok && d <= trackskills.MaxDurationMs {
		in.DurationMs = json.RawMessage(strconv.FormatInt(d, 10))
	}
	meta := claudecode.NewMeta()
	meta.Add("otel_event", "subagent_completed")
	meta.Add("agent_source", a.str("agent.source"))
	meta.Add("plugin", a.str("plugin.name"))
	meta.Add("model", a.first("final_model", "model"))
	if n, ok := a.count("total_tool_uses"); ok {
		meta.Add("total_tool_uses", n)
	}
	if async, ok := a.boolean("is_async"); ok {
		meta.Add("is_async", async)
	}
	in.Metadata = meta.JSON()
	return in
}

// apiRequest keeps a model request (api_request) or its failure
// (api_error) as an api_request event.
func apiRequest(name string, a attrs) trackskills.Input {
	m := trackskills.APIMeta{
		Model:     a.str("model"),
		Skill:     a.str("skill.name"),
		Plugin:    a.str("plugin.name"),
		Agent:     a.str("agent.name"),
		MCPServer: a.str("mcp_server.name"),
		MCPTool:   a.str("mcp_tool.name"),
		RequestID: a.first("request_id", "client_request_id"), QuerySource: a.str("query_source"),
	}
	if micros, ok := a.count("cost_usd_micros"); ok {
		m.CostMicros = micros
	} else if usd, ok := a.float("cost_usd"); ok && usd >= 0 && usd < 1e9 {
		m.CostMicros = int64(usd*1e6 + 0.5)
	}
	m.InputTokens, _ = a.count("input_tokens")
	m.OutputTokens, _ = a.count("output_tokens")
	m.CacheReadTokens, _ = a.count("cache_read_tokens")
	m.CacheCreationTokens, _ = a.count("cache_creation_tokens")
	model := m.Model
	if model == "" {
		model = "unknown"
	}
	in := trackskills.Input{ToolName: trackskills.CutTo(model, trackskills.MaxToolName), ToolCategory: "api", Status: trackskills.StatusSuccess,
		Kind: trackskills.KindAPIRequest}
	if name == "api_error" {
		in.Status, in.ErrorType = trackskills.StatusError, "api_error"
		if code := a.str("status_code"); code != "" {
			in.ErrorType = trackskills.CutTo("http_"+code, trackskills.MaxErrorType)
		}
	}
	if d, ok := a.count("duration_ms"); ok && d <= trackskills.MaxDurationMs {
		in.DurationMs = json.RawMessage(strconv.FormatInt(d, 10))
	}
	if m.RequestID != "" {
		in.EventID = APIRequestID(m.RequestID, in.Status != trackskills.StatusSuccess)
	}
	in.Metadata, _ = json.Marshal(m)
	return in
}

// pluginLoaded keeps a plugin Claude Code loaded as a plugin_known entry
// of the inventory, once per session (a retried export adds nothing).
func pluginLoaded(a attrs) (trackskills.Input, string) {
	name := a.first("plugin.name", "plugin_name")
	if name == "" {
		return trackskills.Input{}, "plugin_loaded without plugin.name"
	}
	m := trackskills.PluginMeta{Scope: a.str("plugin.scope"), EnabledVia: a.str("enabled_via")}
	m.Skills, _ = a.count("skill_path_count")
	m.Commands, _ = a.count("command_path_count")
	m.HasHooks, _ = a.boolean("has_hooks")
	m.HasMCP, _ = a.boolean("has_mcp")
	meta, _ := json.Marshal(m) // plain values always encode
	in := trackskills.Input{ToolName: trackskills.CutTo(name, trackskills.MaxToolName), ToolCategory: "plugin", Status: trackskills.StatusSuccess,
		Kind: trackskills.KindPluginKnown, Metadata: meta}
	if session := a.str("session.id"); session != "" {
		in.EventID = claudecode.MarkID(session, trackskills.KindPluginKnown, name)
	}
	return in, ""
}

// RecordID is the event id of a record that names no call or request
// (a subagent's end, a model request without its id): made from its
// session and its place in the session's export (event.sequence), so that
// an export sent again maps to the same events. "" without either: the
// server gives the event an id of its own.
func RecordID(session, event, sequence string) string {
	if session == "" || sequence == "" {
		return ""
	}
	h := sha256.Sum256([]byte(strings.Join([]string{session, event, sequence}, "\x00")))
	return "ot_" + hex.EncodeToString(h[:12])
}

// APIRequestID is the event id of the model request requestID, or of its
// failure: telemetry and a transcript name the same request alike, so it
// is stored once.
func APIRequestID(requestID string, failed bool) string {
	h := sha256.Sum256([]byte(requestID))
	prefix := "ar_"
	if failed {
		prefix = "ae_"
	}
	return prefix + hex.EncodeToString(h[:12])
}
