package sql

// Window is a time range [From, To) in Unix ms. Daily windows read the
// day rollups of every UTC day the range touches; hourly ones the hour
// rollups of every hour it touches.
type Window struct {
	From, To int64
	Hourly   bool
}

// FirstDay returns the UTC day the window starts on.
func (w Window) FirstDay() Day { return DayOf(w.From) }

// LastDay returns the UTC day of the window's last millisecond.
func (w Window) LastDay() Day { return DayOf(w.To - 1) }

// where returns the key condition and arguments of a window.
func (w Window) where() (string, []any) {
	if w.Hourly {
		return `hour >= ? AND hour < ?`, []any{floorDiv(w.From, hourMs) * hourMs, w.To}
	}
	return `day >= ? AND day <= ?`, []any{w.FirstDay().String(), w.LastDay().String()}
}

func (w Window) table() string {
	if w.Hourly {
		return "tool_hourly"
	}
	return "tool_daily"
}

// Filter narrows an aggregate query; empty fields match everything.
type Filter struct {
	Tool     string
	Category string
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
