package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/trackskills/trackskills"
)

// Point is one bucket of a time series: the figures of the hour or day
// starting at Start (Unix ms, UTC), of one tool when Tool is set.
type Point struct {
	Start       int64
	Tool        string
	Invocations int64
	Successes   int64
	Errors      int64
	Timeouts    int64
	Latency     trackskills.Histogram
}

// bucketSource returns the bucket expression and table of a series: hours
// read tool_hourly; days read tool_daily for a daily window, and the hours
// of an hourly window (from/to, hours=N) grouped by day, so that the
// window's ends are kept to the hour.
func bucketSource(w Window, daily bool) (expr, table string) {
	switch {
	case !daily:
		return `hour`, "tool_hourly"
	case w.Hourly:
		return `(hour / 86400000) * 86400000`, "tool_hourly"
	default:
		return `CAST(strftime('%s', day) AS INTEGER) * 1000`, "tool_daily"
	}
}

// Series returns the non-empty buckets (hours, or UTC days when daily) of
// a window, oldest first. With tools set, it returns one series per tool
// of tools instead of the total, ordered by bucket then tool.
func (d *DB) Series(ctx context.Context, w Window, f Filter, daily bool, tools []string) ([]Point, error) {
	expr, table := bucketSource(w, daily)
	if table == "tool_hourly" {
		w.Hourly = true // the window's hours, also for a days=N window
	}
	cond, args := f.where(w.where())
	tool, group := `''`, `1`
	if tools != nil {
		if len(tools) == 0 {
			return []Point{}, nil
		}
		// Placeholders only: the names themselves are arguments.
		cond += ` AND tool_name IN (?` + strings.Repeat(`, ?`, len(tools)-1) + `)`
		for _, t := range tools {
			args = append(args, t)
		}
		tool, group = `tool_name`, `1, 2`
	}
	// expr, tool, group and table are constants chosen above.
	rows, err := d.db.QueryContext(ctx, `SELECT `+expr+`, `+tool+`, COALESCE(SUM(invocations), 0),
		COALESCE(SUM(successes), 0), COALESCE(SUM(errors), 0), COALESCE(SUM(timeouts), 0), hist_sum(latency_hist)
		FROM `+table+` WHERE `+cond+` GROUP BY `+group+` ORDER BY `+group, args...)
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	defer rows.Close()
	out := []Point{}
	for rows.Next() {
		var p Point
		var hist []byte
		if err := rows.Scan(&p.Start, &p.Tool, &p.Invocations, &p.Successes, &p.Errors, &p.Timeouts, &hist); err != nil {
			return nil, fmt.Errorf("series: %w", err)
		}
		if err := trackskills.DecodeHistogram(hist, &p.Latency); err != nil {
			return nil, fmt.Errorf("series: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	return out, nil
}

// TopTools returns the names of the n most used tools of a window, most
// used first (ties by name).
func (d *DB) TopTools(ctx context.Context, w Window, f Filter, n int) ([]string, error) {
	cond, args := f.where(w.where())
	rows, err := d.db.QueryContext(ctx, `SELECT tool_name FROM `+w.table()+` WHERE `+cond+`
		GROUP BY tool_name ORDER BY SUM(invocations) DESC, tool_name LIMIT ?`, append(args, n)...)
	if err != nil {
		return nil, fmt.Errorf("top tools: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("top tools: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("top tools: %w", err)
	}
	return out, nil
}

// CategoryStats are the figures of one tool category of a window.
type CategoryStats struct {
	ToolStats
	Category string
	Tools    int64 // distinct tools with events
}

// Categories returns the figures of every category of a window, most used
// first (ties by name).
func (d *DB) Categories(ctx context.Context, w Window, f Filter) ([]CategoryStats, error) {
	cond, args := f.where(w.where())
	rows, err := d.db.QueryContext(ctx, `SELECT tool_category, COUNT(DISTINCT tool_name), `+statsColumns+`
		FROM `+w.table()+` WHERE `+cond+` GROUP BY tool_category ORDER BY 3 DESC, tool_category`, args...)
	if err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	defer rows.Close()
	out := []CategoryStats{}
	for rows.Next() {
		var cs CategoryStats
		if err := scanStats(rows, &cs.ToolStats, &cs.Category, &cs.Tools); err != nil {
			return nil, fmt.Errorf("categories: %w", err)
		}
		out = append(out, cs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	return out, nil
}

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
	return d.errorTypes(ctx, w, f)
}

func (d *DB) errorTypes(ctx context.Context, w Window, f Filter) ([]Count, error) {
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
	rows, err := d.db.QueryContext(ctx, query, args...)
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
// [from, to] (YYYY-MM-DD, UTC) that had any.
func (d *DB) ToolDailyUsers(ctx context.Context, tool, from, to string) (map[string]int64, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT day, users FROM tool_daily_users
		WHERE tool_name = ? AND day >= ? AND day <= ? AND users > 0`, tool, from, to)
	if err != nil {
		return nil, fmt.Errorf("tool daily users: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var day string
		var n int64
		if err := rows.Scan(&day, &n); err != nil {
			return nil, fmt.Errorf("tool daily users: %w", err)
		}
		out[day] = n
	}
	return out, rows.Err()
}

// CohortCell is the number of users of a cohort active in a week: those
// first seen (their earliest day in user_daily) in the ISO week starting
// on Cohort, active in the week starting on Week (both Mondays,
// YYYY-MM-DD). Week equal to Cohort gives the cohort's size.
type CohortCell struct {
	Cohort string
	Week   string
	Users  int64
}

// Cohorts returns the weekly cohorts whose Monday is in [first, last]
// (YYYY-MM-DD) with their activity up to the day last, exact counts from
// user_daily.
func (d *DB) Cohorts(ctx context.Context, first, lastCohort, lastDay string) ([]CohortCell, error) {
	// date(day, 'weekday 0', '-6 days') is the Monday of day's ISO week:
	// 'weekday 0' moves forward to the Sunday ending it.
	// A user's cohort is the week of their first day (user_first_seen);
	// their activity comes from user_weekly, one row per active week.
	// lastDay bounds the first day so that a window in the past ignores
	// later arrivals, as the activity does.
	rows, err := d.db.QueryContext(ctx, `SELECT date(f.day, 'weekday 0', '-6 days') AS cohort, w.week, COUNT(*)
		FROM user_weekly w JOIN user_first_seen f ON f.user_id_hash = w.user_id_hash
		WHERE w.week >= ? AND w.week <= date(?, 'weekday 0', '-6 days')
		  AND f.day >= ? AND f.day <= ? AND f.day <= ?
		GROUP BY 1, 2 ORDER BY 1, 2`, first, lastDay, first, date6(lastCohort), lastDay)
	if err != nil {
		return nil, fmt.Errorf("cohorts: %w", err)
	}
	defer rows.Close()
	out := []CohortCell{}
	for rows.Next() {
		var c CohortCell
		if err := rows.Scan(&c.Cohort, &c.Week, &c.Users); err != nil {
			return nil, fmt.Errorf("cohorts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cohorts: %w", err)
	}
	return out, nil
}

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

// Export calls fn with each raw event of [from, to) matching f and status
// (empty: any), oldest first, at most limit (< 1: no limit). Rows are read
// from a cursor one by one; row is reused between calls. An error from fn
// stops the export and is returned as is.
func (d *DB) Export(ctx context.Context, from, to int64, f Filter, status string, limit int, fn func(row *ExportRow) error) error {
	cond, args := f.where(`timestamp >= ? AND timestamp < ?`, []any{from, to})
	if status != "" {
		cond += ` AND status = ?`
		args = append(args, status)
	}
	if limit < 1 {
		limit = -1 // SQLite: no limit
	}
	args = append(args, limit)
	rows, err := d.db.QueryContext(ctx, `SELECT event_id_text(event_id), timestamp, tool_name, tool_category, status,
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

// date6 returns the Sunday ending the week that starts on monday
// (YYYY-MM-DD); a bad date is returned unchanged.
func date6(monday string) string {
	t, err := time.Parse(time.DateOnly, monday)
	if err != nil {
		return monday
	}
	return t.AddDate(0, 0, 6).Format(time.DateOnly)
}
