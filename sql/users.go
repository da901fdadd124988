package sql

import (
	"context"
	"fmt"
)

// DailyActive is the number of users active on one UTC day.
type DailyActive struct {
	Day   Day
	Users int64
}

// DailyActiveUsers returns the active users of each day of [first, last]
// that had any, newest first; of one tool when tool is set.
func (d *DB) DailyActiveUsers(ctx context.Context, first, last Day, tool string) ([]DailyActive, error) {
	q, args := `SELECT day, COUNT(*) FROM user_daily WHERE day >= ? AND day <= ?
		GROUP BY day ORDER BY day DESC`, []any{first.String(), last.String()}
	if tool != "" {
		q, args = `SELECT day, users FROM tool_daily_users WHERE tool_name = ? AND day >= ? AND day <= ? AND users > 0
			ORDER BY day DESC`, []any{tool, first.String(), last.String()}
	}
	rows, err := d.conn().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("daily active users: %w", err)
	}
	defer rows.Close()
	out := []DailyActive{}
	var day string
	for rows.Next() {
		var da DailyActive
		if err := rows.Scan(&day, &da.Users); err != nil {
			return nil, fmt.Errorf("daily active users: %w", err)
		}
		if da.Day, err = ParseDay(day); err != nil {
			return nil, fmt.Errorf("daily active users: %w", err)
		}
		out = append(out, da)
	}
	return out, rows.Err()
}

// ActiveUsers counts the distinct users active on the days [first, last],
// of one tool when tool is set.
func (d *DB) ActiveUsers(ctx context.Context, first, last Day, tool string) (int64, error) {
	return d.distinctUsers(ctx, first, last, Filter{Tool: tool})
}

// distinctUsers counts the users active on the days [first, last], of one
// tool when f.Tool is set. Users are kept per tool, not per category: with
// f.Category set they are the users of the tools seen in that category on
// those days.
func (d *DB) distinctUsers(ctx context.Context, first, last Day, f Filter) (int64, error) {
	tool := f.Tool
	from, to := first.String(), last.String()
	fast, err := d.endsAtLastSeen(ctx, to, tool != "")
	if err != nil {
		return 0, err
	}
	var q string
	var args []any
	switch {
	case f.Category != "":
		q = `SELECT COUNT(DISTINCT user_id_hash) FROM tool_user_daily WHERE day >= ? AND day <= ?
			AND tool_name IN (SELECT DISTINCT tool_name FROM tool_daily WHERE tool_category = ? AND day >= ? AND day <= ?)`
		args = []any{int64(first), int64(last), f.Category, from, to}
		if tool != "" {
			q += ` AND tool_name = ?`
			args = append(args, tool)
		}
	case fast && tool == "":
		q, args = `SELECT COUNT(*) FROM user_last_seen WHERE day >= ?`, []any{from}
	case fast:
		q, args = `SELECT COALESCE(SUM(users), 0) FROM tool_last_seen_counts WHERE tool_name = ? AND day >= ?`, []any{tool, from}
	case tool == "":
		q, args = `SELECT COUNT(DISTINCT user_id_hash) FROM user_daily WHERE day >= ? AND day <= ?`, []any{from, to}
	default:
		q, args = `SELECT COUNT(DISTINCT user_id_hash) FROM tool_user_daily WHERE day >= ? AND day <= ? AND tool_name = ?`, []any{int64(first), int64(last), tool}
	}
	var n int64
	if err := d.conn().QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// endsAtLastSeen reports whether no user was seen after the day to
// (YYYY-MM-DD): then the users active on [from, to] are exactly those last
// seen on or after from, an index range count rather than a DISTINCT over
// every day. Every window that ends now qualifies.
func (d *DB) endsAtLastSeen(ctx context.Context, to string, perTool bool) (bool, error) {
	q := `SELECT COALESCE(MAX(day), '') FROM user_last_seen`
	if perTool {
		// The days of tool_user_last_seen are those of the counts that are
		// not zero; the counts are keyed by day (the users' table has no
		// index on day since 0009), read from the newest.
		q = `SELECT COALESCE((SELECT day FROM tool_last_seen_counts WHERE users > 0 ORDER BY day DESC LIMIT 1), '')`
	}
	var last string
	if err := d.conn().QueryRowContext(ctx, q).Scan(&last); err != nil {
		return false, fmt.Errorf("last seen day: %w", err)
	}
	// Text days compare as the days they name.
	return to >= last, nil
}

// usersPerTool counts the distinct users of each tool on the days [first,
// last].
func (d *DB) usersPerTool(ctx context.Context, first, last Day) (map[string]int64, error) {
	fast, err := d.endsAtLastSeen(ctx, last.String(), true)
	if err != nil {
		return nil, err
	}
	q, args := `SELECT tool_name, COUNT(DISTINCT user_id_hash) FROM tool_user_daily
		WHERE day >= ? AND day <= ? GROUP BY tool_name`, []any{int64(first), int64(last)}
	if fast {
		q, args = `SELECT tool_name, SUM(users) FROM tool_last_seen_counts WHERE day >= ? GROUP BY tool_name`, []any{first.String()}
	}
	rows, err := d.conn().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("users per tool: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var tool string
		var n int64
		if err := rows.Scan(&tool, &n); err != nil {
			return nil, fmt.Errorf("users per tool: %w", err)
		}
		out[tool] = n
	}
	return out, rows.Err()
}
