package analytics

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/sql"
)

const (
	// maxExportRows bounds the limit of an export.
	maxExportRows = 1_000_000
	// exportFlushRows is how many rows an export writes between flushes.
	exportFlushRows = 1000
)

// exportColumns are the columns of an export, in order.
var exportColumns = []string{"event_id", "timestamp", "tool_name", "tool_category", "status", "duration_ms",
	"error_type", "error_message", "request_size_bytes", "response_size_bytes", "metadata", "source",
	"user_id_hash", "session_hash"}

// exportTime is the timestamp format of an export: RFC 3339 with
// milliseconds, UTC.
const exportTime = "2006-01-02T15:04:05.000Z07:00"

// ExportEvent is one line of /analytics/export.ndjson; absent values are
// null, and metadata is the stored JSON (a string if it is not JSON).
type ExportEvent struct {
	EventID           string  `json:"event_id"`
	Timestamp         string  `json:"timestamp"`
	ToolName          string  `json:"tool_name"`
	ToolCategory      string  `json:"tool_category"`
	Status            string  `json:"status"`
	DurationMs        *int64  `json:"duration_ms"`
	ErrorType         *string `json:"error_type"`
	ErrorMessage      *string `json:"error_message"`
	RequestSizeBytes  *int64  `json:"request_size_bytes"`
	ResponseSizeBytes *int64  `json:"response_size_bytes"`
	Metadata          any     `json:"metadata"`
	Source            string  `json:"source"`
	UserIDHash        string  `json:"user_id_hash"`
	SessionHash       *string `json:"session_hash"`
}

// NewExportEvent returns the export line of r.
func NewExportEvent(r *sql.ExportRow) ExportEvent {
	ev := ExportEvent{
		EventID: r.EventID, Timestamp: time.UnixMilli(r.Timestamp).UTC().Format(exportTime), ToolName: r.ToolName,
		ToolCategory: r.ToolCategory, Status: r.Status, DurationMs: r.DurationMs, ErrorType: r.ErrorType,
		ErrorMessage: r.ErrorMessage, RequestSizeBytes: r.RequestSizeBytes, ResponseSizeBytes: r.ResponseSizeBytes,
		Source: r.Source, UserIDHash: r.UserHash, SessionHash: r.SessionHash,
	}
	if m := r.Metadata; m != nil {
		if json.Valid([]byte(*m)) {
			ev.Metadata = json.RawMessage(*m)
		} else {
			ev.Metadata = *m
		}
	}
	return ev
}

func (s *Server) handleExportCSV(c echo.Context) error { return s.export(c, exportCSVParams) }

func (s *Server) handleExportNDJSON(c echo.Context) error { return s.export(c, exportNDJSONParams) }

// export streams the raw events of a window from a cursor, flushing every
// exportFlushRows rows. The response starts with the first row (or at the
// end of an empty export), so that an error before it is still a 500; an
// error after it can only cut the body short, and is logged here.
func (s *Server) export(c echo.Context, ep endpoint) error {
	r, err := s.parse(c, ep)
	if err != nil {
		return err
	}
	ndjson := r.ndjson
	res := c.Response()
	ctype, name := "text/csv; charset=utf-8", "trackskills-events.csv"
	if ndjson {
		ctype, name = "application/x-ndjson", "trackskills-events.ndjson"
	}
	buf := bufio.NewWriterSize(res, 64<<10)
	cw := csv.NewWriter(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	started, n := false, 0
	start := func() error {
		started = true
		res.Header().Set(echo.HeaderContentType, ctype)
		res.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
		res.WriteHeader(http.StatusOK)
		if !ndjson {
			return cw.Write(exportColumns)
		}
		return nil
	}
	flush := func() error {
		if !ndjson {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
		}
		if err := buf.Flush(); err != nil {
			return err
		}
		if err := http.NewResponseController(res.Writer).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	record := make([]string, len(exportColumns))
	err = s.db.Export(c.Request().Context(), r.window, r.filter, r.status, r.limit, func(r *sql.ExportRow) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		if ndjson {
			ev := NewExportEvent(r)
			if err := enc.Encode(&ev); err != nil {
				return err
			}
		} else {
			ts := time.UnixMilli(r.Timestamp).UTC().Format(exportTime)
			record = append(record[:0], csvText(r.EventID), ts, csvText(r.ToolName), csvText(r.ToolCategory),
				csvText(r.Status), optInt(r.DurationMs), csvText(optStr(r.ErrorType)), csvText(optStr(r.ErrorMessage)),
				optInt(r.RequestSizeBytes), optInt(r.ResponseSizeBytes), csvText(optStr(r.Metadata)),
				csvText(r.Source), csvText(r.UserHash), csvText(optStr(r.SessionHash)))
			if err := cw.Write(record); err != nil {
				return err
			}
		}
		if n++; n%exportFlushRows == 0 {
			return flush()
		}
		return nil
	})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		err = flush()
	}
	if err != nil && started {
		if errors.Is(err, context.Canceled) {
			s.logger.Debug("export cancelled", "rows", n, "err", err) // the client left
		} else {
			s.logger.Error("export cut short", "rows", n, "err", err)
		}
		return nil
	}
	return err
}

func optInt(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

func optStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// csvText neutralises a text cell of the CSV export that a spreadsheet
// would run as a formula: one that starts with =, +, -, @, a tab or a
// carriage return gets a leading single quote, as OWASP advises against
// CSV injection (a tool named =HYPERLINK(...) stays text). Numbers and
// timestamps are not event text and are written as they are; the NDJSON
// export stays exact.
func csvText(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
