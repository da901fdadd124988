package main

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// postOTLPLogs posts req to base's /v1/logs as gzipped protobuf, as the
// Claude apps gateway pushes it, and expects a 200.
func postOTLPLogs(t *testing.T, base string, req *logspb.LogsData, header ...string) {
	t.Helper()
	raw, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	r, err := http.NewRequest(http.MethodPost, base+"/v1/logs", &body)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("Content-Encoding", "gzip")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/logs: %s", resp.Status)
	}
}

// apiRequestRecord is one api_request record of a skill, for tests that
// add to the fixture.
func apiRequestRecord(skill, requestID string, costUSD float64) *logspb.LogRecord {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	return &logspb.LogRecord{
		TimeUnixNano: uint64(time.Now().UnixNano()),
		Attributes: []*commonpb.KeyValue{str("event.name", "api_request"), str("session.id", "s-extra"), str("model", "claude-sonnet-4-5"),
			str("skill.name", skill), str("request_id", requestID),
			{Key: "cost_usd", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: costUSD}}}},
	}
}

// toolResultRecord is one tool_result record of a call in session.
func toolResultRecord(session, tool, toolUseID string, durationMs int64) *logspb.LogRecord {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	return &logspb.LogRecord{
		TimeUnixNano: uint64(time.Now().UnixNano()),
		Attributes: []*commonpb.KeyValue{str("event.name", "tool_result"), str("session.id", session), str("tool_name", tool),
			str("tool_use_id", toolUseID), str("success", "true"),
			{Key: "duration_ms", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: durationMs}}}},
	}
}

// Claude Code's telemetry through a real serve process: no identity,
// prompt, command or e-mail address it carried is in the data dir (stream
// and database) or the logs; a call that the hook reported too is one
// row; the model requests are in the cost ledger, and a key is needed
// once keys are set.
func TestServe_OTLPPrivacyAndDedup(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	httpAddr, natsAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	p := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", natsAddr,
		"--log-level", "debug", "--batch-wait", "20ms", "--ingest-keys", "otlp-e2e-key")
	mustWaitReady(t, p, httpAddr)
	base := "http://" + httpAddr
	auth := []string{"Authorization", "Bearer otlp-e2e-key"}

	hook := []byte(`{"hook_event_name":"PostToolUse","session_id":"sess-otlp-1","tool_name":"Bash","tool_use_id":"toolu_01Bash",
		"tool_input":{"command":"cat secret-file.txt"},"tool_response":{"stdout":"x"}}`)
	if code, err := testkit.PostJSON(http.DefaultClient, base+"/api/hooks/claude-code", hook, map[string]string{auth[0]: auth[1]}, nil); err != nil || code != 200 {
		t.Fatalf("hook: %d %v", code, err)
	}
	postOTLPLogs(t, base, testkit.ClaudeCodeLogs(t, time.Now()), auth...)
	dbPath := filepath.Join(dir, "trackskills.db")
	testkit.Eventually(t, 20*time.Second, func() error {
		// 9 tool calls in the fixture, one of them the hook's too.
		if rows, distinct := countRows(t, dbPath); rows != 9 || distinct != 9 {
			return fmt.Errorf("rows=%d distinct=%d, want 9", rows, distinct)
		}
		return nil
	})
	testkit.Eventually(t, 20*time.Second, func() error {
		var costs analytics.CostsResponse
		apiGet(t, base, "/analytics/costs?days=1", &costs)
		if costs.Totals.Requests != 3 || costs.Totals.CostMicros != 17_300 {
			return fmt.Errorf("costs %+v, want the fixture's 3 requests and $0.0173", costs.Totals)
		}
		// Per skill, the fixture's api_request costs: 12,300 and 5,000 micros.
		per := map[string]int64{}
		for _, e := range costs.BySkill {
			per[e.Name] = e.CostMicros
		}
		if per["pdf-report"] != 12_300 || per["third-party"] != 5_000 || per[""] != 0 {
			return fmt.Errorf("cost by skill %v, want pdf-report 12300 and third-party 5000", per)
		}
		return nil
	})
	// The stream's files hold batches compressed: its messages are read
	// decompressed, besides the files themselves below.
	payloads := testkit.MustStreamPayloads(t, testkit.MustJetStreamAt(t, natsAdminURL(t, dir, "nats://"+natsAddr)))
	if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("serve exit: %v", err)
	}

	sc := newSecretScan(t, "pdf-report", map[string]string{"e-mail address": "alice.otlp@example.com", "account": "acct-uuid-secret",
		"installation": "install-otlp-secret", "session id": "sess-otlp-1", "command": "cat secret-file.txt", "prompt": "my secret prompt text"})
	sc.dir(dir)
	sc.scan("logs", []byte(p.Logs()))
	for i, data := range payloads {
		sc.scan(fmt.Sprintf("stream message %d", i+1), data)
	}
	if !sc.found[dbPath] || len(sc.found) < 2 {
		t.Fatalf("the scan saw the skill's name in %v only: want the stream and the database", sc.found)
	}
}
