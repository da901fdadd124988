package analytics

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/sql"
)

const (
	// DefaultMaxExports is how many exports may run at once unless
	// Config.MaxExports says otherwise. Each holds a connection, a buffer
	// and a chunk of rows; an export to a client that stopped reading lasts
	// until its write deadline.
	DefaultMaxExports = 8
	// DefaultExportWriteTimeout is the write deadline of each chunk of an
	// export unless Config.ExportWriteTimeout says otherwise: a client
	// that takes longer to read one chunk (exportFlushRows rows) is cut off.
	DefaultExportWriteTimeout = 30 * time.Second
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
	"user_id_hash", "session_hash", "mcp_server", "mcp_tool"}

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
	MCPServer         *string `json:"mcp_server"` // null for a tool that is no MCP tool
	MCPTool           *string `json:"mcp_tool"`   // null too for an MCP name without a tool
}

// NewExportEvent returns the export line of r.
func NewExportEvent(r *sql.ExportRow) ExportEvent {
	ev := ExportEvent{
		EventID: r.EventID, Timestamp: time.UnixMilli(r.Timestamp).UTC().Format(exportTime), ToolName: r.ToolName,
		ToolCategory: r.ToolCategory, Status: r.Status, DurationMs: r.DurationMs, ErrorType: r.ErrorType,
		ErrorMessage: r.ErrorMessage, RequestSizeBytes: r.RequestSizeBytes, ResponseSizeBytes: r.ResponseSizeBytes,
		Source: r.Source, UserIDHash: r.UserHash, SessionHash: r.SessionHash, MCPServer: r.MCPServer, MCPTool: r.MCPTool,
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

// export streams the raw events of a window, which the database reads in
// short chunks, flushing every exportFlushRows rows; each chunk has its own
// write deadline, so that a client that stops reading holds neither a read
// snapshot nor, for long, a connection. At most Config.MaxExports run at
// once. The response starts with the first row (or at the end of an empty
// export), so that an error before it is still a 500; an error after it
// can only cut the body short, and is logged here.
func (s *Server) export(c echo.Context, ep endpoint) error {
	r, err := s.parse(c, ep)
	if err != nil {
		return err
	}
	ndjson := r.ndjson
	res := c.Response()
	conn, err := s.exports.add(http.NewResponseController(res.Writer), s.cfg.ExportWriteTimeout)
	if err != nil {
		res.Header().Set("Retry-After", "10")
		if errors.Is(err, errExportsFull) {
			return echo.NewHTTPError(http.StatusServiceUnavailable, fmt.Sprintf(
				"export: %d exports are running, the most at once; wait for one to finish and try again "+
					"(a shorter window or a limit makes an export quicker)", s.cfg.MaxExports))
		}
		return echo.NewHTTPError(http.StatusServiceUnavailable, "export: "+err.Error()+"; try again later")
	}
	defer s.exports.remove(conn)
	// The first chunk's deadline; each flush gives the next its own.
	if err := conn.extend(); err != nil {
		return err
	}
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
		if err := conn.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return conn.extend()
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
				csvText(r.Source), csvText(r.UserHash), csvText(optStr(r.SessionHash)),
				csvText(optStr(r.MCPServer)), csvText(optStr(r.MCPTool)))
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
		switch {
		case conn.wasCut():
			s.logger.Warn("export cut by shutdown", "rows", n, "client", c.RealIP())
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.logger.Warn("export cut: the client stopped reading", "rows", n, "client", c.RealIP(),
				"write_timeout", s.cfg.ExportWriteTimeout)
		case errors.Is(err, context.Canceled):
			s.logger.Debug("export cancelled", "rows", n, "err", err) // the client left
		default:
			s.logger.Error("export cut short", "rows", n, "err", err)
		}
		return nil
	}
	if errors.Is(err, errExportCut) {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "export: "+errExportsClosed.Error()+"; try again later")
	}
	return err
}

// errExportsFull and errExportsClosed are answered with a 503; errExportCut
// ends an export that Close cut.
var (
	errExportsFull   = errors.New("too many exports at once")
	errExportsClosed = errors.New("the server is shutting down")
	errExportCut     = errors.New("export cut by shutdown")
)

// exports are the exports in flight: at most max at once, all cut by
// close.
type exports struct {
	mu     sync.Mutex
	max    int
	active map[*exportConn]struct{}
	closed bool
}

func newExports(max int) *exports {
	return &exports{max: max, active: map[*exportConn]struct{}{}}
}

// add registers an export that writes its response through rc, with
// timeout for each chunk.
func (x *exports) add(rc *http.ResponseController, timeout time.Duration) (*exportConn, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, errExportsClosed
	}
	if len(x.active) >= x.max {
		return nil, errExportsFull
	}
	c := &exportConn{rc: rc, timeout: timeout}
	x.active[c] = struct{}{}
	return c, nil
}

// remove drops an export that ended.
func (x *exports) remove(c *exportConn) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.active, c)
}

// close cuts every export in flight and refuses new ones; it returns how
// many it cut.
func (x *exports) close() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.closed = true
	for c := range x.active {
		c.cut()
	}
	return len(x.active)
}

// exportConn is the connection of one export: its write deadline moves on
// with each chunk until the export is cut.
type exportConn struct {
	rc      *http.ResponseController
	timeout time.Duration

	mu    sync.Mutex
	isCut bool
}

// extend gives the next chunk its write deadline; it fails once the export
// is cut. A writer without deadlines (a test recorder) has none.
func (c *exportConn) extend() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isCut {
		return errExportCut
	}
	if err := c.rc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("export: set write deadline: %w", err)
	}
	return nil
}

// cut makes the export's writes fail from now on, at once: a write blocked
// on a client that stopped reading returns. A deadline is safe to set
// while another goroutine writes.
func (c *exportConn) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.isCut = true
	_ = c.rc.SetWriteDeadline(time.Unix(1, 0)) // a writer without deadlines stops at its next extend
}

// wasCut reports whether close cut the export.
func (c *exportConn) wasCut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isCut
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
