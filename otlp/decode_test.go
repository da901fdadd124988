package otlp_test

import (
	"testing"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/trackskills/trackskills/otlp"
)

// The answers written by hand read back as the collector's own response
// types, in both encodings, with and without a partial success.
func TestResponse_CollectorTypes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		enc      otlp.Encoding
		rejected int64
		msg      string
	}{
		{"protobuf, all taken", otlp.Protobuf, 0, ""},
		{"protobuf, partial", otlp.Protobuf, 300, `3 records rejected: "quoted"; ü`},
		{"json, all taken", otlp.JSON, 0, ""},
		{"json, partial", otlp.JSON, 2, `2 records rejected: "quoted"; ü`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unmarshal := proto.Unmarshal
			if tc.enc == otlp.JSON {
				unmarshal = protojson.Unmarshal
			}
			logs := &collogs.ExportLogsServiceResponse{}
			if err := unmarshal(otlp.Response(otlp.Logs, tc.enc, tc.rejected, tc.msg), logs); err != nil {
				t.Fatal(err)
			}
			if ps := logs.GetPartialSuccess(); ps.GetRejectedLogRecords() != tc.rejected || ps.GetErrorMessage() != tc.msg ||
				(tc.rejected == 0) != (ps == nil) {
				t.Errorf("logs: %v, want %d %q", ps, tc.rejected, tc.msg)
			}
			spans := &coltrace.ExportTraceServiceResponse{}
			if err := unmarshal(otlp.Response(otlp.Traces, tc.enc, tc.rejected, tc.msg), spans); err != nil {
				t.Fatal(err)
			}
			if ps := spans.GetPartialSuccess(); ps.GetRejectedSpans() != tc.rejected || ps.GetErrorMessage() != tc.msg {
				t.Errorf("traces: %v, want %d %q", ps, tc.rejected, tc.msg)
			}
		})
	}
}

// A collector's export request decodes as the data it carries.
func TestDecodeLogs_CollectorRequest(t *testing.T) {
	data := fixture(t)
	b, err := proto.Marshal(&collogs.ExportLogsServiceRequest{ResourceLogs: data.ResourceLogs})
	if err != nil {
		t.Fatal(err)
	}
	got, err := otlp.DecodeLogs(b, otlp.Protobuf)
	if err != nil || !proto.Equal(got, data) {
		t.Errorf("decoded %v, want the fixture", err)
	}
}
