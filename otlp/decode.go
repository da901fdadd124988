package otlp

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Encoding is how an OTLP/HTTP body is encoded.
type Encoding int

// The two encodings of OTLP/HTTP.
const (
	Protobuf Encoding = iota // application/x-protobuf
	JSON                     // application/json
)

// ContentType is the media type of e.
func (e Encoding) ContentType() string {
	if e == JSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// ErrMalformed wraps the error of every body that does not decode.
var ErrMalformed = errors.New("malformed OTLP body")

// An export request (ExportLogsServiceRequest, ExportTraceServiceRequest)
// is decoded as the LogsData or TracesData it is on the wire: the same
// single field, resource_logs or resource_spans, which the OTLP protocol
// keeps identical. The collector's request types live in packages that
// also define its gRPC services, and would bring gRPC into the binary.

// DecodeLogs decodes an export of logs, as Claude Code sends its events.
func DecodeLogs(body []byte, enc Encoding) (*logspb.LogsData, error) {
	req := &logspb.LogsData{}
	return req, unmarshal(body, enc, req)
}

// DecodeTraces decodes an export of spans.
func DecodeTraces(body []byte, enc Encoding) (*tracepb.TracesData, error) {
	req := &tracepb.TracesData{}
	return req, unmarshal(body, enc, req)
}

func unmarshal(body []byte, enc Encoding, m proto.Message) error {
	if enc == Protobuf {
		if err := proto.Unmarshal(body, m); err != nil {
			return fmt.Errorf("%w: not an OTLP protobuf message: %w", ErrMalformed, err)
		}
		return nil
	}
	// OTLP JSON writes trace and span ids in hex where the protobuf JSON
	// mapping reads base64. A hex id of 16 or 32 characters is valid
	// base64 too, so it decodes, to other bytes, alike every time: the
	// mapping only sets span ids against each other, and keeps none.
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, m); err != nil {
		return fmt.Errorf("%w: not OTLP JSON: %w", ErrMalformed, err)
	}
	return nil
}

// Signal is what an export carries.
type Signal int

// The signals the receiver takes.
const (
	Logs Signal = iota
	Traces
)

// Response encodes the answer to an export of signal in enc: an empty
// ExportLogsServiceResponse or ExportTraceServiceResponse, or one with a
// partial success when rejected records (or spans) are more than none.
// Both messages are a partial_success (field 1) holding the count (field
// 1) and the message (field 2), written here with protowire for the
// reason the requests are read as LogsData.
func Response(signal Signal, enc Encoding, rejected int64, message string) []byte {
	if enc == JSON {
		if rejected == 0 {
			return []byte("{}")
		}
		count := "rejectedLogRecords"
		if signal == Traces {
			count = "rejectedSpans"
		}
		msg, _ := json.Marshal(message) // a string always encodes
		return fmt.Appendf(nil, `{"partialSuccess":{%q:"%d","errorMessage":%s}}`, count, rejected, msg)
	}
	if rejected == 0 {
		return []byte{}
	}
	var ps []byte
	ps = protowire.AppendTag(ps, 1, protowire.VarintType)
	ps = protowire.AppendVarint(ps, uint64(rejected))
	ps = protowire.AppendTag(ps, 2, protowire.BytesType)
	ps = protowire.AppendString(ps, message)
	out := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(out, ps)
}

// Encode encodes a message (a Status) in enc.
func Encode(m proto.Message, enc Encoding) ([]byte, error) {
	if enc == JSON {
		return protojson.Marshal(m)
	}
	return proto.Marshal(m)
}

// Map decodes an export of signal and maps it (MapLogs, MapTraces).
func Map(body []byte, enc Encoding, signal Signal, now time.Time) (Result, error) {
	if signal == Traces {
		req, err := DecodeTraces(body, enc)
		if err != nil {
			return Result{}, err
		}
		return MapTraces(req, now), nil
	}
	req, err := DecodeLogs(body, enc)
	if err != nil {
		return Result{}, err
	}
	return MapLogs(req, now), nil
}

// Unit names what signal counts in a partial success: log records or
// spans.
func (signal Signal) Unit() string {
	if signal == Traces {
		return "spans"
	}
	return "records"
}
