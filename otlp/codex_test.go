package otlp_test

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/otlp"
)

// The conversation and the account of the Codex fixture.
const (
	codexConversation = "019ad1f2-7c21-7d40-9e5b-3c1d2a4b5c6d"
	codexAccount      = "acct-codex-secret"
)

// codexSecrets are values of the Codex fixture that no event may hold: the
// e-mail address, the prompt, and the tools' arguments and outputs.
var codexSecrets = []string{"bob.codex@example.com", "codex secret prompt", "codex-secret-file", "codex-secret-dir",
	"codex secret title", "codex secret output", "rejected by user", "unsupported call", "Begin Patch"}

// codexFixture reads the Codex export of testdata, written in the shape
// Codex's documentation and its codex-rs/otel crate give: the shared
// fields on every record, numbers and truth values as text.
func codexFixture(t *testing.T) *logspb.LogsData {
	t.Helper()
	return readLogs(t, "testdata/logs/codex.json")
}

// codexWant is what one record of the Codex fixture maps to.
type codexWant struct {
	tool, category, status, errorType, kind, eventID string
	duration                                         string // "" for none
	timestamp                                        int64  // Unix ms: the record's event.timestamp
	meta                                             map[string]any
}

// at is the Unix ms time of the fixture's record n (from 1), which the
// fixture's records are a quarter of a second apart from.
func at(n int64) int64 { return 1764666000000 + n*250 }

var codexWants = []codexWant{
	{tool: "shell", category: "builtin", status: "success", eventID: otlp.CodexCallID(codexConversation, "call_cx1"),
		duration: "41", timestamp: at(6), meta: map[string]any{"call_id": "call_cx1"}},
	{tool: "shell", category: "builtin", status: "success", kind: trackskills.KindDenied,
		eventID: claudecode.MarkID(codexConversation, trackskills.KindDenied, "call_cx2"), timestamp: at(7),
		meta: map[string]any{"decision": "denied", "decision_source": "user", "call_id": "call_cx2"}},
	{tool: "shell", category: "builtin", status: "error", errorType: claudecode.ErrorTool,
		eventID: otlp.CodexCallID(codexConversation, "call_cx2"), duration: "0", timestamp: at(8)},
	{tool: "mcp__github__create_issue", category: "mcp", status: "success", eventID: otlp.CodexCallID(codexConversation, "call_cx3"),
		duration: "630", timestamp: at(9), meta: map[string]any{"mcp_server": "github"}},
	{tool: "mcp__github__get_issue", category: "mcp", status: "error", errorType: claudecode.ErrorMCP,
		eventID: otlp.CodexCallID(codexConversation, "call_cx4"), duration: "120", timestamp: at(10)},
	{tool: "apply_patch", category: "builtin", status: "success", kind: trackskills.KindDenied,
		eventID: claudecode.MarkID(codexConversation, trackskills.KindDenied, "call_cx5"), timestamp: at(11),
		meta: map[string]any{"decision": "abort", "decision_source": "user"}},
	{tool: "apply_patch", category: "builtin", status: "success", eventID: otlp.CodexCallID(codexConversation, "call_cx6"),
		duration: "15", timestamp: at(13)},
	{tool: "unknown_tool", category: "builtin", status: "error", errorType: claudecode.ErrorTool, duration: "0", timestamp: at(14),
		eventID: otlp.CodexRecordID(codexConversation, "codex.tool_result", "2025-12-02T09:00:03.500Z", "unknown_tool")},
}

// Each record of the Codex fixture maps to its event, in JSON and in
// protobuf alike: the tool results are calls, the denied and aborted
// decisions are denied marks, the approvals, the conversation start, the
// prompt, the model request and stream and the websocket request are
// ignored, and the tool result without a name is rejected.
func TestMapLogs_CodexFixture(t *testing.T) {
	for _, tc := range bothEncodings(t, codexFixture(t)) {
		t.Run(tc.name, func(t *testing.T) {
			res := otlp.MapLogs(tc.req, time.Now())
			if res.Ignored != 7 || len(res.Rejected) != 1 || res.Rejected[0] != "codex.tool_result without tool_name" {
				t.Errorf("ignored %d, rejected %q: want 7 ignored and the nameless tool_result rejected", res.Ignored, res.Rejected)
			}
			if len(res.Inputs) != len(codexWants) {
				t.Fatalf("%d events, want %d", len(res.Inputs), len(codexWants))
			}
			for i, w := range codexWants {
				checkCodex(t, res.Inputs[i], w, codexConversation, codexAccount, "0.63.0")
			}
		})
	}
}

// checkCodex checks an event made from a Codex record against w, and that
// it came from the session and the user, in Codex's version.
func checkCodex(t *testing.T, in trackskills.Input, w codexWant, session, user, version string) {
	t.Helper()
	if in.ToolName != w.tool || in.ToolCategory != w.category || in.Status != w.status || in.ErrorType != w.errorType ||
		in.Kind != w.kind || in.EventID != w.eventID || in.Source != trackskills.SourceCodex {
		t.Errorf("got %s/%s %s %q kind %q id %q source %q, want %+v", in.ToolName, in.ToolCategory, in.Status, in.ErrorType,
			in.Kind, in.EventID, in.Source, w)
	}
	if string(in.DurationMs) != w.duration {
		t.Errorf("%s: duration %q, want %q", w.tool, in.DurationMs, w.duration)
	}
	if got := string(in.Timestamp); w.timestamp != 0 && got != strconv.FormatInt(w.timestamp, 10) {
		t.Errorf("%s: timestamp %s, want %d (the record's event.timestamp)", w.tool, got, w.timestamp)
	}
	if in.SessionID != session || in.UserID != user {
		t.Errorf("%s: session %q user %q, want %q and %q: the conversation and the account, for ingest to hash",
			w.tool, in.SessionID, in.UserID, session, user)
	}
	var meta map[string]any
	if err := json.Unmarshal(in.Metadata, &meta); err != nil {
		t.Fatalf("%s: metadata %s: %v", w.tool, in.Metadata, err)
	}
	event := "codex.tool_result"
	if w.kind == trackskills.KindDenied {
		event = "codex.tool_decision"
	}
	want := map[string]any{"coding_agent": otlp.CodexAgent, "otel_event": event, "agent_version": version}
	if version == "" {
		want["agent_version"] = nil
	}
	for k, v := range w.meta {
		want[k] = v
	}
	for k, v := range want {
		if meta[k] != v {
			t.Errorf("%s: metadata %s = %v, want %v (all: %s)", w.tool, k, meta[k], v, in.Metadata)
		}
	}
	checkPrivate(t, in)
}

// checkPrivate fails when the event holds, anywhere, a value of the
// fixture that must never be stored.
func checkPrivate(t *testing.T, in trackskills.Input) {
	t.Helper()
	all, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range codexSecrets {
		if strings.Contains(string(all), secret) {
			t.Errorf("%s: %q copied into the event: %s", in.ToolName, secret, all)
		}
	}
}

// No event made from the Codex fixture holds the e-mail address, the
// prompt, or a tool's arguments or output, though every record sends the
// address and the tool results send the rest.
func TestMapLogs_CodexPrivate(t *testing.T) {
	req := codexFixture(t)
	raw, err := os.ReadFile("testdata/logs/codex.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range codexSecrets {
		if !strings.Contains(string(raw), secret) {
			t.Fatalf("the fixture lacks %q: the test would prove nothing", secret)
		}
	}
	res := otlp.MapLogs(req, time.Now())
	if len(res.Inputs) == 0 {
		t.Fatal("no events")
	}
	for _, in := range res.Inputs {
		checkPrivate(t, in)
		for _, key := range []string{"arguments", "output", "prompt", "email", "user.email"} {
			if strings.Contains(string(in.Metadata), `"`+key+`"`) {
				t.Errorf("%s: metadata has %q: %s", in.ToolName, key, in.Metadata)
			}
		}
	}
}

// An export sent again maps to the same event ids: nothing is stored twice.
func TestMapLogs_CodexRetriedExport(t *testing.T) {
	first := otlp.MapLogs(codexFixture(t), time.Now())
	again := otlp.MapLogs(codexFixture(t), time.Now().Add(time.Hour))
	seen := map[string]bool{}
	for i, in := range first.Inputs {
		if in.EventID == "" || in.EventID != again.Inputs[i].EventID {
			t.Errorf("%s: id %q, then %q: want one id, the same each time", in.ToolName, in.EventID, again.Inputs[i].EventID)
		}
		if err := trackskills.CheckEventID(in.EventID); err != nil {
			t.Errorf("%s: id %q: %v", in.ToolName, in.EventID, err)
		}
		if seen[in.EventID] {
			t.Errorf("%s: id %q is another event's too", in.ToolName, in.EventID)
		}
		seen[in.EventID] = true
	}
}

// codexRecord is an export of one Codex record with the attributes
// key, value, key, value... (strings), and the record's event name in
// eventName (the LogRecord field) when not empty.
func codexRecord(eventName string, kvs ...string) *logspb.LogsData {
	rec := &logspb.LogRecord{EventName: eventName, TimeUnixNano: uint64(time.UnixMilli(1764666000000).UnixNano())}
	for i := 0; i+1 < len(kvs); i += 2 {
		rec.Attributes = append(rec.Attributes, &commonpb.KeyValue{Key: kvs[i],
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: kvs[i+1]}}})
	}
	return &logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{rec}}}}}}
}

// One record at a time: the cases the fixture does not hold.
func TestMapLogs_CodexRecords(t *testing.T) {
	for _, tc := range []struct {
		name          string
		req           *logspb.LogsData
		ignored       bool
		reject        string
		want          codexWant
		session, user string
		noMeta        []string // metadata keys that must be absent
	}{
		{name: "an MCP tool Codex names by its server only",
			req: codexRecord("", "event.name", "codex.tool_result", "tool_name", "create_issue", "mcp_server", "github",
				"call_id", "c1", "conversation.id", "conv"),
			want:    codexWant{tool: "create_issue", category: "mcp", status: "success", eventID: otlp.CodexCallID("conv", "c1"), meta: map[string]any{"mcp_server": "github"}},
			session: "conv"},
		{name: "the event name in the record's event_name",
			req:     codexRecord("codex.tool_result", "tool_name", "shell", "call_id", "c2", "conversation.id", "conv", "success", "false"),
			want:    codexWant{tool: "shell", category: "builtin", status: "error", errorType: claudecode.ErrorTool, eventID: otlp.CodexCallID("conv", "c2")},
			session: "conv"},
		{name: "no user but an e-mail address: no user",
			req: codexRecord("", "event.name", "codex.tool_result", "tool_name", "shell", "call_id", "c3",
				"user.email", "bob.codex@example.com", "user.id", "not-codex", "user.account_uuid", "not-codex-either"),
			want:   codexWant{tool: "shell", category: "builtin", status: "success", eventID: otlp.CodexCallID("", "c3")},
			noMeta: []string{"user.email", "email"}},
		{name: "no success: a success",
			req:  codexRecord("", "event.name", "codex.tool_result", "tool_name", "shell", "user.account_id", "acct"),
			want: codexWant{tool: "shell", category: "builtin", status: "success"}, user: "acct"},
		{name: "a duration past the contract's is dropped",
			req:  codexRecord("", "event.name", "codex.tool_result", "tool_name", "shell", "duration_ms", "90000000"),
			want: codexWant{tool: "shell", category: "builtin", status: "success"}},
		{name: "the decision in capitals",
			req: codexRecord("", "event.name", "codex.tool_decision", "tool_name", "mcp__github__delete_repo", "call_id", "c4",
				"decision", "Denied", "source", "config", "conversation.id", "conv"),
			want: codexWant{tool: "mcp__github__delete_repo", category: "mcp", status: "success", kind: trackskills.KindDenied,
				eventID: claudecode.MarkID("conv", trackskills.KindDenied, "c4"),
				meta:    map[string]any{"decision": "denied", "decision_source": "config"}},
			session: "conv"},
		{name: "a denial without a conversation has no id of its own",
			req:  codexRecord("", "event.name", "codex.tool_decision", "tool_name", "shell", "call_id", "c5", "decision", "denied"),
			want: codexWant{tool: "shell", category: "builtin", status: "success", kind: trackskills.KindDenied}},
		{name: "a denial without a call id is named by its time",
			req: codexRecord("", "event.name", "codex.tool_decision", "tool_name", "shell", "decision", "abort",
				"conversation.id", "conv", "event.timestamp", "2025-12-02T09:00:04.250Z"),
			want: codexWant{tool: "shell", category: "builtin", status: "success", kind: trackskills.KindDenied,
				eventID: otlp.CodexRecordID("conv", "codex.tool_decision", "2025-12-02T09:00:04.250Z", "shell")},
			session: "conv"},
		{name: "an approval is ignored",
			req:     codexRecord("", "event.name", "codex.tool_decision", "tool_name", "shell", "decision", "approved"),
			ignored: true},
		{name: "a decision without a tool is rejected",
			req:    codexRecord("", "event.name", "codex.tool_decision", "decision", "abort", "call_id", "c6"),
			reject: "codex.tool_decision without tool_name"},
		{name: "a model request is ignored",
			req:     codexRecord("", "event.name", "codex.api_request", "attempt", "1", "duration_ms", "700", "http.response.status_code", "200"),
			ignored: true},
		{name: "an unknown Codex event is ignored",
			req:     codexRecord("", "event.name", "codex.turn_ttft", "duration_ms", "300"),
			ignored: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := otlp.MapLogs(tc.req, time.Now())
			switch {
			case tc.ignored:
				if res.Ignored != 1 || len(res.Inputs) != 0 || len(res.Rejected) != 0 {
					t.Errorf("%+v, want it ignored", res)
				}
				return
			case tc.reject != "":
				if len(res.Rejected) != 1 || res.Rejected[0] != tc.reject || len(res.Inputs) != 0 {
					t.Errorf("%+v, want it rejected: %s", res, tc.reject)
				}
				return
			}
			if len(res.Inputs) != 1 {
				t.Fatalf("%+v, want one event", res)
			}
			checkCodex(t, res.Inputs[0], tc.want, tc.session, tc.user, "")
			for _, k := range tc.noMeta {
				if strings.Contains(string(res.Inputs[0].Metadata), `"`+k+`"`) {
					t.Errorf("metadata has %q: %s", k, res.Inputs[0].Metadata)
				}
			}
		})
	}
}

// A Codex record and a Claude Code record of the same export map each by
// its own rules: Claude Code's event names no agent, as before.
func TestMapLogs_CodexBesideClaudeCode(t *testing.T) {
	req := codexFixture(t)
	req.ResourceLogs = append(req.ResourceLogs, fixture(t).ResourceLogs...)
	res := otlp.MapLogs(req, time.Now())
	if len(res.Inputs) != len(codexWants)+len(fixtureWants) || res.Ignored != 7+3 || len(res.Rejected) != 2 {
		t.Fatalf("%d events, %d ignored, %d rejected", len(res.Inputs), res.Ignored, len(res.Rejected))
	}
	for i, w := range fixtureWants {
		in := res.Inputs[len(codexWants)+i]
		checkInput(t, in, w)
		if strings.Contains(string(in.Metadata), "coding_agent") {
			t.Errorf("%s: Claude Code's event names an agent: %s", in.ToolName, in.Metadata)
		}
	}
}
