package trackskills

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the event contract (docs/CONTRACT.md, The event).
const (
	MaxToolName     = 128  // characters
	MaxCategory     = 64   // characters
	MaxErrorType    = 64   // characters
	MaxErrorMessage = 2048 // bytes; longer messages are cut, not rejected
	MaxMetadata     = 8192 // bytes of compact JSON
	MaxIdentity     = 256  // characters of user_id or session_id
	MaxEventID      = 64   // characters of [A-Za-z0-9_-]
	MaxDurationMs   = 86_400_000
	MaxPast         = 7 * 24 * time.Hour
	MaxImportPast   = 365 * 24 * time.Hour // of an event from source import: history, such as a transcript's
	MaxFuture       = 5 * time.Minute
	DefaultCategory = "default"
	DefaultSource   = "api"
	SourceImport    = "import" // history imported after the fact (transcripts): older timestamps are taken
	SourceCodex     = "codex"  // OpenAI Codex's OpenTelemetry export: the agent, apart from Claude Code's otlp
)

// CutMarker ends an error message that was cut to MaxErrorMessage bytes.
const CutMarker = "… [cut]"

// Statuses an event may have.
const (
	StatusSuccess = "success"
	StatusError   = "error"
	StatusTimeout = "timeout"
)

// Kinds of event. A tool call has no kind (""); every other kind is a mark
// of a session's life (a prompt, a stop, a subagent) or an entry of the
// skill inventory. Marks and inventory entries travel on the stream like
// tool calls, but they are not tool calls: nothing counts them as
// invocations (docs/CONTRACT.md, Kinds).
const (
	KindPrompt        = "prompt"         // the user sent a prompt (never its text)
	KindStop          = "stop"           // the agent finished its turn
	KindStopFailure   = "stop_failure"   // the turn ended on an API error
	KindSubagentStart = "subagent_start" // a subagent started (agent_id)
	KindSubagentStop  = "subagent_stop"  // a subagent finished (agent_id)
	KindSessionStart  = "session_start"  // a session started, resumed or was cleared
	KindSessionEnd    = "session_end"    // a session ended
	KindDenied        = "denied"         // a tool call was denied before it ran
	KindSkillKnown    = "skill_known"    // a skill installed where a scan looked
	KindMCPKnown      = "mcp_known"      // an MCP server configured where a scan looked
	KindAPIRequest    = "api_request"    // a model request, with its cost and tokens (telemetry, transcripts)
	KindPluginKnown   = "plugin_known"   // a plugin Claude Code loaded (telemetry's plugin_loaded)
)

// Kinds names the accepted values of the kind field, besides "" (a tool
// call).
var Kinds = []string{
	KindPrompt, KindStop, KindStopFailure, KindSubagentStart, KindSubagentStop,
	KindSessionStart, KindSessionEnd, KindDenied, KindSkillKnown, KindMCPKnown, KindAPIRequest, KindPluginKnown,
}

// APIMeta is the metadata of an api_request event: the request's cost, its
// tokens and what Claude Code attributed it to (empty for nothing).
type APIMeta struct {
	Model               string `json:"model,omitempty"`
	CostMicros          int64  `json:"cost_usd_micros"` // US dollars x 1,000,000
	InputTokens         int64  `json:"input_tokens"`
	OutputTokens        int64  `json:"output_tokens"`
	CacheReadTokens     int64  `json:"cache_read_tokens"`
	CacheCreationTokens int64  `json:"cache_creation_tokens"`
	Skill               string `json:"skill,omitempty"`
	Plugin              string `json:"plugin,omitempty"`
	Agent               string `json:"agent,omitempty"`
	MCPServer           string `json:"mcp_server,omitempty"`
	MCPTool             string `json:"mcp_tool,omitempty"`
	RequestID           string `json:"request_id,omitempty"`
	QuerySource         string `json:"query_source,omitempty"`
}

// PluginMeta is the metadata of a plugin_known event: what Claude Code
// reported of a plugin it loaded.
type PluginMeta struct {
	Scope      string `json:"scope,omitempty"`       // user, project, managed...
	EnabledVia string `json:"enabled_via,omitempty"` // how it was enabled (a setting, a policy)
	Skills     int64  `json:"skills"`                // skill folders it brings
	Commands   int64  `json:"commands"`              // command folders
	HasHooks   bool   `json:"has_hooks"`
	HasMCP     bool   `json:"has_mcp"`
}

// InRuns reports whether events of kind are part of a session's work, over
// which skill runs are walked: tool calls and session marks are; inventory
// entries and model requests are not.
func InRuns(kind string) bool {
	return kind != KindSkillKnown && kind != KindMCPKnown && kind != KindAPIRequest && kind != KindPluginKnown
}

// Sources names the accepted values of the source field.
var Sources = []string{"api", "hook", "bash", "js", "go", "otlp", "import", "codex"} // append only: call_sources keeps a bit per place

// Input is an event as a client sends it, before validation.
type Input struct {
	ToolName          string          `json:"tool_name"`
	ToolCategory      string          `json:"tool_category"`
	Status            string          `json:"status"`
	DurationMs        json.RawMessage `json:"duration_ms"`
	ErrorType         string          `json:"error_type"`
	ErrorMessage      string          `json:"error_message"`
	Metadata          json.RawMessage `json:"metadata"`
	RequestSizeBytes  json.RawMessage `json:"request_size_bytes"`
	ResponseSizeBytes json.RawMessage `json:"response_size_bytes"`
	EventID           string          `json:"event_id"`
	Timestamp         json.RawMessage `json:"timestamp"`
	UserID            string          `json:"user_id"`
	SessionID         string          `json:"session_id"`
	Source            string          `json:"source"`
	Kind              string          `json:"kind"`
	AgentID           string          `json:"agent_id"`
}

// IdentityHashLen is the length of an identity hash (user_hash,
// session_hash) on the stream: 128 bits in lower-case hex, as ingest makes
// them.
const IdentityHashLen = 32

// IsIdentityHash reports whether s has the form of an identity hash:
// IdentityHashLen lower-case hex characters.
func IsIdentityHash(s string) bool {
	if len(s) != IdentityHashLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Event is a validated event as it travels on the stream and is stored.
// It holds hashes of identities, never the identities themselves.
type Event struct {
	EventID           string          `json:"event_id"`
	ToolName          string          `json:"tool_name"`
	ToolCategory      string          `json:"tool_category"`
	Status            string          `json:"status"`
	DurationMs        *int64          `json:"duration_ms,omitempty"`
	ErrorType         string          `json:"error_type,omitempty"`
	ErrorMessage      string          `json:"error_message,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	RequestSizeBytes  *int64          `json:"request_size_bytes,omitempty"`
	ResponseSizeBytes *int64          `json:"response_size_bytes,omitempty"`
	Timestamp         int64           `json:"timestamp"`   // Unix ms, when the call happened
	ReceivedAt        int64           `json:"received_at"` // Unix ms, when ingest received it
	UserHash          string          `json:"user_hash"`
	SessionHash       string          `json:"session_hash,omitempty"`
	Source            string          `json:"source"`
	Kind              string          `json:"kind,omitempty"`       // "" for a tool call (Kinds)
	AgentHash         string          `json:"agent_hash,omitempty"` // the subagent's id, hashed like a session
	MCPServer         string          `json:"mcp_server,omitempty"` // of an mcp__<server>__<tool> name
	MCPTool           string          `json:"mcp_tool,omitempty"`

	// StreamSeq is the stream sequence of the message that carried the
	// event; the consumer sets it, it is not part of the payload.
	StreamSeq uint64 `json:"-"`
}

// DecodeInput parses one JSON event. A body that is not a JSON object, or a
// field of the wrong JSON type, is a *FieldError.
func DecodeInput(data []byte) (Input, error) {
	var in Input
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return in, fieldErr("", "body is empty: send a JSON object with tool_name and status")
	}
	if data[0] != '{' {
		return in, fieldErr("", "body must be a JSON object, such as {\"tool_name\":\"my_skill\",\"status\":\"success\"}")
	}
	// Most events are plain: decode them in one pass. Anything the fast
	// path is unsure of, and every error, goes to encoding/json, which
	// stays the reference for what is accepted and for the messages.
	if decodeInputFast(data, &in) {
		return in, nil
	}
	return decodeInputJSON(data)
}

// decodeInputJSON is DecodeInput by encoding/json, for an object. It is a
// function of its own so that its Input, which escapes, is allocated only
// when it runs.
func decodeInputJSON(data []byte) (Input, error) {
	var in Input
	if err := json.Unmarshal(data, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return in, fieldErr(te.Field, "must be a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return in, fieldErr("", "body is not valid JSON (at byte %d): %s", se.Offset, se.Error())
		}
		return in, fieldErr("", "body is not valid JSON: %s", err.Error())
	}
	return in, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "slice":
		return "array"
	case "struct", "map":
		return "object"
	}
	return goKind
}

// Validate checks every rule of the event (docs/CONTRACT.md, The event)
// and returns the event to publish. It leaves EventID, UserHash and
// SessionHash for the caller, which knows the hash key and the client;
// ReceivedAt is now.
func (in *Input) Validate(now time.Time) (Event, error) {
	ev := Event{
		ToolName:     in.ToolName,
		ToolCategory: in.ToolCategory,
		Status:       in.Status,
		ErrorType:    in.ErrorType,
		Source:       in.Source,
		Kind:         in.Kind,
		ReceivedAt:   now.UnixMilli(),
	}
	if in.ToolName == "" {
		return ev, fieldErr("tool_name", "is required: the name of the skill or tool, 1-128 characters")
	}
	if err := checkText("tool_name", in.ToolName, MaxToolName); err != nil {
		return ev, err
	}
	if ev.ToolCategory == "" {
		ev.ToolCategory = DefaultCategory
	} else if err := checkText("tool_category", in.ToolCategory, MaxCategory); err != nil {
		return ev, err
	}
	switch in.Status {
	case StatusSuccess, StatusError, StatusTimeout:
	case "":
		return ev, fieldErr("status", "is required: one of success, error, timeout")
	default:
		return ev, fieldErr("status", "must be one of success, error, timeout, not %q", clip(in.Status))
	}
	var err error
	if ev.DurationMs, err = optInt("duration_ms", in.DurationMs, MaxDurationMs, true); err != nil {
		return ev, err
	}
	if in.ErrorType != "" {
		if err := checkText("error_type", in.ErrorType, MaxErrorType); err != nil {
			return ev, err
		}
	}
	ev.ErrorMessage = CutMessage(in.ErrorMessage)
	if ev.Metadata, err = normMetadata(in.Metadata); err != nil {
		return ev, err
	}
	if ev.RequestSizeBytes, err = optInt("request_size_bytes", in.RequestSizeBytes, math.MaxInt64, false); err != nil {
		return ev, err
	}
	if ev.ResponseSizeBytes, err = optInt("response_size_bytes", in.ResponseSizeBytes, math.MaxInt64, false); err != nil {
		return ev, err
	}
	if in.EventID != "" {
		if err := CheckEventID(in.EventID); err != nil {
			return ev, err
		}
		ev.EventID = in.EventID
	}
	maxPast := MaxPast
	if in.Source == SourceImport {
		maxPast = MaxImportPast
	}
	if ev.Timestamp, err = parseTimestamp(in.Timestamp, now, maxPast); err != nil {
		return ev, err
	}
	if utf8.RuneCountInString(in.UserID) > MaxIdentity {
		return ev, fieldErr("user_id", "is longer than %d characters", MaxIdentity)
	}
	if utf8.RuneCountInString(in.SessionID) > MaxIdentity {
		return ev, fieldErr("session_id", "is longer than %d characters", MaxIdentity)
	}
	if utf8.RuneCountInString(in.AgentID) > MaxIdentity {
		return ev, fieldErr("agent_id", "is longer than %d characters", MaxIdentity)
	}
	if ev.Source == "" {
		ev.Source = DefaultSource
	} else if !validSource(ev.Source) {
		return ev, fieldErr("source", "must be one of %s, not %q", strings.Join(Sources, ", "), clip(ev.Source))
	}
	if ev.Kind != "" && !slices.Contains(Kinds, ev.Kind) {
		return ev, fieldErr("kind", "must be absent for a tool call, or one of %s, not %q", strings.Join(Kinds, ", "), clip(ev.Kind))
	}
	if ev.Kind == "" {
		ev.MCPServer, ev.MCPTool = SplitMCP(ev.ToolName)
	}
	if ev.Kind == KindAPIRequest {
		if err := checkAPIMeta(ev.Metadata); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// Bounds of an api_request's figures: a million dollars, ten billion
// tokens. The ledger sums them; past these a sum could overflow.
const (
	MaxCostMicros = 1_000_000_000_000
	MaxTokens     = 10_000_000_000
)

// checkAPIMeta checks the metadata of an api_request: an APIMeta whose
// figures are whole numbers from 0 to their bound.
func checkAPIMeta(raw json.RawMessage) error {
	var m APIMeta
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return fieldErr("metadata", "of an api_request must hold whole numbers cost_usd_micros and *_tokens, and strings: %v", err)
		}
	}
	if m.CostMicros < 0 || m.CostMicros > MaxCostMicros {
		return fieldErr("metadata", "cost_usd_micros of an api_request must be 0 to %d, not %d", int64(MaxCostMicros), m.CostMicros)
	}
	for _, t := range []struct {
		name string
		n    int64
	}{{"input_tokens", m.InputTokens}, {"output_tokens", m.OutputTokens}, {"cache_read_tokens", m.CacheReadTokens},
		{"cache_creation_tokens", m.CacheCreationTokens}} {
		if t.n < 0 || t.n > MaxTokens {
			return fieldErr("metadata", "%s of an api_request must be 0 to %d, not %d", t.name, int64(MaxTokens), t.n)
		}
	}
	return nil
}

// SplitMCP splits an MCP tool name, mcp__<server>__<tool>, into its server
// and tool, on the first "__" and the last: server names may hold "_", "-"
// and "__" too. A name without the prefix is no MCP tool (both empty); one
// without a second "__" is a server with no tool named.
func SplitMCP(name string) (server, tool string) {
	rest, ok := strings.CutPrefix(name, "mcp__")
	if !ok || rest == "" {
		return "", ""
	}
	i := strings.LastIndex(rest, "__")
	if i <= 0 {
		return rest, ""
	}
	return rest[:i], rest[i+2:]
}

func validSource(s string) bool {
	for _, v := range Sources {
		if s == v {
			return true
		}
	}
	return false
}

// CheckEventID reports whether id is 1-64 characters of [A-Za-z0-9_-].
func CheckEventID(id string) error {
	if id == "" || len(id) > MaxEventID {
		return fieldErr("event_id", "must be 1-%d characters of A-Z, a-z, 0-9, _ and -", MaxEventID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fieldErr("event_id", "must be 1-%d characters of A-Z, a-z, 0-9, _ and -; found %q", MaxEventID, string(rune(c)))
		}
	}
	return nil
}

// checkText enforces a length in characters and the absence of control
// characters, which would break logs, CSV export and the dashboard.
func checkText(field, s string, max int) error {
	if n := utf8.RuneCountInString(s); n > max {
		return fieldErr(field, "is %d characters long; the limit is %d", n, max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return fieldErr(field, "must not contain control characters (found U+%04X)", r)
		}
	}
	return nil
}

// CutMessage cuts an error message longer than MaxErrorMessage bytes at a
// character boundary and marks it as cut.
func CutMessage(s string) string {
	if len(s) <= MaxErrorMessage {
		return s
	}
	n := MaxErrorMessage - len(CutMarker)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + CutMarker
}

// CutTo cuts s to at most n bytes, on a rune boundary: a name made from a
// field that may be longer than the event allows.
func CutTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Clip shortens a bad value quoted back in an error message: at most 40
// bytes, cut on a rune boundary.
func Clip(s string) string { return clip(s) }

// clip shortens a bad value quoted back in an error message.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	n := 40
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// optInt parses an optional JSON integer in [0, max]. Fractions are rounded
// when allowFraction is set (durations measured with performance.now()).
func optInt(field string, raw json.RawMessage, max int64, allowFraction bool) (*int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		return nil, fieldErr(field, "must be a number, not a string")
	}
	s := string(raw)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fieldErr(field, "must be a number")
		}
		if f != math.Trunc(f) && !allowFraction {
			return nil, fieldErr(field, "must be a whole number, not %s", s)
		}
		if f < 0 || f > float64(max) || f >= 1<<63 { // int64(f) is undefined from 2^63
			return nil, fieldErr(field, "must be between 0 and %d, not %s", max, s)
		}
		n = int64(math.Round(f))
	}
	if n < 0 || n > max {
		return nil, fieldErr(field, "must be between 0 and %d, not %d", max, n)
	}
	return &n, nil
}

// normMetadata accepts an object, or a string that holds one (the seed sends
// JSON.stringify output), and returns it as compact JSON.
func normMetadata(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	obj := []byte(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fieldErr("metadata", "must be a JSON object or a string holding one")
		}
		obj = bytes.TrimSpace([]byte(s))
		if len(obj) == 0 {
			return nil, nil
		}
		if !json.Valid(obj) {
			return nil, fieldErr("metadata", "is a string that does not hold valid JSON; send an object or JSON.stringify(object)")
		}
	}
	if obj[0] != '{' {
		return nil, fieldErr("metadata", "must be a JSON object (or a string holding one), not %s", jsonTypeOf(obj[0]))
	}
	if !utf8.Valid(obj) {
		// encoding/json does the same to every other string of the event.
		obj = bytes.ToValidUTF8(obj, []byte(string(utf8.RuneError)))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, obj); err != nil {
		return nil, fieldErr("metadata", "is not valid JSON")
	}
	if buf.Len() > MaxMetadata {
		return nil, fieldErr("metadata", "is %d bytes once serialised; the limit is %d", buf.Len(), MaxMetadata)
	}
	return buf.Bytes(), nil
}

func jsonTypeOf(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// Accepted timestamp layouts, besides Unix milliseconds.
var tsLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05"}

func parseTimestamp(raw json.RawMessage, now time.Time, maxPast time.Duration) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return now.UnixMilli(), nil
	}
	var t time.Time
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fieldErr("timestamp", "must be an RFC 3339 string or Unix milliseconds")
		}
		ok := false
		for _, layout := range tsLayouts {
			if p, err := time.Parse(layout, s); err == nil {
				t, ok = p, true
				break
			}
		}
		if !ok {
			return 0, fieldErr("timestamp", "must be RFC 3339 (2026-02-09T21:30:00Z) or Unix milliseconds, not %q", clip(s))
		}
	} else {
		ms, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) || math.Abs(ms) > 1e15 {
			return 0, fieldErr("timestamp", "must be an RFC 3339 string or Unix milliseconds")
		}
		t = time.UnixMilli(int64(ms))
	}
	if t.Before(now.Add(-maxPast)) {
		return 0, fieldErr("timestamp", "is more than %d days in the past (Unix milliseconds or RFC 3339 expected)", int(maxPast/(24*time.Hour)))
	}
	if t.After(now.Add(MaxFuture)) {
		return 0, fieldErr("timestamp", "is more than 5 minutes in the future; check the client's clock")
	}
	return t.UnixMilli(), nil
}
