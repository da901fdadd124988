package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"

	"github.com/trackskills/trackskills"
)

// The reads of the alert rules. A rule looks at a window of minutes that
// ends now: those reads go to the raw events of the window through the
// timestamp index (skill_usage_events_timestamp, or the partial index of
// failures), so that they cost O(events in the window) whatever the size of
// the table, and count exactly the window rather than the hours it touches.
// Windows of hours read the hourly rollup instead (ToolHours).
// The baselines of past days read the day rollups (tool_daily,
// tool_daily_errors), keyed by day first: O(tools x days).

// ToolMatch selects the tools an alert rule looks at: one tool by name, or
// the tools whose name matches a glob (SQLite GLOB: * any text, ? one
// character, [...] a set; case-sensitive), optionally of one category. The
// zero value matches every tool.
type ToolMatch struct {
	Tool     string
	Glob     string
	Category string
}

func (m ToolMatch) where(cond string, args []any) (string, []any) {
	switch {
	case m.Tool != "":
		cond += ` AND tool_name = ?`
		args = append(args, m.Tool)
	case m.Glob != "" && m.Glob != "*":
		cond += ` AND tool_name GLOB ?`
		args = append(args, m.Glob)
	}
	if m.Category != "" {
		cond += ` AND tool_category = ?`
		args = append(args, m.Category)
	}
	return cond, args
}

// ToolWindow is what one tool did in a window of raw events.
type ToolWindow struct {
	Tool      string
	Calls     int64
	Failures  int64 // status error or timeout
	Durations trackskills.Histogram
}

// ToolWindows returns, per tool matching m with any call in [from, to)
// (Unix ms of the event's timestamp), its calls, failures and durations,
// ordered by tool name.
func (d *DB) ToolWindows(ctx context.Context, from, to int64, m ToolMatch) ([]ToolWindow, error) {
	cond, args := m.where(`timestamp >= ? AND timestamp < ?`, []any{from, to})
	return d.toolWindows(ctx, "tool windows", `SELECT tool_name, COUNT(*), SUM(status <> 'success'), hist_of(duration_ms)
		FROM skill_usage_events WHERE `+cond+` GROUP BY tool_name ORDER BY tool_name`, args)
}

func (d *DB) toolWindows(ctx context.Context, what, query string, args []any) ([]ToolWindow, error) {
	rows, err := d.conn().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []ToolWindow
	for rows.Next() {
		var (
			tw   ToolWindow
			hist []byte
		)
		if err := rows.Scan(&tw.Tool, &tw.Calls, &tw.Failures, &hist); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if err := trackskills.DecodeHistogram(hist, &tw.Durations); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, tw)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ToolHours returns what ToolWindows does from the hourly rollup, over the
// whole hours that [from, to) touches: for long windows, where it reads a
// row per tool per hour instead of every event (up to an hour more than
// the window, at its start).
func (d *DB) ToolHours(ctx context.Context, from, to int64, m ToolMatch) ([]ToolWindow, error) {
	cond, args := m.where(`hour >= ? AND hour < ?`, []any{floorDiv(from, hourMs) * hourMs, to})
	return d.toolWindows(ctx, "tool hours", `SELECT tool_name, SUM(invocations), SUM(errors + timeouts), hist_sum(latency_hist)
		FROM tool_hourly WHERE `+cond+` GROUP BY tool_name ORDER BY tool_name`, args)
}

// ToolErrorType is a number of failures of one tool with one error type.
type ToolErrorType struct {
	Tool      string
	ErrorType string
	Failures  int64
}

// WindowErrorTypes returns the failures in [from, to) of the tools matching
// m per tool and error type (events without a type are left out), ordered
// by tool and type.
func (d *DB) WindowErrorTypes(ctx context.Context, from, to int64, m ToolMatch) ([]ToolErrorType, error) {
	// status <> 'success' lets the planner use the partial index of failures.
	cond, args := m.where(`status <> 'success' AND timestamp >= ? AND timestamp < ? AND error_type <> ''`, []any{from, to})
	return d.toolErrorTypes(ctx, "window error types", `SELECT tool_name, error_type, COUNT(*)
		FROM skill_usage_events WHERE `+cond+` GROUP BY 1, 2 ORDER BY 1, 2`, args)
}

// DailyErrorTypes returns the failures of the UTC days [first, last] of the
// tools matching m per tool and error type, from the daily rollup (events
// without a type are left out), ordered by tool and type.
func (d *DB) DailyErrorTypes(ctx context.Context, first, last Day, m ToolMatch) ([]ToolErrorType, error) {
	cond, args := m.where(`day >= ? AND day <= ? AND error_type <> ''`, []any{first.String(), last.String()})
	return d.toolErrorTypes(ctx, "daily error types", `SELECT tool_name, error_type, SUM(failures)
		FROM tool_daily_errors WHERE `+cond+` GROUP BY 1, 2 ORDER BY 1, 2`, args)
}

func (d *DB) toolErrorTypes(ctx context.Context, what, query string, args []any) ([]ToolErrorType, error) {
	rows, err := d.conn().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []ToolErrorType
	for rows.Next() {
		var t ToolErrorType
		if err := rows.Scan(&t.Tool, &t.ErrorType, &t.Failures); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// DailyCalls returns the calls of the UTC days [first, last] of the tools
// matching m, per tool, from the daily rollup, ordered by tool name.
func (d *DB) DailyCalls(ctx context.Context, first, last Day, m ToolMatch) ([]Count, error) {
	cond, args := m.where(`day >= ? AND day <= ?`, []any{first.String(), last.String()})
	out, err := d.counts(ctx, "daily calls", `SELECT tool_name, SUM(invocations) FROM tool_daily
		WHERE `+cond+` GROUP BY 1 ORDER BY 1`, args)
	return out, err
}

// NewestReceived returns when ingest received the event written last (the
// largest rowid: rowids grow with commits), in Unix ms; ok is false when
// the database holds no event. It reads one row.
func (d *DB) NewestReceived(ctx context.Context) (ms int64, ok bool, err error) {
	err = d.conn().QueryRowContext(ctx, `SELECT received_at FROM skill_usage_events ORDER BY rowid DESC LIMIT 1`).Scan(&ms)
	if errors.Is(err, dbsql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("newest received: %w", err)
	}
	return ms, true, nil
}
