package analytics

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// SummaryResponse is /analytics/summary: the original design's fields,
// then extras.
type SummaryResponse struct {
	Period           string     `json:"period"`
	TotalInvocations int64      `json:"total_invocations"`
	UniqueUsers      GroupCount `json:"unique_users"` // a group's count when filtered by tool or category
	AvgDurationMs    int64      `json:"avg_duration_ms"`
	SuccessRate      string     `json:"success_rate"`
	ErrorRate        string     `json:"error_rate"`
	TimeoutRate      string     `json:"timeout_rate"`
	P50DurationMs    int64      `json:"p50_duration_ms"`
	P95DurationMs    int64      `json:"p95_duration_ms"`
	P99DurationMs    int64      `json:"p99_duration_ms"`
	MaxDurationMs    int64      `json:"max_duration_ms"`
}

func (s *Server) handleSummary(c echo.Context) error {
	r, err := s.parse(c, summaryParams)
	if err != nil {
		return err
	}
	st, err := s.db.Summary(c.Request().Context(), r.window, r.filter)
	if err != nil {
		return err
	}
	users := GroupCount(st.Users) // every user: not a group
	if r.filter.Tool != "" || r.filter.Category != "" {
		users = s.groupCount(st.Users)
	}
	return c.JSON(http.StatusOK, SummaryResponse{
		Period: r.period, TotalInvocations: st.Invocations, UniqueUsers: users,
		AvgDurationMs: avg(st.DurationSum, st.DurationCount),
		SuccessRate:   rate(st.Successes, st.Invocations), ErrorRate: rate(st.Errors, st.Invocations),
		TimeoutRate:   rate(st.Timeouts, st.Invocations),
		P50DurationMs: pctMax(&st.Latency, 0.50, st.DurationMax), P95DurationMs: pctMax(&st.Latency, 0.95, st.DurationMax),
		P99DurationMs: pctMax(&st.Latency, 0.99, st.DurationMax),
		MaxDurationMs: st.DurationMax,
	})
}

// ToolResponse is one element of /analytics/tools.
type ToolResponse struct {
	ToolName      string     `json:"tool_name"`
	Invocations   int64      `json:"invocations"`
	AvgDurationMs int64      `json:"avg_duration_ms"`
	SuccessRate   string     `json:"success_rate"`
	ErrorRate     string     `json:"error_rate"`
	TimeoutRate   string     `json:"timeout_rate"`
	P50DurationMs int64      `json:"p50_duration_ms"`
	P95DurationMs int64      `json:"p95_duration_ms"`
	P99DurationMs int64      `json:"p99_duration_ms"`
	UniqueUsers   GroupCount `json:"unique_users"`
}

func (s *Server) handleTools(c echo.Context) error {
	r, err := s.parse(c, toolsParams)
	if err != nil {
		return err
	}
	tools, err := s.db.Tools(c.Request().Context(), r.window, r.filter)
	if err != nil {
		return err
	}
	out := make([]ToolResponse, 0, len(tools))
	for i := range tools {
		st := &tools[i]
		out = append(out, ToolResponse{
			ToolName: st.ToolName, Invocations: st.Invocations, AvgDurationMs: avg(st.DurationSum, st.DurationCount),
			SuccessRate: rate(st.Successes, st.Invocations), ErrorRate: rate(st.Errors, st.Invocations),
			TimeoutRate:   rate(st.Timeouts, st.Invocations),
			P50DurationMs: pctMax(&st.Latency, 0.50, st.DurationMax), P95DurationMs: pctMax(&st.Latency, 0.95, st.DurationMax),
			P99DurationMs: pctMax(&st.Latency, 0.99, st.DurationMax),
			UniqueUsers:   s.groupCount(st.Users),
		})
	}
	return c.JSON(http.StatusOK, out)
}
