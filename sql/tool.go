package sql

import (
	"context"
	"fmt"
)

// Count is a name with a number of events.
type Count struct {
	Name  string
	Count int64
}

// ToolCategories returns the events per category of one tool in a window,
// most first (ties by name).
func (d *DB) ToolCategories(ctx context.Context, w Window, f Filter) ([]Count, error) {
	cond, args := f.where(w.where())
	return d.counts(ctx, "tool categories", `SELECT tool_category, SUM(invocations) FROM `+w.table()+`
		WHERE `+cond+` GROUP BY tool_category ORDER BY 2 DESC, 1`, args)
}

// ErrorTypesIn returns the failed events (error or timeout) of a window
// per error_type, most common first; an event without a type counts under
// "". Day windows read the daily rollup (tool_daily_errors), hourly ones
// the raw failures.
func (d *DB) ErrorTypesIn(ctx context.Context, w Window, f Filter) ([]Count, error) {
	if !w.Hourly {
		cond, args := f.where(w.where())
		return d.counts(ctx, "error types", `SELECT error_type, SUM(failures) FROM tool_daily_errors
			WHERE `+cond+` GROUP BY 1 ORDER BY 2 DESC, 1`, args)
	}
	// Whole hours, as the hourly rollups that the totals beside it read.
	from, to := floorDiv(w.From, hourMs)*hourMs, w.To
	cond, args := f.where(`status <> 'success' AND timestamp >= ? AND timestamp < ?`, []any{from, to})
	return d.counts(ctx, "error types", `SELECT COALESCE(error_type, ''), COUNT(*) FROM skill_usage_events
		WHERE `+cond+` GROUP BY 1 ORDER BY 2 DESC, 1`, args)
}

func (d *DB) counts(ctx context.Context, what, query string, args []any) ([]Count, error) {
	rows, err := d.conn().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []Count{}
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Name, &c.Count); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ToolDailyUsers returns the distinct users of one tool on each day of
// [first, last] that had any.
func (d *DB) ToolDailyUsers(ctx context.Context, first, last Day, tool string) (map[Day]int64, error) {
	rows, err := d.conn().QueryContext(ctx, `SELECT day, users FROM tool_daily_users
		WHERE tool_name = ? AND day >= ? AND day <= ? AND users > 0`, tool, first.String(), last.String())
	if err != nil {
		return nil, fmt.Errorf("tool daily users: %w", err)
	}
	defer rows.Close()
	out := map[Day]int64{}
	var text string
	for rows.Next() {
		var n int64
		if err := rows.Scan(&text, &n); err != nil {
			return nil, fmt.Errorf("tool daily users: %w", err)
		}
		day, err := ParseDay(text)
		if err != nil {
			return nil, fmt.Errorf("tool daily users: %w", err)
		}
		out[day] = n
	}
	return out, rows.Err()
}
