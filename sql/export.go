package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"math"

	"github.com/trackskills/trackskills"
)

// ExportRow is one raw event as exported; nullable columns are nil when
// the event had no value.
type ExportRow struct {
	EventID           string
	Timestamp         int64
	ToolName          string
	ToolCategory      string
	Status            string
	DurationMs        *int64
	ErrorType         *string
	ErrorMessage      *string
	RequestSizeBytes  *int64
	ResponseSizeBytes *int64
	Metadata          *string
	Source            string
	UserHash          string
	SessionHash       *string
	MCPServer         *string // of an MCP tool's name (mcp__<server>__<tool>)
	MCPTool           *string
}

// exportChunkRows is how many rows Export reads with one query; tests
// lower it.
var exportChunkRows = 1000

// Export calls fn with each raw event of the window's exact range [From,
// To) matching f and status (empty: any), oldest first (by timestamp, then
// by insertion), at most limit (< 1: no limit). An error from fn stops the
// export and is returned as is.
//
// Rows are read in chunks, each by a short query of its own that starts
// after the last row of the one before (keyset pagination on timestamp and
// row id), and fn only runs between queries: however slowly fn goes (a
// client that reads an export slowly, or not at all), no read snapshot
// stays open meanwhile, so the writer's checkpoints keep the write-ahead
// log small. The export is therefore not one snapshot: an event committed
// during it appears if it sorts after the rows already read. row points
// into the current chunk and is valid only during the call.
func (d *DB) Export(ctx context.Context, w Window, f Filter, status string, limit int, fn func(row *ExportRow) error) error {
	// The first two arguments and the third and fourth are the cursor:
	// the timestamp and row id of the last row read.
	cond, args := f.where(`timestamp >= ? AND timestamp < ? AND (timestamp > ? OR id > ?)`,
		[]any{w.From, w.To, w.From, int64(math.MinInt64)})
	if status != "" {
		cond += ` AND status = ?`
		args = append(args, status)
	}
	args = append(args, 0) // the chunk's LIMIT
	query := `SELECT id, event_id_text(event_id), timestamp, tool_name, tool_category, status,
		duration_ms, error_type, error_message, request_size_bytes, response_size_bytes, metadata, source,
		lower(hex(user_id_hash)), CASE WHEN session_hash IS NULL THEN NULL ELSE lower(hex(session_hash)) END,
		mcp_server, mcp_tool FROM skill_usage_events WHERE ` + cond + ` ORDER BY timestamp, id LIMIT ?`
	chunk := make([]ExportRow, 0, exportChunkRows)
	for left := limit; limit < 1 || left > 0; {
		n := exportChunkRows
		if limit >= 1 && left < n {
			n = left
		}
		args[len(args)-1] = n
		var lastID int64
		var err error
		if chunk, lastID, err = d.exportChunk(ctx, query, args, chunk[:0]); err != nil {
			return err
		}
		for i := range chunk {
			if err := fn(&chunk[i]); err != nil {
				return err
			}
		}
		if len(chunk) < n {
			return nil
		}
		left -= len(chunk)
		last := chunk[len(chunk)-1].Timestamp
		args[0], args[2], args[3] = last, last, lastID
	}
	return nil
}

// exportChunk runs one chunk's query of Export, appending its rows to
// chunk; lastID is the row id of the last one.
func (d *DB) exportChunk(ctx context.Context, query string, args []any, chunk []ExportRow) (_ []ExportRow, lastID int64, err error) {
	rows, err := d.conn().QueryContext(ctx, query, args...)
	if err != nil {
		return chunk, 0, fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	var dur, req, resp dbsql.NullInt64
	var etype, emsg, meta, sess, server, tool dbsql.NullString
	for rows.Next() {
		var row ExportRow
		if err := rows.Scan(&lastID, &row.EventID, &row.Timestamp, &row.ToolName, &row.ToolCategory, &row.Status,
			&dur, &etype, &emsg, &req, &resp, &meta, &row.Source, &row.UserHash, &sess, &server, &tool); err != nil {
			return chunk, 0, fmt.Errorf("export: %w", err)
		}
		row.DurationMs, row.RequestSizeBytes, row.ResponseSizeBytes = ptr(dur), ptr(req), ptr(resp)
		row.ErrorType, row.ErrorMessage, row.Metadata, row.SessionHash = strPtr(etype), strPtr(emsg), strPtr(meta), strPtr(sess)
		row.MCPServer, row.MCPTool = strPtr(server), strPtr(tool)
		chunk = append(chunk, row)
	}
	if err := rows.Err(); err != nil {
		return chunk, 0, fmt.Errorf("export: %w", err)
	}
	// Closing here, not when the caller is done, ends the read snapshot.
	if err := rows.Close(); err != nil {
		return chunk, 0, fmt.Errorf("export: %w", err)
	}
	return chunk, lastID, nil
}

func strPtr(s dbsql.NullString) *string {
	if !s.Valid {
		return nil
	}
	v := s.String
	return &v
}

// SetEvent fills r with ev as an export reads it back once stored: hashes
// as StoredHash gives them, empty optional text as nil. The pointers point
// into ev.
func (r *ExportRow) SetEvent(ev *trackskills.Event) {
	*r = ExportRow{
		EventID: ev.EventID, Timestamp: ev.Timestamp, ToolName: ev.ToolName, ToolCategory: ev.ToolCategory,
		Status: ev.Status, DurationMs: ev.DurationMs, ErrorType: optText(&ev.ErrorType), ErrorMessage: optText(&ev.ErrorMessage),
		RequestSizeBytes: ev.RequestSizeBytes, ResponseSizeBytes: ev.ResponseSizeBytes,
		Source: ev.Source, UserHash: StoredHash(ev.UserHash),
	}
	if len(ev.Metadata) > 0 {
		m := string(ev.Metadata)
		r.Metadata = &m
	}
	if ev.SessionHash != "" {
		s := StoredHash(ev.SessionHash)
		r.SessionHash = &s
	}
	if server, tool := mcpOf(ev); server != "" {
		r.MCPServer = &server
		if tool != "" {
			r.MCPTool = &tool
		}
	}
}

// optText is s, or nil when *s is empty.
func optText(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}
