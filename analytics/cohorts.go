package analytics

import (
	"math"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/sql"
)

// CohortResponse is one weekly cohort of /analytics/cohorts: the users
// first seen in the ISO week starting on Week (a Monday, UTC), and the
// share of them active in each later week of the window, oldest first.
type CohortResponse struct {
	Week      string    `json:"week"`
	Users     int64     `json:"users"`
	Retention []float64 `json:"retention"`
}

// monday returns the start of the ISO week (Monday, UTC) of d.
func monday(d sql.Day) sql.Day {
	// 1970-01-01, day 0, was a Thursday: 3 days after a Monday.
	return d - sql.Day(((int64(d)+3)%7+7)%7)
}

// handleCohorts answers weekly cohorts, from the first week of the request
// to the week of its last day. Retention runs up to the window's last
// (possibly partial) week, so the newest cohort has none.
func (s *Server) handleCohorts(c echo.Context) error {
	r, err := s.parse(c, cohortsParams)
	if err != nil {
		return err
	}
	first, lastWeek := r.firstWeek, monday(r.lastDay)
	out := []CohortResponse{}
	if first > lastWeek {
		return c.JSON(http.StatusOK, out) // no Monday inside the window
	}
	cells, err := s.db.Cohorts(c.Request().Context(), first, lastWeek, r.lastDay)
	if err != nil {
		return err
	}
	type key struct{ cohort, week sql.Day }
	counts := make(map[key]int64, len(cells))
	for _, cl := range cells {
		counts[key{cl.Cohort, cl.Week}] = cl.Users
	}
	for w := first; w <= lastWeek; w += 7 {
		co := CohortResponse{Week: w.String(), Users: counts[key{w, w}], Retention: []float64{}}
		for a := w + 7; a <= lastWeek; a += 7 {
			share := 0.0
			if co.Users > 0 {
				share = math.Round(1e4*float64(counts[key{w, a}])/float64(co.Users)) / 1e4
			}
			co.Retention = append(co.Retention, share)
		}
		out = append(out, co)
	}
	return c.JSON(http.StatusOK, out)
}
