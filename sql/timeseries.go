package sql

import (
	"context"
	"fmt"
	"strings"

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
	rows, err := d.conn().QueryContext(ctx, `SELECT `+expr+`, `+tool+`, COALESCE(SUM(invocations), 0),
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
	rows, err := d.conn().QueryContext(ctx, `SELECT tool_name FROM `+w.table()+` WHERE `+cond+`
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
