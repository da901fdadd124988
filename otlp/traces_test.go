package otlp_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/otlp"
)

// The spans of the fixture (one interaction: a call that waited for the
// user, a rejected one, a failed one, a redacted MCP call whose span has
// status ERROR, a tool span without a name, an orphan child, a tool span
// exported without its children) map to their calls, in JSON with hex ids
// and in protobuf alike.
func TestMapTraces_Fixture(t *testing.T) {
	body, err := os.ReadFile("testdata/traces/claude_code.json")
	if err != nil {
		t.Fatal(err)
	}
	jsonReq, err := otlp.DecodeTraces(body, otlp.JSON)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := proto.Marshal(jsonReq)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []struct {
		name string
		body []byte
		enc  otlp.Encoding
	}{{"json", body, otlp.JSON}, {"protobuf", pb, otlp.Protobuf}} {
		t.Run(enc.name, func(t *testing.T) {
			res, err := otlp.Map(enc.body, enc.enc, otlp.Traces, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			// interaction, llm_request, the orphan child and the tool span
			// without its children are ignored.
			if res.Ignored != 4 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0], "without tool_name") {
				t.Errorf("ignored %d, rejected %q", res.Ignored, res.Rejected)
			}
			wants := []struct {
				tool, category, status, errorType, kind, id, duration string
				meta                                                  map[string]any
			}{
				{"Bash", "builtin", "success", "", "", "toolu_T1", "300",
					map[string]any{"wait_ms": float64(1200), "total_ms": float64(1500), "decision_source": "user_temporary"}},
				{"Write", "builtin", "success", "", trackskills.KindDenied, claudecode.MarkID("sess-otlp-1", trackskills.KindDenied, "toolu_T2"), "",
					map[string]any{"decision": "reject", "decision_source": "user_reject"}},
				{"Bash", "builtin", "error", claudecode.ErrorExitCode, "", "toolu_T3", "390", map[string]any{"exit_code": float64(1)}},
				{otlp.RedactedMCPTool, "mcp", "error", claudecode.ErrorMCP, "", "toolu_T4", "80", map[string]any{"redacted": true}},
			}
			if len(res.Inputs) != len(wants) {
				t.Fatalf("%d events, want %d: %+v", len(res.Inputs), len(wants), res.Inputs)
			}
			for i, w := range wants {
				in := res.Inputs[i]
				if in.ToolName != w.tool || in.ToolCategory != w.category || in.Status != w.status || in.ErrorType != w.errorType ||
					in.Kind != w.kind || in.EventID != w.id || string(in.DurationMs) != w.duration || in.Source != "otlp" ||
					in.SessionID != "sess-otlp-1" || in.UserID != "install-otlp-secret" {
					t.Errorf("event %d: %+v, want %+v", i, in, w)
				}
				var meta map[string]any
				if err := json.Unmarshal(in.Metadata, &meta); err != nil {
					t.Fatal(err)
				}
				for k, v := range w.meta {
					if meta[k] != v {
						t.Errorf("event %d: metadata %s = %v, want %v (%s)", i, k, meta[k], v, in.Metadata)
					}
				}
				if strings.Contains(string(in.Metadata), "alice") {
					t.Errorf("event %d: the e-mail address in %s", i, in.Metadata)
				}
			}
			if ts := string(res.Inputs[0].Timestamp); ts != "1764547201000" {
				t.Errorf("time %s, want the tool span's start, 1764547201000", ts)
			}
		})
	}
}
