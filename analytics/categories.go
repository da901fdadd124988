package analytics

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// CategoryResponse is one element of /analytics/categories.
type CategoryResponse struct {
	ToolCategory  string `json:"tool_category"`
	Invocations   int64  `json:"invocations"`
	Tools         int64  `json:"tools"`
	SuccessRate   string `json:"success_rate"`
	ErrorRate     string `json:"error_rate"`
	TimeoutRate   string `json:"timeout_rate"`
	AvgDurationMs int64  `json:"avg_duration_ms"`
	P50DurationMs int64  `json:"p50_duration_ms"`
	P95DurationMs int64  `json:"p95_duration_ms"`
}

// handleCategories answers the figures of every category of the window.
func (s *Server) handleCategories(c echo.Context) error {
	r, err := s.parse(c, categoriesParams)
	if err != nil {
		return err
	}
	cats, err := s.db.Categories(c.Request().Context(), r.window, r.filter)
	if err != nil {
		return err
	}
	out := make([]CategoryResponse, 0, len(cats))
	for i := range cats {
		st := &cats[i]
		out = append(out, CategoryResponse{
			ToolCategory: st.Category, Invocations: st.Invocations, Tools: st.Tools,
			SuccessRate: rate(st.Successes, st.Invocations), ErrorRate: rate(st.Errors, st.Invocations),
			TimeoutRate: rate(st.Timeouts, st.Invocations), AvgDurationMs: avg(st.DurationSum, st.DurationCount),
			P50DurationMs: pct(&st.Latency, 0.50), P95DurationMs: pct(&st.Latency, 0.95),
		})
	}
	return c.JSON(http.StatusOK, out)
}
