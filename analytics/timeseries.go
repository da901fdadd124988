package analytics

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/sql"
)

const (
	hourMs = int64(time.Hour / time.Millisecond)
	dayMs  = 24 * hourMs

	// maxBuckets bounds a time series (31 days of hours, with room for an
	// unaligned from/to window).
	maxBuckets = 31*24 + 1
	// topSeriesTools is how many tools by=tool gives a series of.
	topSeriesTools = 10
)

// Bucket is one hour or day of /analytics/timeseries.
type Bucket struct {
	Bucket        string `json:"bucket"` // RFC 3339 start, UTC
	Invocations   int64  `json:"invocations"`
	Successes     int64  `json:"successes"`
	Errors        int64  `json:"errors"`
	Timeouts      int64  `json:"timeouts"`
	P50DurationMs int64  `json:"p50_duration_ms"`
	P95DurationMs int64  `json:"p95_duration_ms"`
}

// ToolSeries is the series of one tool of /analytics/timeseries?by=tool.
type ToolSeries struct {
	ToolName string   `json:"tool_name"`
	Buckets  []Bucket `json:"buckets"`
}

// TimeseriesResponse is /analytics/timeseries. Tools is there only with
// by=tool.
type TimeseriesResponse struct {
	Interval string       `json:"interval"`
	Period   string       `json:"period"`
	Buckets  []Bucket     `json:"buckets"`
	Tools    []ToolSeries `json:"tools,omitzero"`
}

func floorMs(ms, unit int64) int64 {
	q := ms / unit
	if ms%unit != 0 && ms < 0 {
		q--
	}
	return q * unit
}

// series lays points (of one tool or the total) on the grid of every
// bucket from first to last, zeros where there are none.
func series(first, last, step int64, points []sql.Point) []Bucket {
	out := make([]Bucket, 0, (last-first)/step+1)
	i := 0
	for t := first; t <= last; t += step {
		b := Bucket{Bucket: time.UnixMilli(t).UTC().Format(time.RFC3339)}
		for i < len(points) && points[i].Start < t {
			i++ // outside the grid; not expected
		}
		if i < len(points) && points[i].Start == t {
			p := &points[i]
			b.Invocations, b.Successes, b.Errors, b.Timeouts = p.Invocations, p.Successes, p.Errors, p.Timeouts
			b.P50DurationMs, b.P95DurationMs = pct(&p.Latency, 0.50), pct(&p.Latency, 0.95)
			i++
		}
		out = append(out, b)
	}
	return out
}

// handleTimeseries answers the buckets (hours or days) of the window,
// zeros included, and with by=tool those of its most used tools.
func (s *Server) handleTimeseries(c echo.Context) error {
	r, err := s.parse(c, timeseriesParams)
	if err != nil {
		return err
	}
	first, last := r.buckets()
	ctx := c.Request().Context()
	daily := r.interval == "day"
	points, err := s.db.Series(ctx, r.window, r.filter, daily, nil)
	if err != nil {
		return err
	}
	out := TimeseriesResponse{Interval: r.interval, Period: r.period, Buckets: series(first, last, r.step, points)}
	if r.byTool {
		top, err := s.db.TopTools(ctx, r.window, r.filter, topSeriesTools)
		if err != nil {
			return err
		}
		points, err := s.db.Series(ctx, r.window, r.filter, daily, top)
		if err != nil {
			return err
		}
		per := map[string][]sql.Point{}
		for _, p := range points {
			per[p.Tool] = append(per[p.Tool], p)
		}
		out.Tools = make([]ToolSeries, 0, len(top))
		for _, name := range top {
			out.Tools = append(out.Tools, ToolSeries{ToolName: name, Buckets: series(first, last, r.step, per[name])})
		}
	}
	return c.JSON(http.StatusOK, out)
}
