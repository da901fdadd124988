package otlp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
)

// OpenAI Codex (the Codex CLI) exports its events as OTLP log records when
// its config.toml has an [otel] table whose exporter is otlp-http (the
// "Observability and telemetry" section of docs/config.md in openai/codex;
// the records are written by codex-rs/otel). A record names its event in
// the attribute event.name, always with the codex. prefix, and carries the
// fields every Codex event shares: event.timestamp, conversation.id,
// app.version, auth_mode, user.account_id, user.email, terminal.type,
// model and slug. Codex writes numbers and truth values as text
// (duration_ms "52", success "true"), which attrs reads like any kind.
//
// Two events are kept:
//
//   - codex.tool_result (tool_name, call_id, arguments, duration_ms,
//     success, output) is a tool call;
//   - codex.tool_decision (tool_name, call_id, decision, source) with the
//     decision denied or abort is a denied mark.
//
// Everything else is ignored, and counted so, like Claude Code's events
// Track Skills does not keep: codex.conversation_starts and
// codex.user_prompt name no call; codex.api_request has no tokens, no cost
// and no request id, so it cannot be an api_request event without
// inventing figures (or storing a retried export twice); the tokens come
// on a codex.sse_event of its own, with no cost either and nothing that
// joins it to a request.
//
// The tool's arguments and output, the prompt and user.email are never
// read.

// CodexPrefix begins the name of every event Codex exports.
const CodexPrefix = "codex."

// CodexAgent is the coding agent named, under the metadata key
// "coding_agent", in every event made from Codex's telemetry.
//
// The agent is the event's source (codex, where Claude Code's telemetry
// is otlp), and is named in the metadata too; tool_category keeps the
// kind of tool that ran (builtin, mcp...), which the analytics group and
// filter by across agents: "codex" there would take Codex's MCP calls out
// of the MCP counts. A source of its own also keeps Codex's conversations
// out of the coverage view's "sessions telemetry saw and the hook did
// not", which are Claude Code's. Claude Code's events carry no such key,
// so that their mapping stays as it was.
const CodexAgent = "codex"

// The Codex events that make Track Skills events.
const (
	codexToolResult   = CodexPrefix + "tool_result"
	codexToolDecision = CodexPrefix + "tool_decision"
)

// isCodex reports whether the event name is one of Codex's.
func isCodex(name string) bool { return strings.HasPrefix(name, CodexPrefix) }

// mapCodex maps one Codex event, as mapRecord does Claude Code's.
func mapCodex(name string, a attrs, ts int64) (in trackskills.Input, ignored bool, reject string) {
	switch name {
	case codexToolResult:
		in, reject = codexTool(a)
	case codexToolDecision:
		in, ignored, reject = codexDecision(a)
	default:
		return in, true, ""
	}
	if ignored || reject != "" {
		return in, ignored, reject
	}
	in.Timestamp = json.RawMessage(strconv.FormatInt(ts, 10))
	in.Source = trackskills.SourceCodex // the agent: Claude Code's telemetry is otlp
	in.SessionID = a.str("conversation.id")
	// The person: the ChatGPT account Codex is signed in with. Codex sends
	// none when it runs on an API key (ingest then falls back to the
	// address and User-Agent); for a workspace sign-in (Business,
	// Enterprise) the account is the workspace's, shared by its members.
	// user.email is never read.
	in.UserID = a.str("user.account_id")
	return in, false, ""
}

// codexCategory is the category of a Codex tool: mcp for a tool of an MCP
// server, which Codex names mcp__<server>__<tool> (its qualified MCP tool
// name, the form SplitMCP splits) and, in recent versions, reports with
// the attribute mcp_server; builtin for any other.
func codexCategory(tool, mcpServer string) string {
	if strings.HasPrefix(tool, "mcp__") || mcpServer != "" {
		return claudecode.CategoryMCP
	}
	return claudecode.CategoryBuiltin
}

// codexMeta starts the metadata of an event made from the Codex event.
func codexMeta(event string, a attrs) *claudecode.Meta {
	meta := claudecode.NewMeta()
	meta.Add("coding_agent", CodexAgent)
	meta.Add("otel_event", event)
	meta.Add("agent_version", a.str("app.version"))
	return meta
}

// codexTool keeps a tool call. Its status is success's; a failure's reason
// is only in output, which is never read, so it is a tool error (an MCP
// error for an MCP tool), never an exit code or a timeout.
func codexTool(a attrs) (trackskills.Input, string) {
	tool := a.str("tool_name")
	if tool == "" {
		return trackskills.Input{}, codexToolResult + " without tool_name"
	}
	server := a.str("mcp_server")
	in := trackskills.Input{ToolName: trackskills.CutTo(tool, trackskills.MaxToolName), ToolCategory: codexCategory(tool, server),
		Status: trackskills.StatusSuccess}
	if ok, has := a.boolean("success"); has && !ok {
		in.Status, in.ErrorType = trackskills.StatusError, claudecode.ErrorTool
		if in.ToolCategory == claudecode.CategoryMCP {
			in.ErrorType = claudecode.ErrorMCP
		}
	}
	if d, ok := a.count("duration_ms"); ok && d <= trackskills.MaxDurationMs {
		in.DurationMs = json.RawMessage(strconv.FormatInt(d, 10))
	}
	meta := codexMeta(codexToolResult, a)
	conversation, call := a.str("conversation.id"), a.str("call_id")
	if call != "" {
		in.EventID = CodexCallID(conversation, call)
		meta.Add("call_id", call)
	} else {
		// A call Codex could not dispatch is reported without its call id:
		// the record's own time, to the millisecond, stands in for it.
		in.EventID = codexRecordID(conversation, codexToolResult, a.str("event.timestamp"), tool)
	}
	meta.Add("mcp_server", server)
	in.Metadata = meta.JSON()
	return in, ""
}

// codexDecision keeps a call the user or the configuration refused (the
// decision denied, or abort, which also ends the turn) as a denied mark,
// with the id MarkID gives every source of the same refusal. An approval
// (approved, approved_for_session) stores nothing: the call is stored from
// its codex.tool_result. Codex also reports the refused call there, as a
// failed one.
func codexDecision(a attrs) (in trackskills.Input, ignored bool, reject string) {
	decision := strings.ToLower(a.str("decision"))
	if decision != "denied" && decision != "abort" {
		return in, true, ""
	}
	tool := a.str("tool_name")
	if tool == "" {
		return in, false, codexToolDecision + " without tool_name"
	}
	in = trackskills.Input{ToolName: trackskills.CutTo(tool, trackskills.MaxToolName), ToolCategory: codexCategory(tool, ""),
		Status: trackskills.StatusSuccess, Kind: trackskills.KindDenied}
	meta := codexMeta(codexToolDecision, a)
	meta.Add("decision", decision)
	meta.Add("decision_source", a.str("source"))
	switch call, conversation := a.str("call_id"), a.str("conversation.id"); {
	case call != "" && conversation != "":
		in.EventID = claudecode.MarkID(conversation, trackskills.KindDenied, call)
		meta.Add("call_id", call)
	case call == "":
		// A refusal named by its time alone, as a tool_result without a
		// call id is, so that an export sent again stores it once.
		in.EventID = codexRecordID(conversation, codexToolDecision, a.str("event.timestamp"), tool)
	default:
		meta.Add("call_id", call)
	}
	in.Metadata = meta.JSON()
	return in, false, ""
}

// CodexCallID is the event id of the Codex tool call callID in the
// conversation (conversation.id): the same for every export of the call,
// so an export sent again stores nothing twice. The conversation is part
// of it because a model provider other than OpenAI may number its calls
// anew in every conversation.
func CodexCallID(conversation, callID string) string {
	h := sha256.Sum256([]byte(conversation + "\x00" + callID))
	return "cx_" + hex.EncodeToString(h[:12])
}

// codexRecordID is the event id of a Codex record of event that names no
// call: made from its conversation, its time (event.timestamp, to the
// millisecond) and its tool, so that an export sent again maps to the same
// event. "" without the conversation or the time: the server gives the
// event an id of its own.
func codexRecordID(conversation, event, stamp, tool string) string {
	if conversation == "" || stamp == "" {
		return ""
	}
	h := sha256.Sum256([]byte(strings.Join([]string{conversation, event, stamp, tool}, "\x00")))
	return "cx_" + hex.EncodeToString(h[:12])
}
