package sql

import (
	"context"
	"fmt"
)

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
	rows, err := d.conn().QueryContext(ctx, `SELECT tool_category, COUNT(DISTINCT tool_name), `+statsColumns+`
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
