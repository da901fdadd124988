package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/otlp"
)

// MaxOTLPBytes bounds an OTLP/HTTP body, and the same body once
// decompressed: an exporter's batch of a few thousand records is far less.
const MaxOTLPBytes = 4 << 20

// OTLPDecoders bounds the OTLP bodies decoded at once. A body decodes into
// far more memory than it holds (a record of a few bytes is a struct of a
// few hundred), so more requests wait for a slot, at most otlpSlotWait,
// then get 503 with Retry-After.
const OTLPDecoders = 4

const otlpSlotWait = 5 * time.Second

// maxRejectReasons is how many reasons a partial success lists.
const maxRejectReasons = 5

// otlpEncoding reads the encoding of an OTLP request from its media type.
func otlpEncoding(mt string) (otlp.Encoding, bool) {
	switch mt {
	case "application/x-protobuf", "application/protobuf":
		return otlp.Protobuf, true
	case "application/json":
		return otlp.JSON, true
	}
	return 0, false
}

// handleOTLPLogs takes an OTLP/HTTP export of logs, as Claude Code sends
// its events (otlp.MapLogs).
func (s *Server) handleOTLPLogs(c echo.Context) error { return s.handleOTLP(c, otlp.Logs) }

// handleOTLPTraces takes an OTLP/HTTP export of spans, as Claude Code's
// beta traces send its tool calls (otlp.MapTraces).
func (s *Server) handleOTLPTraces(c echo.Context) error { return s.handleOTLP(c, otlp.Traces) }

// handleOTLP takes an export of signal, in protobuf or JSON and gzipped or
// not. The records that make events are published before the answer;
// those that should have made one and cannot are counted in the partial
// success, with the reasons of the first few.
func (s *Server) handleOTLP(c echo.Context, signal otlp.Signal) error {
	enc, ok := otlpEncoding(mediaType(c))
	if !ok {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType,
			"send OTLP with Content-Type: application/x-protobuf or application/json "+
				"(OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or http/json)")
	}
	select {
	case s.otlpSlots <- struct{}{}:
	case <-c.Request().Context().Done():
		return c.Request().Context().Err()
	case <-time.After(otlpSlotWait):
		c.Response().Header().Set("Retry-After", "1")
		return echo.NewHTTPError(http.StatusServiceUnavailable, "too many OTLP exports in flight; retry in a second")
	}
	body, release, err := s.readOTLPBody(c)
	if err != nil {
		<-s.otlpSlots
		return err
	}
	now := s.now()
	res, err := otlp.Map(body, enc, signal, now)
	release()
	<-s.otlpSlots
	if err != nil {
		s.rejected(ReasonInvalid, 1)
		return otlpStatus(c, enc, http.StatusBadRequest, err.Error())
	}
	reasons := res.Rejected
	events := make([]trackskills.Event, 0, len(res.Inputs))
	for i := range res.Inputs {
		ev, err := s.prepare(c, &res.Inputs[i], now)
		if err != nil {
			var fe *trackskills.FieldError
			if errors.As(err, &fe) {
				err = fmt.Errorf("%s: %s", fe.Field, fe.Message)
			}
			reasons = append(reasons, fmt.Sprintf("%.100s event: %.200v", res.Inputs[i].ToolName, err))
			continue
		}
		events = append(events, ev)
	}
	s.rejected(ReasonInvalid, len(reasons))
	if err := s.pub.Publish(c.Request().Context(), events); err != nil {
		return &eventsError{events: len(events), err: err}
	}
	s.accepted(len(events))
	msg := ""
	if len(reasons) > 0 {
		msg = rejectSummary(signal.Unit(), reasons)
	}
	return c.Blob(http.StatusOK, enc.ContentType(), otlp.Response(signal, enc, int64(len(reasons)), msg))
}

// rejectSummary is the error message of a partial success: how many
// records (or spans: unit) were rejected, and why the first few were.
func rejectSummary(unit string, reasons []string) string {
	shown := reasons[:min(len(reasons), maxRejectReasons)]
	msg := fmt.Sprintf("%d %s rejected: %s", len(reasons), unit, strings.Join(shown, "; "))
	if len(reasons) > len(shown) {
		msg += "; ..."
	}
	return msg
}

// readOTLPBody reads the body of an OTLP request, gunzipped when its
// Content-Encoding says gzip, up to MaxOTLPBytes either way. release
// returns its buffers.
func (s *Server) readOTLPBody(c echo.Context) (body []byte, release func(), err error) {
	buf, err := s.readBody(c, MaxOTLPBytes)
	if err != nil {
		return nil, nil, err
	}
	switch ce := strings.ToLower(strings.TrimSpace(c.Request().Header.Get(echo.HeaderContentEncoding))); ce {
	case "", "identity":
		return buf.Bytes(), func() { s.bufs.Put(buf) }, nil
	case "gzip":
		defer s.bufs.Put(buf)
		zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			return nil, nil, echo.NewHTTPError(http.StatusBadRequest, "body is not gzip: "+err.Error())
		}
		out := s.bufs.Get().(*bytes.Buffer)
		out.Reset()
		n, err := out.ReadFrom(io.LimitReader(zr, MaxOTLPBytes+1))
		if err != nil {
			s.bufs.Put(out)
			return nil, nil, echo.NewHTTPError(http.StatusBadRequest, "body is not valid gzip: "+err.Error())
		}
		if n > MaxOTLPBytes {
			s.bufs.Put(out)
			return nil, nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge,
				fmt.Sprintf("body is larger than %d bytes once decompressed", MaxOTLPBytes))
		}
		return out.Bytes(), func() { s.bufs.Put(out) }, nil
	default:
		return nil, nil, echo.NewHTTPError(http.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Encoding %q is not accepted: send gzip or none", ce))
	}
}

// otlpStatus answers an OTLP request that failed with the Status message
// OTLP/HTTP asks for (code 3, INVALID_ARGUMENT, for a 400).
func otlpStatus(c echo.Context, enc otlp.Encoding, code int, msg string) error {
	b, err := otlp.Encode(&statuspb.Status{Code: 3, Message: msg}, enc)
	if err != nil {
		return fmt.Errorf("encode OTLP status: %w", err)
	}
	return c.Blob(code, enc.ContentType(), b)
}
