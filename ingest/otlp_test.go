package ingest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/otlp"
	"github.com/trackskills/trackskills/testkit"
)

const otlpLogsPath = "/v1/logs"

// otlpPost builds an OTLP/HTTP request of logs, body with the content
// type, and a Content-Encoding when encoding is not empty.
func otlpPost(body []byte, contentType, encoding string, header ...string) *http.Request {
	return otlpPostTo(otlpLogsPath, body, contentType, encoding, header...)
}

// otlpPostTo is otlpPost to path.
func otlpPostTo(path string, body []byte, contentType, encoding string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	if encoding != "" {
		r.Header.Set("Content-Encoding", encoding)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

func gzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// The fixture of Claude Code's events, as protobuf and as JSON, gzipped or
// not: its 15 events reach the stream from source otlp, hashed, and the
// answer is OTLP's, in the request's encoding, with the one rejected
// record in its partial success.
func TestOTLPLogs_Fixture(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, encoding string
	}{
		{"protobuf", "application/x-protobuf", ""},
		{"protobuf gzip", "application/x-protobuf", "gzip"},
		{"json", "application/json", ""},
		{"json gzip", "application/json", "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, js := MustServer(t, testConfig())
			req := testkit.ClaudeCodeLogs(t, time.Now())
			var body []byte
			var err error
			if tc.contentType == "application/json" {
				body, err = protojson.Marshal(req)
			} else {
				body, err = proto.Marshal(req)
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.encoding == "gzip" {
				body = gzipped(t, body)
			}
			w := serve(srv.Handler(), otlpPost(body, tc.contentType, tc.encoding))
			if w.Code != http.StatusOK || w.Header().Get("Content-Type") != tc.contentType {
				t.Fatalf("got %d %s %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
			}
			resp := &collogs.ExportLogsServiceResponse{}
			if tc.contentType == "application/json" {
				err = protojson.Unmarshal(w.Body.Bytes(), resp)
			} else {
				err = proto.Unmarshal(w.Body.Bytes(), resp)
			}
			if err != nil {
				t.Fatal(err)
			}
			ps := resp.GetPartialSuccess()
			if ps.GetRejectedLogRecords() != 1 || !strings.Contains(ps.GetErrorMessage(), "tool_result without tool_name") {
				t.Errorf("partial success %v, want the one nameless tool_result", ps)
			}
			events := readStream(t, js)
			if len(events) != 15 {
				t.Fatalf("%d events in the stream, want 15", len(events))
			}
			ids := eventIDs(events)
			for _, ev := range events {
				if ev.Source != "otlp" || !trackskills.IsIdentityHash(ev.UserHash) || !trackskills.IsIdentityHash(ev.SessionHash) {
					t.Errorf("%s: source %q user %q session %q: want otlp and hashes", ev.ToolName, ev.Source, ev.UserHash, ev.SessionHash)
				}
			}
			if ids["toolu_01Bash"] != 1 || ids["toolu_05Skill"] != 1 {
				t.Errorf("event ids %v: want the tool_use_ids", ids)
			}
			for _, data := range testkit.MustStreamPayloads(t, js) {
				for _, secret := range []string{"alice.otlp@example.com", "acct-uuid-secret", "install-otlp-secret", "sess-otlp-1",
					"secret-file", "secret prompt"} {
					if bytes.Contains(data, []byte(secret)) {
						t.Errorf("the stream holds %q", secret)
					}
				}
			}
		})
	}
}

// A call that a hook and telemetry both report has one event id: the
// stream may hold it twice, and the database stores it once.
func TestOTLPLogs_SameIDAsHook(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	hook := `{"hook_event_name":"PostToolUse","session_id":"sess-otlp-1","tool_name":"Bash","tool_use_id":"toolu_01Bash",
		"tool_input":{"command":"ls"},"tool_response":{"stdout":""}}`
	if res := postHook(srv, hook, ingest.UserHeader, "dev"); res.code != http.StatusOK {
		t.Fatalf("hook: %d %s", res.code, res.body)
	}
	body, _ := proto.Marshal(testkit.ClaudeCodeLogs(t, time.Now()))
	if w := serve(srv.Handler(), otlpPost(body, "application/x-protobuf", "")); w.Code != http.StatusOK {
		t.Fatalf("otlp: %d %s", w.Code, w.Body.String())
	}
	if got := eventIDs(readStream(t, js))["toolu_01Bash"]; got != 2 {
		t.Errorf("toolu_01Bash is in %d events of the stream, want 2 (one per source) with one id", got)
	}
}

// Requests that are not OTLP, or not allowed, are refused with a status
// and a message that says what to send; nothing reaches the stream.
func TestOTLPLogs_Refusals(t *testing.T) {
	good, _ := proto.Marshal(testkit.ClaudeCodeLogs(t, time.Now()))
	var bomb bytes.Buffer // 9 MiB of zeros, a few KB gzipped
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(make([]byte, 9<<20))
	_ = zw.Close()
	cfg := testConfig()
	cfg.Keys = []string{"otlp-key-1"}
	for _, tc := range []struct {
		name     string
		req      *http.Request
		code     int
		contains string
		status   bool // the body is an OTLP Status message (protobuf)
	}{
		{"no key", otlpPost(good, "application/x-protobuf", ""), http.StatusUnauthorized, "Bearer", false},
		{"wrong key", otlpPost(good, "application/x-protobuf", "", "Authorization", "Bearer nope"), http.StatusUnauthorized, "Bearer", false},
		{"text", otlpPost(good, "text/plain", "", "Authorization", "Bearer otlp-key-1"), http.StatusUnsupportedMediaType, "application/x-protobuf", false},
		{"brotli", otlpPost(good, "application/x-protobuf", "br", "Authorization", "Bearer otlp-key-1"), http.StatusUnsupportedMediaType, "gzip", false},
		{"not gzip", otlpPost(good, "application/x-protobuf", "gzip", "Authorization", "Bearer otlp-key-1"), http.StatusBadRequest, "gzip", false},
		{"gzip bomb", otlpPost(bomb.Bytes(), "application/x-protobuf", "gzip", "Authorization", "Bearer otlp-key-1"), http.StatusRequestEntityTooLarge, "decompressed", false},
		{"garbage", otlpPost([]byte("\xff\xff\xff"), "application/x-protobuf", "", "Authorization", "Bearer otlp-key-1"), http.StatusBadRequest, "OTLP protobuf", true},
		{"bad json", otlpPost([]byte(`{"resourceLogs":`), "application/json", "", "Authorization", "Bearer otlp-key-1"), http.StatusBadRequest, "OTLP JSON", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, js := MustServer(t, cfg)
			w := serve(srv.Handler(), tc.req)
			body := w.Body.String()
			if tc.status {
				st := &statuspb.Status{}
				if err := proto.Unmarshal(w.Body.Bytes(), st); err != nil || st.Code != 3 {
					t.Errorf("body %q is not an INVALID_ARGUMENT Status: %v", body, err)
				}
				body = st.GetMessage()
			}
			if w.Code != tc.code || !strings.Contains(body, tc.contains) {
				t.Errorf("got %d %q, want %d with %q", w.Code, body, tc.code, tc.contains)
			}
			if n := streamMsgs(t, js); n != 0 {
				t.Errorf("%d messages published", n)
			}
		})
	}
	// With the key, the same body is taken.
	srv, js := MustServer(t, cfg)
	if w := serve(srv.Handler(), otlpPost(good, "application/x-protobuf", "", "Authorization", "Bearer otlp-key-1")); w.Code != http.StatusOK {
		t.Fatalf("with the key: %d %s", w.Code, w.Body.String())
	}
	if n := len(readStream(t, js)); n != 15 {
		t.Errorf("%d events with the key, want 15", n)
	}
}

// Records too old for the contract are rejected one by one, with the
// reason, in a partial success: nothing is published, and the export is
// not retried (200).
func TestOTLPLogs_AllRejected(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	body, _ := proto.Marshal(testkit.ClaudeCodeLogs(t, time.Now().Add(-30*24*time.Hour)))
	w := serve(srv.Handler(), otlpPost(body, "application/x-protobuf", ""))
	resp := &collogs.ExportLogsServiceResponse{}
	if err := proto.Unmarshal(w.Body.Bytes(), resp); err != nil || w.Code != http.StatusOK {
		t.Fatalf("got %d %q: %v", w.Code, w.Body.String(), err)
	}
	ps := resp.GetPartialSuccess()
	if ps.GetRejectedLogRecords() != 16 || !strings.Contains(ps.GetErrorMessage(), "16 records rejected") ||
		!strings.Contains(ps.GetErrorMessage(), "timestamp") {
		t.Errorf("partial success %v, want 16 rejected, for their timestamp", ps)
	}
	if n := streamMsgs(t, js); n != 0 {
		t.Errorf("%d messages published", n)
	}
}

// The spans of the fixture reach the stream as their calls, with OTLP's
// answer for traces: the nameless tool span in the partial success.
func TestOTLPTraces_Fixture(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	body, err := proto.Marshal(testkit.ClaudeCodeTraces(t, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	w := serve(srv.Handler(), otlpPostTo("/v1/traces", gzipped(t, body), "application/x-protobuf", "gzip"))
	resp := &coltrace.ExportTraceServiceResponse{}
	if err := proto.Unmarshal(w.Body.Bytes(), resp); err != nil || w.Code != http.StatusOK {
		t.Fatalf("got %d %q: %v", w.Code, w.Body.String(), err)
	}
	if ps := resp.GetPartialSuccess(); ps.GetRejectedSpans() != 1 || !strings.Contains(ps.GetErrorMessage(), "1 spans rejected") {
		t.Errorf("partial success %v, want the nameless tool span", ps)
	}
	ids := eventIDs(readStream(t, js))
	if len(ids) != 4 || ids["toolu_T1"] != 1 || ids["toolu_T3"] != 1 {
		t.Errorf("event ids %v, want the 4 calls", ids)
	}
}

// The Codex fixture (otlp/testdata/logs/codex.json), as Codex's otlp-http
// exporter sends it (protocol "binary"): its 8 events reach the stream
// from source otlp, hashed, with the nameless tool_result in the partial
// success; neither the e-mail address, nor the prompt, nor a tool's
// arguments or output, nor the raw account or conversation is in it.
func TestOTLPLogs_Codex(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	raw, err := os.ReadFile("../otlp/testdata/logs/codex.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := otlp.DecodeLogs(raw, otlp.JSON)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute) // the fixture's own times are past the contract's week
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			for _, rec := range sl.LogRecords {
				at = at.Add(time.Millisecond)
				rec.TimeUnixNano = uint64(at.UnixNano())
			}
		}
	}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	w := serve(srv.Handler(), otlpPost(body, "application/x-protobuf", ""))
	resp := &collogs.ExportLogsServiceResponse{}
	if err := proto.Unmarshal(w.Body.Bytes(), resp); err != nil || w.Code != http.StatusOK {
		t.Fatalf("got %d %q: %v", w.Code, w.Body.String(), err)
	}
	if ps := resp.GetPartialSuccess(); ps.GetRejectedLogRecords() != 1 || !strings.Contains(ps.GetErrorMessage(), "codex.tool_result without tool_name") {
		t.Errorf("partial success %v, want the one nameless tool_result", ps)
	}
	events := readStream(t, js)
	if len(events) != 8 {
		t.Fatalf("%d events in the stream, want 8", len(events))
	}
	for _, ev := range events {
		if ev.Source != trackskills.SourceCodex || !trackskills.IsIdentityHash(ev.UserHash) || !trackskills.IsIdentityHash(ev.SessionHash) {
			t.Errorf("%s: source %q user %q session %q: want codex and hashes", ev.ToolName, ev.Source, ev.UserHash, ev.SessionHash)
		}
	}
	const conversation = "019ad1f2-7c21-7d40-9e5b-3c1d2a4b5c6d"
	ids := eventIDs(events)
	if ids[otlp.CodexCallID(conversation, "call_cx1")] != 1 || ids[otlp.CodexCallID(conversation, "call_cx3")] != 1 {
		t.Errorf("event ids %v: want the ids of the call ids", ids)
	}
	mcp := 0
	for _, ev := range events {
		if ev.MCPServer == "github" {
			mcp++
		}
	}
	if mcp != 2 {
		t.Errorf("%d events of the MCP server github, want 2", mcp)
	}
	for _, data := range testkit.MustStreamPayloads(t, js) {
		for _, secret := range []string{"bob.codex@example.com", "acct-codex-secret", conversation, "codex secret prompt",
			"codex-secret-file", "codex-secret-dir", "codex secret title", "codex secret output", "rejected by user"} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("the stream holds %q", secret)
			}
		}
	}
}
