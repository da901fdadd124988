package analytics

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// DailyActiveUsers is one day of /analytics/retention.
type DailyActiveUsers struct {
	Date string `json:"date"`
	DAU  int64  `json:"dau"`
}

// RetentionResponse is /analytics/retention.
type RetentionResponse struct {
	DailyActiveUsers  []DailyActiveUsers `json:"daily_active_users"`
	WeeklyActiveUsers int64              `json:"weekly_active_users"`
	Period            string             `json:"period"`
	MonthlyActive     int64              `json:"monthly_active_users"`
	UniqueUsers       int64              `json:"unique_users"`
}

// handleRetention answers the active users of each day of the window, of
// the 7 and 30 UTC days ending with its last day, and of the whole window.
func (s *Server) handleRetention(c echo.Context) error {
	r, err := s.parse(c, retentionParams)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	tool := r.filter.Tool
	first, last := r.window.FirstDay(), r.window.LastDay()
	dau, err := s.db.DailyActiveUsers(ctx, first, last, tool)
	if err != nil {
		return err
	}
	out := RetentionResponse{Period: r.period, DailyActiveUsers: make([]DailyActiveUsers, 0, len(dau))}
	for _, d := range dau {
		out.DailyActiveUsers = append(out.DailyActiveUsers, DailyActiveUsers{Date: d.Day.String(), DAU: d.Users})
	}
	if out.WeeklyActiveUsers, err = s.db.ActiveUsers(ctx, last-6, last, tool); err != nil {
		return err
	}
	if out.MonthlyActive, err = s.db.ActiveUsers(ctx, last-29, last, tool); err != nil {
		return err
	}
	if out.UniqueUsers, err = s.db.ActiveUsers(ctx, first, last, tool); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
