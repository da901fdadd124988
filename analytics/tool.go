package analytics

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// ErrorTypeCount is one error type of a tool's failures.
type ErrorTypeCount struct {
	ErrorType *string `json:"error_type"` // null for failures without a type
	Count     int64   `json:"count"`
}

// CategoryCount is the events of a tool in one category.
type CategoryCount struct {
	ToolCategory string `json:"tool_category"`
	Invocations  int64  `json:"invocations"`
}

// ToolDay is one UTC day of a tool's daily series.
type ToolDay struct {
	Date          string     `json:"date"`
	Invocations   int64      `json:"invocations"`
	Errors        int64      `json:"errors"`
	Timeouts      int64      `json:"timeouts"`
	P50DurationMs int64      `json:"p50_duration_ms"`
	P95DurationMs int64      `json:"p95_duration_ms"`
	Users         GroupCount `json:"users"`
}

// ToolDetailResponse is /analytics/tools/{name}.
type ToolDetailResponse struct {
	ToolName      string           `json:"tool_name"`
	Period        string           `json:"period"`
	Invocations   int64            `json:"invocations"`
	SuccessRate   string           `json:"success_rate"`
	ErrorRate     string           `json:"error_rate"`
	TimeoutRate   string           `json:"timeout_rate"`
	AvgDurationMs int64            `json:"avg_duration_ms"`
	P50DurationMs int64            `json:"p50_duration_ms"`
	P95DurationMs int64            `json:"p95_duration_ms"`
	P99DurationMs int64            `json:"p99_duration_ms"`
	MaxDurationMs int64            `json:"max_duration_ms"`
	UniqueUsers   GroupCount       `json:"unique_users"`
	ErrorTypes    []ErrorTypeCount `json:"error_types"`
	Categories    []CategoryCount  `json:"categories"`
	Daily         []ToolDay        `json:"daily"`
}

// handleTool answers the figures of one tool in the window, with its
// error types, categories and a daily series.
func (s *Server) handleTool(c echo.Context) error {
	r, err := s.parse(c, toolParams)
	if err != nil {
		return err
	}
	name := r.tool
	ctx := c.Request().Context()
	st, err := s.db.Summary(ctx, r.window, r.filter)
	if err != nil {
		return err
	}
	if st.Invocations == 0 {
		return fmt.Errorf("%w: tool %q has no events in this window (%s)", trackskills.ErrNotFound, name, r.period)
	}
	out := ToolDetailResponse{
		ToolName: name, Period: r.period, Invocations: st.Invocations,
		SuccessRate: rate(st.Successes, st.Invocations), ErrorRate: rate(st.Errors, st.Invocations),
		TimeoutRate: rate(st.Timeouts, st.Invocations), AvgDurationMs: avg(st.DurationSum, st.DurationCount),
		P50DurationMs: pctMax(&st.Latency, 0.50, st.DurationMax), P95DurationMs: pctMax(&st.Latency, 0.95, st.DurationMax),
		P99DurationMs: pctMax(&st.Latency, 0.99, st.DurationMax),
		MaxDurationMs: st.DurationMax, UniqueUsers: s.groupCount(st.Users),
	}
	types, err := s.db.ErrorTypesIn(ctx, r.window, r.filter)
	if err != nil {
		return err
	}
	out.ErrorTypes = make([]ErrorTypeCount, 0, len(types))
	for _, t := range types {
		out.ErrorTypes = append(out.ErrorTypes, ErrorTypeCount{ErrorType: optString(t.Name), Count: t.Count})
	}
	cats, err := s.db.ToolCategories(ctx, r.window, r.filter)
	if err != nil {
		return err
	}
	out.Categories = make([]CategoryCount, 0, len(cats))
	for _, ct := range cats {
		out.Categories = append(out.Categories, CategoryCount{ToolCategory: ct.Name, Invocations: ct.Count})
	}
	points, err := s.db.Series(ctx, r.window, r.filter, true, nil)
	if err != nil {
		return err
	}
	first, last := r.window.FirstDay(), r.window.LastDay()
	users, err := s.db.ToolDailyUsers(ctx, first, last, name)
	if err != nil {
		return err
	}
	daily := series(first.StartMs(), last.StartMs(), dayMs, points)
	out.Daily = make([]ToolDay, 0, len(daily))
	for i, b := range daily {
		day := first + sql.Day(i)
		out.Daily = append(out.Daily, ToolDay{Date: day.String(), Invocations: b.Invocations, Errors: b.Errors,
			Timeouts: b.Timeouts, P50DurationMs: b.P50DurationMs, P95DurationMs: b.P95DurationMs, Users: s.groupCount(users[day])})
	}
	return c.JSON(http.StatusOK, out)
}
