package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"

	"github.com/trackskills/trackskills"
)

// Window is a time range [From, To) in Unix ms. Daily windows read the
// day rollups of every UTC day the range touches; hourly ones the hour
// rollups of every hour it touches.
type Window struct {
	From, To int64
	Hourly   bool
}

// Filter narrows an aggregate query; empty fields match everything.
type Filter struct {
	Tool     string
	Category string
}

// ToolStats are the aggregate figures of a window, for one tool or all.
type ToolStats struct {
	ToolName      string
	Invocations   int64
	Successes     int64
	Errors        int64
	Timeouts      int64
	DurationCount int64
	DurationSum   int64
	DurationMax   int64
	Latency       trackskills.Histogram
	Users         int64
}

// where returns the key condition and arguments of a window.
func (w Window) where() (string, []any) {
	if w.Hourly {
		return `hour >= ? AND hour < ?`, []any{floorDiv(w.From, hourMs) * hourMs, w.To}
	}
	return `day >= ? AND day <= ?`, []any{DayOf(w.From).String(), DayOf(w.To - 1).String()}
}

func (w Window) table() string {
	if w.Hourly {
		return "tool_hourly"
	}
	return "tool_daily"
}

func (f Filter) where(cond string, args []any) (string, []any) {
	if f.Tool != "" {
		cond += ` AND tool_name = ?`
		args = append(args, f.Tool)
	}
	if f.Category != "" {
		cond += ` AND tool_category = ?`
		args = append(args, f.Category)
	}
	return cond, args
}

const statsColumns = `COALESCE(SUM(invocations), 0), COALESCE(SUM(successes), 0), COALESCE(SUM(errors), 0),
	COALESCE(SUM(timeouts), 0), COALESCE(SUM(duration_count), 0), COALESCE(SUM(duration_sum), 0),
	COALESCE(MAX(duration_max), 0), hist_sum(latency_hist)`

func scanStats(sc interface{ Scan(...any) error }, st *ToolStats, extra ...any) error {
	var hist []byte
	dest := append(extra, &st.Invocations, &st.Successes, &st.Errors, &st.Timeouts,
		&st.DurationCount, &st.DurationSum, &st.DurationMax, &hist)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	return trackskills.DecodeHistogram(hist, &st.Latency)
}

// Summary returns the totals of a window, with its distinct users.
func (d *DB) Summary(ctx context.Context, w Window, f Filter) (ToolStats, error) {
	var st ToolStats
	cond, args := f.where(w.where())
	// The table name comes from Window.table, a constant.
	row := d.db.QueryRowContext(ctx, `SELECT `+statsColumns+` FROM `+w.table()+` WHERE `+cond, args...)
	if err := scanStats(row, &st); err != nil {
		return st, fmt.Errorf("summary: %w", err)
	}
	users, err := d.distinctUsers(ctx, DayOf(w.From).String(), DayOf(w.To-1).String(), f)
	if err != nil {
		return st, err
	}
	st.Users = users
	return st, nil
}

// distinctUsers counts the users active on the days [from, to] (UTC), of
// one tool when f.Tool is set. Users are kept per tool, not per category:
// with f.Category set they are the users of the tools seen in that
// category on those days.
func (d *DB) distinctUsers(ctx context.Context, from, to string, f Filter) (int64, error) {
	tool := f.Tool
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
		args = []any{dayNumber(from), dayNumber(to), f.Category, from, to}
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
		q, args = `SELECT COUNT(DISTINCT user_id_hash) FROM tool_user_daily WHERE day >= ? AND day <= ? AND tool_name = ?`, []any{dayNumber(from), dayNumber(to), tool}
	}
	var n int64
	if err := d.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// endsAtLastSeen reports whether no user was seen after the day to: then
// the users active on [from, to] are exactly those last seen on or after
// from, an index range count rather than a DISTINCT over every day. Every
// window that ends now qualifies.
func (d *DB) endsAtLastSeen(ctx context.Context, to string, perTool bool) (bool, error) {
	q := `SELECT COALESCE(MAX(day), '') FROM user_last_seen`
	if perTool {
		// The days of tool_user_last_seen are those of the counts that are
		// not zero; the counts have an index on day (the users' table has
		// none since 0009).
		q = `SELECT COALESCE(MAX(day), '') FROM tool_last_seen_counts WHERE users > 0`
	}
	var last string
	if err := d.db.QueryRowContext(ctx, q).Scan(&last); err != nil {
		return false, fmt.Errorf("last seen day: %w", err)
	}
	return to >= last, nil
}

// Tools returns the figures of every tool of a window, most used first.
func (d *DB) Tools(ctx context.Context, w Window, f Filter) ([]ToolStats, error) {
	cond, args := f.where(w.where())
	rows, err := d.db.QueryContext(ctx, `SELECT tool_name, `+statsColumns+` FROM `+w.table()+` WHERE `+cond+`
		GROUP BY tool_name ORDER BY 2 DESC, tool_name`, args...)
	if err != nil {
		return nil, fmt.Errorf("tools: %w", err)
	}
	defer rows.Close()
	out := []ToolStats{}
	for rows.Next() {
		var st ToolStats
		if err := scanStats(rows, &st, &st.ToolName); err != nil {
			return nil, fmt.Errorf("tools: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tools: %w", err)
	}
	// Users per tool in one query rather than one per tool.
	users, err := d.usersPerTool(ctx, DayOf(w.From).String(), DayOf(w.To-1).String())
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Users = users[out[i].ToolName]
	}
	return out, nil
}

func (d *DB) usersPerTool(ctx context.Context, from, to string) (map[string]int64, error) {
	fast, err := d.endsAtLastSeen(ctx, to, true)
	if err != nil {
		return nil, err
	}
	q, args := `SELECT tool_name, COUNT(DISTINCT user_id_hash) FROM tool_user_daily
		WHERE day >= ? AND day <= ? GROUP BY tool_name`, []any{dayNumber(from), dayNumber(to)}
	if fast {
		q, args = `SELECT tool_name, SUM(users) FROM tool_last_seen_counts WHERE day >= ? GROUP BY tool_name`, []any{from}
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
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

// DailyActive is the number of users active on one UTC day.
type DailyActive struct {
	Day   string
	Users int64
}

// DailyActiveUsers returns the active users of each day of [from, to]
// (YYYY-MM-DD, UTC) that had any, newest first; of one tool when tool is
// set.
func (d *DB) DailyActiveUsers(ctx context.Context, from, to, tool string) ([]DailyActive, error) {
	q, args := `SELECT day, COUNT(*) FROM user_daily WHERE day >= ? AND day <= ?
		GROUP BY day ORDER BY day DESC`, []any{from, to}
	if tool != "" {
		q, args = `SELECT day, users FROM tool_daily_users WHERE tool_name = ? AND day >= ? AND day <= ? AND users > 0
			ORDER BY day DESC`, []any{tool, from, to}
	}
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("daily active users: %w", err)
	}
	defer rows.Close()
	out := []DailyActive{}
	for rows.Next() {
		var da DailyActive
		if err := rows.Scan(&da.Day, &da.Users); err != nil {
			return nil, fmt.Errorf("daily active users: %w", err)
		}
		out = append(out, da)
	}
	return out, rows.Err()
}

// ActiveUsers counts the distinct users active on the days [from, to], of
// one tool when tool is set.
func (d *DB) ActiveUsers(ctx context.Context, from, to, tool string) (int64, error) {
	return d.distinctUsers(ctx, from, to, Filter{Tool: tool})
}

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

// Failures returns the newest failed events of [from, to), at most limit.
func (d *DB) Failures(ctx context.Context, from, to int64, f Filter, status string, limit int) ([]Failure, error) {
	cond, args := `status <> 'success' AND timestamp >= ? AND timestamp < ?`, []any{from, to}
	cond, args = f.where(cond, args)
	if status != "" {
		cond += ` AND status = ?`
		args = append(args, status)
	}
	args = append(args, limit)
	rows, err := d.db.QueryContext(ctx, `SELECT timestamp, tool_name, tool_category, status,
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

// DayRange lists the UTC days of [from, to] as YYYY-MM-DD, oldest first.
func DayRange(from, to int64) []string {
	var out []string
	for t := floorDiv(from, dayMs) * dayMs; t < to; t += dayMs {
		out = append(out, DayOf(t).String())
	}
	return out
}
