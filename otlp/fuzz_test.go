package otlp_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/otlp"
)

// FuzzDecodeLogs feeds any body to both decoders and maps what decodes:
// nothing panics, and every event made names a tool and a category.
func FuzzDecodeLogs(f *testing.F) {
	// Small seeds: one record of each kind that maps, in JSON and in
	// protobuf. (Go's fuzzer makes little progress from the whole fixture.)
	for _, seed := range []string{
		`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1764547200000000000","body":{"stringValue":"claude_code.tool_result"},
			"attributes":[{"key":"tool_name","value":{"stringValue":"Skill"}},{"key":"success","value":{"stringValue":"false"}},
			{"key":"duration_ms","value":{"intValue":12}},{"key":"tool_use_id","value":{"stringValue":"toolu_1"}},
			{"key":"tool_parameters","value":{"stringValue":"{\"skill_name\":\"x\"}"}},{"key":"error","value":{"stringValue":"Exit code 1"}}]}]}]}]}`,
		`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"event.name","value":{"stringValue":"api_request"}},
			{"key":"cost_usd","value":{"doubleValue":0.5}},{"key":"request_id","value":{"stringValue":"r"}},{"key":"session.id","value":{"stringValue":"s"}}]}]}]}]}`,
		`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"5b8efff798038103d269b633813fc60c","attributes":[
			{"key":"event.name","value":{"stringValue":"tool_decision"}},{"key":"decision","value":{"stringValue":"reject"}},
			{"key":"tool_name","value":{"stringValue":"mcp_tool"}},{"key":"tool_use_id","value":{"stringValue":"t"}}]}]}]}]}`,
	} {
		addSeed(f, seed, otlp.Logs)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, enc := range []otlp.Encoding{otlp.JSON, otlp.Protobuf} {
			req, err := otlp.DecodeLogs(body, enc)
			if err != nil {
				continue
			}
			res := otlp.MapLogs(req, time.Now())
			for _, in := range res.Inputs {
				if in.ToolName == "" || in.ToolCategory == "" || in.Source != otlp.Source && in.Source != trackskills.SourceCodex {
					t.Fatalf("event without a name, a category or its source: %+v", in)
				}
			}
		}
	})
}

// FuzzDecodeTraces does for spans what FuzzDecodeLogs does for logs.
func FuzzDecodeTraces(f *testing.F) {
	for _, seed := range []string{
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"000000000000a001",
			"name":"claude_code.tool","startTimeUnixNano":"1764547200000000000","endTimeUnixNano":"1764547201000000000",
			"attributes":[{"key":"tool_name","value":{"stringValue":"Bash"}},{"key":"tool_use_id","value":{"stringValue":"t"}}]},
			{"spanId":"000000000000a002","parentSpanId":"000000000000a001","name":"claude_code.tool.execution",
			"attributes":[{"key":"success","value":{"stringValue":"false"}}],"status":{"code":2}}]}]}]}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"01","name":"claude_code.tool","attributes":[{"key":"tool_name","value":{"stringValue":"Write"}}]},
			{"parentSpanId":"01","name":"claude_code.tool.blocked_on_user","attributes":[{"key":"decision","value":{"stringValue":"reject"}}]}]}]}]}`,
	} {
		addSeed(f, seed, otlp.Traces)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, enc := range []otlp.Encoding{otlp.JSON, otlp.Protobuf} {
			res, err := otlp.Map(body, enc, otlp.Traces, time.Now())
			if err != nil {
				continue
			}
			for _, in := range res.Inputs {
				if in.ToolName == "" || in.ToolCategory == "" || in.Source != otlp.Source && in.Source != trackskills.SourceCodex {
					t.Fatalf("event without a name, a category or its source: %+v", in)
				}
			}
		}
	})
}

// addSeed adds an OTLP JSON export of signal, and the same in protobuf.
func addSeed(f *testing.F, seed string, signal otlp.Signal) {
	f.Helper()
	f.Add([]byte(seed))
	var m proto.Message
	var err error
	if signal == otlp.Traces {
		m, err = otlp.DecodeTraces([]byte(seed), otlp.JSON)
	} else {
		m, err = otlp.DecodeLogs([]byte(seed), otlp.JSON)
	}
	if err != nil {
		f.Fatal(err)
	}
	pb, err := proto.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pb)
}
