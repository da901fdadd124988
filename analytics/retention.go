package analytics

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/sql"
)

// DailyActiveUsers is one day of /analytics/retention.
type DailyActiveUsers struct {
	Date string     `json:"date"`
	DAU  GroupCount `json:"dau"`
}

// RetentionResponse is /analytics/retention.
// With tool= every count is that tool's, a group's (GroupCount).
type RetentionResponse struct {
	DailyActiveUsers  []DailyActiveUsers `json:"daily_active_users"`
	WeeklyActiveUsers GroupCount         `json:"weekly_active_users"`
	Period            string             `json:"period"`
	MonthlyActive     GroupCount         `json:"monthly_active_users"`
	UniqueUsers       GroupCount         `json:"unique_users"`
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
	count := func(n int64) GroupCount {
		if tool == "" {
			return GroupCount(n) // every user: not a group
		}
		return s.groupCount(n)
	}
	out := RetentionResponse{Period: r.period, DailyActiveUsers: make([]DailyActiveUsers, 0, len(dau))}
	for _, d := range dau {
		out.DailyActiveUsers = append(out.DailyActiveUsers, DailyActiveUsers{Date: d.Day.String(), DAU: count(d.Users)})
	}
	for _, a := range []struct {
		to   *GroupCount
		from sql.Day
	}{{&out.WeeklyActiveUsers, last - 6}, {&out.MonthlyActive, last - 29}, {&out.UniqueUsers, first}} {
		n, err := s.db.ActiveUsers(ctx, a.from, last, tool)
		if err != nil {
			return err
		}
		*a.to = count(n)
	}
	return c.JSON(http.StatusOK, out)
}
