// Package claudecode maps the JSON that Claude Code hooks send (on stdin to
// a command hook, as the body of an HTTP hook) to Track Skills events. The
// ingest endpoint /api/hooks/claude-code and the `trackskills hook` command
// share it, so both store the same event for the same call. It also edits
// Claude Code's settings.json (Settings), for `trackskills hook install`.
// It depends on nothing beyond the root package: the lean hook binary
// imports it.
//
// The mapping rules: PostToolUse is a success,
// PostToolUseFailure an error (a timeout when the error says it timed out),
// UserPromptExpansion a user-typed /skill, PreToolUse only times calls whose
// Post event lacks duration_ms. tool_input and tool_response are never
// stored: only fields derived from them.
package claudecode

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/trackskills/trackskills"
)

// Hook event names.
const (
	PreToolUse          = "PreToolUse"
	PostToolUse         = "PostToolUse"
	PostToolUseFailure  = "PostToolUseFailure"
	UserPromptExpansion = "UserPromptExpansion"
	UserPromptSubmit    = "UserPromptSubmit"
	Stop                = "Stop"
	StopFailure         = "StopFailure"
	SubagentStart       = "SubagentStart"
	SubagentStop        = "SubagentStop"
	SessionStart        = "SessionStart"
	SessionEnd          = "SessionEnd"
	PermissionDenied    = "PermissionDenied"
)

// markKinds are the session events Map keeps as marks, by hook event name:
// the moments that start and end skill runs.
var markKinds = map[string]string{
	UserPromptSubmit: trackskills.KindPrompt,
	Stop:             trackskills.KindStop,
	StopFailure:      trackskills.KindStopFailure,
	SubagentStart:    trackskills.KindSubagentStart,
	SubagentStop:     trackskills.KindSubagentStop,
	SessionStart:     trackskills.KindSessionStart,
	SessionEnd:       trackskills.KindSessionEnd,
	PermissionDenied: trackskills.KindDenied,
}

// HookEvents are the hook events whose payloads Map turns into events, and
// those the command hook listens to: every tool call and every mark.
var HookEvents = []string{
	PreToolUse, PostToolUse, PostToolUseFailure, UserPromptExpansion, UserPromptSubmit,
	Stop, StopFailure, SubagentStart, SubagentStop, SessionStart, SessionEnd, PermissionDenied,
}

// Categories of the events made from hooks.
const (
	CategorySkill    = "skill"
	CategoryMCP      = "mcp"
	CategorySubagent = "subagent"
	CategoryBuiltin  = "builtin"
)

// Error types of failed calls.
const (
	ErrorExitCode  = "exit_code"
	ErrorInterrupt = "interrupt"
	ErrorMCP       = "mcp_error"
	ErrorTool      = "tool_error"
	ErrorTimeout   = "timeout"
)

// Names Claude Code's telemetry sends in place of a real one unless
// OTEL_LOG_TOOL_DETAILS=1 is set (third-party and custom stay redacted on
// model requests even then).
const (
	RedactedSkill      = "custom_skill" // a user-defined or third-party skill
	RedactedMCPTool    = "mcp_tool"     // a tool of a user-configured MCP server
	RedactedThirdParty = "third-party"  // a third-party plugin's skill, on model requests
	RedactedCustom     = "custom"
)

// IsRedacted reports whether name is one of Claude Code's placeholders.
func IsRedacted(name string) bool {
	switch name {
	case RedactedSkill, RedactedMCPTool, RedactedThirdParty, RedactedCustom:
		return true
	}
	return false
}

// Payload holds the fields of a hook's JSON that the mapping reads. Unknown
// fields are ignored and every field may be missing: the payload grew over
// Claude Code's versions.
type Payload struct {
	HookEventName  string          `json:"hook_event_name"`
	SessionID      string          `json:"session_id"`
	PromptID       string          `json:"prompt_id"`
	PermissionMode string          `json:"permission_mode"`
	AgentID        string          `json:"agent_id"`
	AgentType      string          `json:"agent_type"`
	ToolName       string          `json:"tool_name"`
	ToolUseID      string          `json:"tool_use_id"`
	ToolInput      json.RawMessage `json:"tool_input"`
	ToolResponse   json.RawMessage `json:"tool_response"`
	DurationMs     json.RawMessage `json:"duration_ms"`
	Error          json.RawMessage `json:"error"`
	IsInterrupt    json.RawMessage `json:"is_interrupt"`
	Effort         json.RawMessage `json:"effort"`

	// Session events. Prompt (UserPromptSubmit's prompt) is never read.
	Source string `json:"source"` // SessionStart: startup, resume, clear, compact, fork
	Reason string `json:"reason"` // SessionEnd
	Model  string `json:"model"`  // SessionStart

	// UserPromptExpansion
	ExpansionType string `json:"expansion_type"`
	CommandName   string `json:"command_name"`
	CommandArgs   string `json:"command_args"`
	CommandSource string `json:"command_source"`
}

// ErrMalformed is returned for a body that is not a JSON object.
var ErrMalformed = errors.New("malformed hook payload")

// Parse decodes a hook payload. Anything but a JSON object is ErrMalformed;
// a field of an unexpected JSON type is tolerated where the mapping can do
// without it. Each field is decoded on its own, so that one of an
// unexpected type (a newer Claude Code) does not lose the others.
// ToolInput and ToolResponse hold only their members the mapping reads
// (ParseReader).
func Parse(data []byte) (Payload, error) {
	return ParseReader(bytes.NewReader(data))
}

// Options changes what the mapping keeps.
type Options struct {
	// StoreSkillArgs keeps a skill's arguments (tool_input.args, or the
	// command_args of a /skill) in the metadata. Off by default: they can
	// hold anything the user typed.
	StoreSkillArgs bool
}

// Action says what to do with a payload.
type Action int

const (
	// Ignore: the payload is no tool call that Track Skills counts.
	Ignore Action = iota
	// Start: a PreToolUse; remember when ToolUseID started, to time a Post
	// event that lacks duration_ms.
	Start
	// Track: Input is the event to store.
	Track
)

// Mapping is the result of Map.
type Mapping struct {
	Action Action
	// Input is the event (Action Track). Its DurationMs is empty when the
	// payload had none: the caller may fill it from a PreToolUse time.
	Input trackskills.Input
	// ToolUseID keys the timing of Start and Track.
	ToolUseID string
	// Reason says why a payload is ignored.
	Reason string
}

// Map turns a payload into an event. It is pure: the caller adds identity
// (user_id), timing from PreToolUse and the source.
func Map(p Payload, opt Options) Mapping {
	switch p.HookEventName {
	case PreToolUse:
		if p.ToolUseID == "" {
			return Mapping{Action: Ignore, Reason: "PreToolUse without tool_use_id cannot time anything"}
		}
		return Mapping{Action: Start, ToolUseID: p.ToolUseID}
	case PostToolUse, PostToolUseFailure:
		return mapToolCall(p, opt)
	case UserPromptExpansion:
		return mapExpansion(p, opt)
	case "":
		return Mapping{Action: Ignore, Reason: "no hook_event_name"}
	}
	if kind, ok := markKinds[p.HookEventName]; ok {
		return mapMark(p, kind)
	}
	switch p.HookEventName {
	case "":
		return Mapping{Action: Ignore, Reason: "no hook_event_name"}
	}
	return Mapping{Action: Ignore, Reason: "hook event " + clip(p.HookEventName, 64) + " is not tracked"}
}

func mapToolCall(p Payload, opt Options) Mapping {
	if p.ToolName == "" {
		return Mapping{Action: Ignore, Reason: p.HookEventName + " without tool_name"}
	}
	meta := NewMeta()
	meta.Add("hook_event", p.HookEventName)
	in := trackskills.Input{Status: trackskills.StatusSuccess, SessionID: p.SessionID, AgentID: p.AgentID}
	in.ToolName, in.ToolCategory = p.ToolName, Category(p.ToolName)
	switch in.ToolCategory {
	case CategorySkill:
		in.ToolName = skillName(p)
		meta.Add("tool", p.ToolName)
		if opt.StoreSkillArgs {
			var args struct {
				Args string `json:"args"`
			}
			_ = json.Unmarshal(p.ToolInput, &args)
			meta.Add("skill_args", args.Args)
		}
	case CategoryMCP:
		server, tool := trackskills.SplitMCP(p.ToolName)
		meta.Add("mcp_server", server)
		meta.Add("mcp_tool", tool)
	case CategorySubagent:
		var agent struct {
			SubagentType string `json:"subagent_type"`
		}
		_ = json.Unmarshal(p.ToolInput, &agent)
		meta.Add("subagent_type", agent.SubagentType)
	}
	if p.HookEventName == PostToolUseFailure {
		msg := errorText(p.Error)
		f := Classify(p.ToolName, in.ToolCategory, msg, isTrue(p.IsInterrupt))
		in.Status, in.ErrorType = f.Status, f.ErrorType
		if f.HasCode {
			meta.Add("exit_code", f.ExitCode)
		}
		in.ErrorMessage = CleanMessage(msg)
	}
	if d, ok := durationMs(p.DurationMs); ok {
		in.DurationMs = json.RawMessage(strconv.FormatInt(d, 10))
	}
	id := p.ToolUseID
	if id != "" {
		meta.Add("tool_use_id", id)
		in.EventID = EventID(id)
	}
	meta.Add("prompt_id", p.PromptID)
	meta.Add("permission_mode", p.PermissionMode)
	meta.Add("agent_type", p.AgentType)
	if p.AgentID != "" || p.AgentType != "" {
		meta.Add("in_subagent", true)
	}
	var effort struct {
		Level string `json:"level"`
	}
	if json.Unmarshal(p.Effort, &effort) == nil {
		meta.Add("effort", effort.Level)
	}
	in.Metadata = meta.JSON()
	return Mapping{Action: Track, Input: in, ToolUseID: id}
}

// mapExpansion maps a user-typed /command: a skill (or an MCP prompt) that
// no tool hook sees.
func mapExpansion(p Payload, opt Options) Mapping {
	name := strings.TrimPrefix(strings.TrimSpace(p.CommandName), "/")
	if name == "" {
		return Mapping{Action: Ignore, Reason: "UserPromptExpansion without command_name"}
	}
	in := trackskills.Input{ToolName: name, ToolCategory: CategorySkill, Status: trackskills.StatusSuccess, SessionID: p.SessionID}
	if p.ExpansionType == "mcp_prompt" {
		in.ToolCategory = CategoryMCP
	}
	meta := NewMeta()
	meta.Add("hook_event", p.HookEventName)
	meta.Add("trigger", "user-slash")
	meta.Add("expansion_type", p.ExpansionType)
	meta.Add("command_source", p.CommandSource)
	meta.Add("prompt_id", p.PromptID)
	meta.Add("permission_mode", p.PermissionMode)
	if opt.StoreSkillArgs {
		meta.Add("skill_args", p.CommandArgs)
	}
	in.Metadata = meta.JSON()
	// No tool_use_id. With a prompt_id (Claude Code 2.1.196+) the prompt
	// identifies the expansion, so a retried hook maps to one event; without
	// one, the same /command typed twice must stay two events, so the id is
	// left to the sender.
	if p.PromptID != "" {
		in.EventID = ExpansionID(p.SessionID, p.PromptID, name)
	}
	return Mapping{Action: Track, Input: in}
}

// mapMark maps a session event to a mark of kind: its moment, never a
// prompt's text or a message.
func mapMark(p Payload, kind string) Mapping {
	in := trackskills.Input{
		ToolName: p.HookEventName, ToolCategory: "session", Status: trackskills.StatusSuccess,
		SessionID: p.SessionID, AgentID: p.AgentID, Kind: kind,
	}
	meta := NewMeta()
	meta.Add("hook_event", p.HookEventName)
	meta.Add("prompt_id", p.PromptID)
	switch kind {
	case trackskills.KindStopFailure:
		// error names the API failure: rate_limit, overloaded, server_error...
		in.Status, in.ErrorType = trackskills.StatusError, clip(strings.TrimSpace(errorText(p.Error)), 60)
		if in.ErrorType == "" {
			in.ErrorType = "unknown"
		}
	case trackskills.KindSubagentStart, trackskills.KindSubagentStop:
		if p.AgentType != "" {
			in.ToolName = clip(p.AgentType, 120)
		}
		in.ToolCategory = CategorySubagent
	case trackskills.KindSessionStart:
		meta.Add("source", p.Source)
		meta.Add("model", p.Model)
	case trackskills.KindSessionEnd:
		meta.Add("reason", p.Reason)
	case trackskills.KindDenied:
		if p.ToolName != "" {
			in.ToolName = p.ToolName
			in.ToolCategory = Category(p.ToolName)
		}
	}
	meta.Add("agent_type", p.AgentType)
	in.Metadata = meta.JSON()
	// A retried hook must map to one mark where the payload names its
	// moment: a subagent by its id, a denial by its tool_use_id.
	var key string
	switch {
	case p.AgentID != "" && (kind == trackskills.KindSubagentStart || kind == trackskills.KindSubagentStop):
		key = p.AgentID
	case p.ToolUseID != "" && kind == trackskills.KindDenied:
		key = p.ToolUseID
	}
	if key != "" && p.SessionID != "" {
		in.EventID = MarkID(p.SessionID, kind, key)
	}
	return Mapping{Action: Track, Input: in}
}

// Category is the Track Skills category of a Claude Code tool name.
func Category(tool string) string {
	switch {
	case tool == "Skill":
		return CategorySkill
	case strings.HasPrefix(tool, "mcp__"):
		return CategoryMCP
	case tool == "Agent" || tool == "Task":
		return CategorySubagent
	}
	return CategoryBuiltin
}

// skillName is the skill a Skill call ran: tool_input.skill, else the older
// tool_input.command, else tool_response.commandName.
func skillName(p Payload) string {
	var in struct {
		Skill   any `json:"skill"`
		Command any `json:"command"`
	}
	_ = json.Unmarshal(p.ToolInput, &in)
	for _, v := range []any{in.Skill, in.Command} {
		if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimPrefix(strings.TrimSpace(s), "/")
		}
	}
	var resp struct {
		CommandName any `json:"commandName"`
	}
	_ = json.Unmarshal(p.ToolResponse, &resp)
	if s, ok := resp.CommandName.(string); ok && strings.TrimSpace(s) != "" {
		return strings.TrimPrefix(strings.TrimSpace(s), "/")
	}
	return "Skill"
}

// MarkID is the event id of the mark of kind that key (a subagent's id, a
// denied call's tool_use_id) names in session: every source of the same
// moment makes the same id, so it is stored once.
func MarkID(session, kind, key string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{session, kind, key}, "\x00")))
	return "mk_" + hex.EncodeToString(h[:12])
}

// ExpansionID is the event id of the user-typed /name of the prompt
// promptID in session.
func ExpansionID(session, promptID, name string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{session, promptID, name}, "\x00")))
	return "upe_" + hex.EncodeToString(h[:12])
}

// Failure is how a failed call is stored: its status and error type, and
// the exit code its error text gives, if any.
type Failure struct {
	Status, ErrorType string
	ExitCode          int
	HasCode           bool
}

// Classify reads a failed call of tool (of category) from its error text:
// an interrupt, a timeout, a shell's exit code, an MCP server's error, or
// else a tool error.
func Classify(tool, category, msg string, interrupted bool) Failure {
	f := Failure{Status: trackskills.StatusError, ErrorType: ErrorTool}
	f.ExitCode, f.HasCode = exitCode(msg)
	switch {
	case interrupted:
		f.ErrorType = ErrorInterrupt
	case timedOut(tool, msg):
		f.Status, f.ErrorType = trackskills.StatusTimeout, ErrorTimeout
	case f.HasCode:
		f.ErrorType = ErrorExitCode
	case category == CategoryMCP:
		f.ErrorType = ErrorMCP
	}
	return f
}

// EventID is the event id of a tool call: its tool_use_id when that is a
// valid event id (it always is, "toolu_..."), else a digest of it.
func EventID(toolUseID string) string {
	if trackskills.CheckEventID(toolUseID) == nil {
		return toolUseID
	}
	h := sha256.Sum256([]byte(toolUseID))
	return "tu_" + hex.EncodeToString(h[:16])
}

// timedOut reports whether a failure's text says the call timed out. A
// shell's error holds the command's own output, which may say "timed out"
// about anything: only Claude Code's line ("Command timed out after ...")
// counts there. Other tools' errors are their own words. (No regexp: the
// hook binary starts faster without it.)
func timedOut(tool, msg string) bool {
	if tool == "Bash" || tool == "PowerShell" {
		for line := range strings.SplitSeq(msg, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "Command timed out after") {
				return true
			}
		}
		return false
	}
	return strings.Contains(strings.ToLower(msg), "timed out")
}

// exitCode reads the "Exit code N" first line of a shell's error.
func exitCode(msg string) (int, bool) {
	line, _, _ := strings.Cut(strings.TrimLeft(msg, " \t\r\n"), "\n")
	rest, ok := strings.CutPrefix(line, "Exit code")
	if !ok {
		return 0, false
	}
	rest = strings.TrimPrefix(rest, ":")
	if !strings.HasPrefix(rest, " ") {
		return 0, false
	}
	digits := strings.TrimSpace(rest)
	end := 0
	for end < len(digits) && (digits[end] >= '0' && digits[end] <= '9' || end == 0 && digits[end] == '-') {
		end++
	}
	n, err := strconv.Atoi(digits[:end])
	return n, err == nil
}

// errorText reads the error field: a string, or any other JSON as text.
func errorText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		return obj.Message
	}
	return string(raw)
}

// CleanMessage keeps an error message storable: control characters other
// than newline and tab become spaces, and it is cut to the stored size.
func CleanMessage(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	return trackskills.CutMessage(s)
}

// durationMs reads duration_ms: a JSON number (possibly fractional) or a
// string holding one; negative or absurd values are dropped.
func durationMs(raw json.RawMessage) (int64, bool) {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if f < 0 || f > float64(trackskills.MaxDurationMs) || f != f {
		return 0, false
	}
	return int64(f + 0.5), true
}

func isTrue(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && strings.EqualFold(s, "true")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Meta builds an event's metadata object in a fixed key order, skipping
// empty values and cutting long strings.
type Meta struct {
	keys []string
	vals map[string]any
}

// NewMeta returns an empty metadata object.
func NewMeta() *Meta { return &Meta{vals: map[string]any{}} }

// Add sets key to v, unless v is nil or an empty string; a string is cut
// to 256 bytes.
func (m *Meta) Add(key string, v any) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return
		}
		v = clip(x, 256)
	case nil:
		return
	}
	if _, ok := m.vals[key]; !ok {
		m.keys = append(m.keys, key)
	}
	m.vals[key] = v
}

// JSON is the object, its keys in the order they were first added.
func (m *Meta) JSON() json.RawMessage {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(m.vals[k])
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}
