package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"

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
}

// Export calls fn with each raw event of the window's exact range [From,
// To) matching f and status (empty: any), oldest first, at most limit
// (< 1: no limit). Rows are read from a cursor one by one; row is reused
// between calls. An error from fn stops the export and is returned as is.
func (d *DB) Export(ctx context.Context, w Window, f Filter, status string, limit int, fn func(row *ExportRow) error) error {
	cond, args := f.where(`timestamp >= ? AND timestamp < ?`, []any{w.From, w.To})
	if status != "" {
		cond += ` AND status = ?`
		args = append(args, status)
	}
	if limit < 1 {
		limit = -1 // SQLite: no limit
	}
	args = append(args, limit)
	rows, err := d.conn().QueryContext(ctx, `SELECT event_id_text(event_id), timestamp, tool_name, tool_category, status,
		duration_ms, error_type, error_message, request_size_bytes, response_size_bytes, metadata, source,
		lower(hex(user_id_hash)), CASE WHEN session_hash IS NULL THEN NULL ELSE lower(hex(session_hash)) END
		FROM skill_usage_events WHERE `+cond+` ORDER BY timestamp, id LIMIT ?`, args...)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	var row ExportRow
	var dur, req, resp dbsql.NullInt64
	var etype, emsg, meta, sess dbsql.NullString
	for rows.Next() {
		if err := rows.Scan(&row.EventID, &row.Timestamp, &row.ToolName, &row.ToolCategory, &row.Status,
			&dur, &etype, &emsg, &req, &resp, &meta, &row.Source, &row.UserHash, &sess); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		row.DurationMs, row.RequestSizeBytes, row.ResponseSizeBytes = ptr(dur), ptr(req), ptr(resp)
		row.ErrorType, row.ErrorMessage, row.Metadata, row.SessionHash = strPtr(etype), strPtr(emsg), strPtr(meta), strPtr(sess)
		if err := fn(&row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
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
}

// optText is s, or nil when *s is empty.
func optText(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}
