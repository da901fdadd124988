package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
)

// Failure is a stored event whose status is error or timeout.
type Failure struct {
	Timestamp    int64
	ToolName     string
	ToolCategory string
	Status       string
	ErrorType    string
	ErrorMessage string
	DurationMs   *int64
}

// Failures returns the newest failed events of the window's exact range
// [From, To) matching f and status (empty: error or timeout), at most
// limit.
func (d *DB) Failures(ctx context.Context, w Window, f Filter, status string, limit int) ([]Failure, error) {
	cond, args := `status <> 'success' AND timestamp >= ? AND timestamp < ?`, []any{w.From, w.To}
	cond, args = f.where(cond, args)
	if status != "" {
		cond += ` AND status = ?`
		args = append(args, status)
	}
	args = append(args, limit)
	rows, err := d.conn().QueryContext(ctx, `SELECT timestamp, tool_name, tool_category, status,
		COALESCE(error_type, ''), COALESCE(error_message, ''), duration_ms
		FROM skill_usage_events WHERE `+cond+` ORDER BY timestamp DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("failures: %w", err)
	}
	defer rows.Close()
	out := []Failure{}
	for rows.Next() {
		var fl Failure
		var dur dbsql.NullInt64
		if err := rows.Scan(&fl.Timestamp, &fl.ToolName, &fl.ToolCategory, &fl.Status, &fl.ErrorType, &fl.ErrorMessage, &dur); err != nil {
			return nil, fmt.Errorf("failures: %w", err)
		}
		fl.DurationMs = ptr(dur)
		out = append(out, fl)
	}
	return out, rows.Err()
}
