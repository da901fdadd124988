package sql

import (
	"context"
	"fmt"

	"github.com/trackskills/trackskills"
)

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
	row := d.conn().QueryRowContext(ctx, `SELECT `+statsColumns+` FROM `+w.table()+` WHERE `+cond, args...)
	if err := scanStats(row, &st); err != nil {
		return st, fmt.Errorf("summary: %w", err)
	}
	users, err := d.distinctUsers(ctx, w.FirstDay(), w.LastDay(), f)
	if err != nil {
		return st, err
	}
	st.Users = users
	return st, nil
}

// Tools returns the figures of every tool of a window, most used first.
func (d *DB) Tools(ctx context.Context, w Window, f Filter) ([]ToolStats, error) {
	cond, args := f.where(w.where())
	rows, err := d.conn().QueryContext(ctx, `SELECT tool_name, `+statsColumns+` FROM `+w.table()+` WHERE `+cond+`
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
	users, err := d.usersPerTool(ctx, w.FirstDay(), w.LastDay())
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Users = users[out[i].ToolName]
	}
	return out, nil
}
