package otlp_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/otlp"
)

// fixture reads the Claude Code export of testdata, built from the
// documented wire shape: identity on every record, values of every kind.
func fixture(t *testing.T) *logspb.LogsData {
	t.Helper()
	return readLogs(t, "testdata/logs/claude_code.json")
}

// readLogs decodes one OTLP/JSON logs export of testdata.
func readLogs(t *testing.T, path string) *logspb.LogsData {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	req, err := otlp.DecodeLogs(body, otlp.JSON)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// logsEncoding is a logs export as one of OTLP's encodings decodes it.
type logsEncoding struct {
	name string
	req  *logspb.LogsData
}

// bothEncodings is jsonReq, decoded from JSON, beside the same export sent
// as protobuf and decoded again: a mapping test runs on each.
func bothEncodings(t *testing.T, jsonReq *logspb.LogsData) []logsEncoding {
	t.Helper()
	pb, err := proto.Marshal(jsonReq)
	if err != nil {
		t.Fatal(err)
	}
	pbReq, err := otlp.DecodeLogs(pb, otlp.Protobuf)
	if err != nil {
		t.Fatal(err)
	}
	return []logsEncoding{{"json", jsonReq}, {"protobuf", pbReq}}
}

// want is what one record of the fixture maps to.
type want struct {
	tool, category, status, errorType, kind, eventID string
	duration                                         string // "" for none
	meta                                             map[string]any
}

var fixtureWants = []want{
	{tool: "Bash", category: "builtin", status: "success", eventID: "toolu_01Bash", duration: "52",
		meta: map[string]any{"decision_source": "config", "prompt_id": "prompt-1"}},
	{tool: "Bash", category: "builtin", status: "error", errorType: claudecode.ErrorExitCode, eventID: "toolu_02Fail", duration: "310",
		meta: map[string]any{"exit_code": float64(2), "otel_error_type": "ShellError"}},
	{tool: "Bash", category: "builtin", status: "timeout", errorType: claudecode.ErrorTimeout, eventID: "toolu_03Time"},
	{tool: otlp.RedactedSkill, category: "skill", status: "success", eventID: "toolu_04Skill", duration: "900",
		meta: map[string]any{"redacted": true, "tool": "Skill"}},
	{tool: "pdf-report", category: "skill", status: "success", eventID: "toolu_05Skill", duration: "1500"},
	{tool: otlp.RedactedMCPTool, category: "mcp", status: "success", eventID: "toolu_06Mcp", duration: "75",
		meta: map[string]any{"redacted": true, "mcp_server_scope": "user"}},
	{tool: "mcp__github__create_issue", category: "mcp", status: "success", eventID: "toolu_07Mcp", duration: "640"},
	{tool: "Write", category: "builtin", status: "success", kind: trackskills.KindDenied,
		eventID: claudecode.MarkID("sess-otlp-1", trackskills.KindDenied, "toolu_08Deny"),
		meta:    map[string]any{"decision_source": "user_reject"}},
	{tool: "review", category: "skill", status: "success", eventID: claudecode.ExpansionID("sess-otlp-1", "prompt-2", "review"),
		meta: map[string]any{"trigger": "user-slash", "skill_source": "userSettings"}},
	{tool: "Explore", category: "subagent", status: "success", kind: trackskills.KindSubagentStop, duration: "45000",
		eventID: otlp.RecordID("sess-otlp-1", "subagent_completed", "12"),
		meta:    map[string]any{"total_tool_uses": float64(12), "is_async": false}},
	{tool: "claude-sonnet-4-5", category: "api", status: "success", kind: trackskills.KindAPIRequest,
		eventID: otlp.APIRequestID("req_011", false), duration: "2100",
		meta: map[string]any{"cost_usd_micros": float64(12300), "input_tokens": float64(1200), "output_tokens": float64(340),
			"cache_read_tokens": float64(5000), "skill": "pdf-report"}},
	{tool: "claude-sonnet-4-5", category: "api", status: "success", kind: trackskills.KindAPIRequest,
		eventID: otlp.APIRequestID("req_012", false),
		meta:    map[string]any{"cost_usd_micros": float64(5000), "input_tokens": float64(800), "output_tokens": float64(120), "skill": "third-party", "mcp_server": "github"}},
	{tool: "claude-opus-4-1", category: "api", status: "error", errorType: "http_529", kind: trackskills.KindAPIRequest,
		eventID: otlp.APIRequestID("creq_1", true), duration: "12000"},
	{tool: "Read", category: "builtin", status: "success", eventID: "toolu_18Read", duration: "3"},
	{tool: "acme-tools", category: "plugin", status: "success", kind: trackskills.KindPluginKnown,
		eventID: claudecode.MarkID("sess-otlp-1", trackskills.KindPluginKnown, "acme-tools"),
		meta:    map[string]any{"scope": "user", "enabled_via": "settings", "skills": float64(3), "commands": float64(1), "has_hooks": true, "has_mcp": false}},
}

// Each record of the fixture maps to its event, in JSON and in protobuf
// alike; the tool_decision accept, the skill Claude invoked and the prompt
// are ignored, and the tool_result without a name is rejected.
func TestMapLogs_Fixture(t *testing.T) {
	for _, tc := range bothEncodings(t, fixture(t)) {
		t.Run(tc.name, func(t *testing.T) {
			res := otlp.MapLogs(tc.req, time.Now())
			if res.Ignored != 3 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0], "without tool_name") {
				t.Errorf("ignored %d, rejected %q: want 3 ignored and the nameless tool_result rejected", res.Ignored, res.Rejected)
			}
			if len(res.Inputs) != len(fixtureWants) {
				t.Fatalf("%d events, want %d", len(res.Inputs), len(fixtureWants))
			}
			for i, w := range fixtureWants {
				checkInput(t, res.Inputs[i], w)
			}
		})
	}
}

func checkInput(t *testing.T, in trackskills.Input, w want) {
	t.Helper()
	if in.ToolName != w.tool || in.ToolCategory != w.category || in.Status != w.status || in.ErrorType != w.errorType ||
		in.Kind != w.kind || in.EventID != w.eventID || in.Source != otlp.Source {
		t.Errorf("got %s/%s %s %q kind %q id %q source %q, want %+v", in.ToolName, in.ToolCategory, in.Status, in.ErrorType,
			in.Kind, in.EventID, in.Source, w)
	}
	if string(in.DurationMs) != w.duration {
		t.Errorf("%s: duration %q, want %q", w.tool, in.DurationMs, w.duration)
	}
	if in.SessionID != "sess-otlp-1" || in.UserID != "acct-uuid-secret" {
		t.Errorf("%s: session %q user %q: want the session id and the account uuid, for ingest to hash", w.tool, in.SessionID, in.UserID)
	}
	if string(in.Timestamp) == "" {
		t.Errorf("%s: no timestamp", w.tool)
	}
	var meta map[string]any
	if err := json.Unmarshal(in.Metadata, &meta); err != nil {
		t.Fatalf("%s: metadata %s: %v", w.tool, in.Metadata, err)
	}
	for k, v := range w.meta {
		if meta[k] != v {
			t.Errorf("%s: metadata %s = %v, want %v (all: %s)", w.tool, k, meta[k], v, in.Metadata)
		}
	}
	for _, secret := range []string{"alice.otlp@example.com", "secret-file", "secret prompt", "install-otlp-secret"} {
		if strings.Contains(string(in.Metadata), secret) || strings.Contains(in.ErrorMessage, secret) {
			t.Errorf("%s: %q copied into the event: %s", w.tool, secret, in.Metadata)
		}
	}
}

// The records' time is their timeUnixNano, else event.timestamp, else
// their observed time.
func TestMapLogs_Time(t *testing.T) {
	req := fixture(t)
	recs := req.ResourceLogs[0].ScopeLogs[0].LogRecords
	first := recs[0]
	first.TimeUnixNano = 0
	second := recs[1]
	second.TimeUnixNano = 0
	for i, a := range second.Attributes {
		if a.Key == "event.timestamp" {
			second.Attributes = append(second.Attributes[:i], second.Attributes[i+1:]...)
			break
		}
	}
	res := otlp.MapLogs(req, time.Now())
	if got := string(res.Inputs[0].Timestamp); got != "1764547201000" {
		t.Errorf("from event.timestamp: %s, want 1764547201000", got)
	}
	if got := string(res.Inputs[1].Timestamp); got != "1764547202005" {
		t.Errorf("from the observed time: %s, want 1764547202005", got)
	}
	if got := string(res.Inputs[2].Timestamp); got != "1764547203000" {
		t.Errorf("from timeUnixNano: %s, want 1764547203000", got)
	}
}

// Bodies that are not OTLP are errors that say so.
func TestDecodeLogs_Malformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		enc  otlp.Encoding
	}{
		{"json syntax", `{"resourceLogs": [`, otlp.JSON},
		{"json wrong type", `{"resourceLogs": {"a": 1}}`, otlp.JSON},
		{"protobuf garbage", "\xff\xff\xff\xff", otlp.Protobuf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := otlp.DecodeLogs([]byte(tc.body), tc.enc); err == nil || !strings.Contains(err.Error(), "OTLP") {
				t.Errorf("err %v, want a malformed OTLP body", err)
			}
		})
	}
}
