package ingest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// otlpBenchBodies are n protobuf exports of records Claude Code events
// each, with ids of their own: 7 in 10 tool_result, 2 api_request, 1 a
// tool_decision accept (which maps to nothing), as a session sends them.
func otlpBenchBodies(tb testing.TB, n, records int) [][]byte {
	tb.Helper()
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	num := func(k string, v int64) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
	}
	tools := []string{"Bash", "Read", "Edit", "Grep", "mcp__github__search_issues", "Skill", "Write"}
	now := time.Now()
	bodies := make([][]byte, n)
	for b := range bodies {
		recs := make([]*logspb.LogRecord, records)
		for i := range recs {
			id := fmt.Sprintf("toolu_bench%06d%04d", b, i)
			at := uint64(now.Add(-time.Duration(records-i) * time.Millisecond).UnixNano())
			common := []*commonpb.KeyValue{str("session.id", fmt.Sprintf("sess-%d", b%50)), str("user.id", fmt.Sprintf("install-%d", b%200)),
				str("user.email", "dev@example.com"), str("event.timestamp", now.UTC().Format(time.RFC3339Nano)), num("event.sequence", int64(i))}
			var attrs []*commonpb.KeyValue
			switch {
			case i%10 < 7:
				attrs = append(common, str("event.name", "tool_result"), str("tool_name", tools[i%len(tools)]), str("tool_use_id", id),
					str("success", "true"), str("duration_ms", fmt.Sprint(20+i)), str("decision_source", "config"),
					str("decision_type", "accept"), num("tool_result_size_bytes", 2048), str("tool_parameters", `{"skill_name":"pdf-report"}`))
			case i%10 < 9:
				attrs = append(common, str("event.name", "api_request"), str("model", "claude-sonnet-4-5"), str("request_id", "req_"+id),
					num("input_tokens", 1200), num("output_tokens", 300), num("cache_read_tokens", 5000), str("skill.name", "pdf-report"),
					&commonpb.KeyValue{Key: "cost_usd", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.0123}}})
			default:
				attrs = append(common, str("event.name", "tool_decision"), str("decision", "accept"), str("tool_name", "Read"), str("tool_use_id", id))
			}
			recs[i] = &logspb.LogRecord{TimeUnixNano: at, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "claude_code.event"}},
				Attributes: attrs}
		}
		req := &logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{
			Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "claude-code"), str("service.version", "2.1.280")}},
			ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}},
		}}}
		body, err := proto.Marshal(req)
		if err != nil {
			tb.Fatal(err)
		}
		bodies[b] = body
	}
	return bodies
}

// BenchmarkServer_OTLPLogs is the ingest cost of a 100-record OTLP
// protobuf export end to end through the echo handler (decode, map,
// validate, hash, publish to a real embedded JetStream, answer), beside a
// 100-event JSON batch of /api/track/batch through the same handler in
// the same run. One op is one request; records/s counts every record sent.
func BenchmarkServer_OTLPLogs(b *testing.B) {
	const records = 100
	b.Run("otlp/records=100", func(b *testing.B) {
		srv, _ := MustServer(b, testConfig())
		bodies := otlpBenchBodies(b, 512, records)
		benchPosts(b, srv.Handler(), len(bodies[0]), records, "records/s", func(i uint64) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/logs", bytes.NewReader(bodies[i%uint64(len(bodies))]))
			r.Header.Set("Content-Type", "application/x-protobuf")
			return r
		}, func(w *httptest.ResponseRecorder) bool { return w.Code == http.StatusOK && w.Body.Len() == 0 })
	})
	b.Run("batch/events=100", func(b *testing.B) {
		srv, _ := MustServer(b, testConfig())
		bb := newBenchBatch(b, records, false)
		benchPosts(b, srv.Handler(), len(bb.body), records, "events/s", func(i uint64) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/api/track/batch", bytes.NewReader(bb.withIDs(i*records)))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, func(w *httptest.ResponseRecorder) bool { return w.Code == http.StatusOK })
	})
}
