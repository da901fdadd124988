package analytics

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// The endpoints of issue 3 beyond the seed's: /analytics/timeseries,
// /analytics/tools/{name} (or /analytics/tool?name=), /analytics/categories,
// /analytics/cohorts and /analytics/export.csv|.ndjson. Every one takes the
// windows of parseQuery; all but the error types of a tool and the export
// read aggregates.

const (
	hourMs = int64(time.Hour / time.Millisecond)
	dayMs  = 24 * hourMs

	// maxBuckets bounds a time series (31 days of hours, with room for an
	// unaligned from/to window).
	maxBuckets = 31*24 + 1
	// topSeriesTools is how many tools by=tool gives a series of.
	topSeriesTools = 10
	// maxExportRows bounds the limit of an export.
	maxExportRows = 1_000_000
	// exportFlushRows is how many rows an export writes between flushes.
	exportFlushRows = 1000
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

func (s *Server) handleTimeseries(c echo.Context) error {
	q, err := s.parseQuery(c, 7)
	if err != nil {
		return err
	}
	interval := c.QueryParam("interval")
	if interval == "" {
		interval = "day"
		if c.QueryParam("hours") != "" {
			interval = "hour"
		}
	}
	var step int64
	switch interval {
	case "hour":
		step = hourMs
	case "day":
		step = dayMs
	default:
		return badParam("interval", "must be hour or day, not %q", interval)
	}
	by := c.QueryParam("by")
	if by != "" && by != "tool" {
		return badParam("by", "must be tool or absent, not %q", by)
	}
	first, last := floorMs(q.window.From, step), floorMs(q.window.To-1, step)
	if n := (last-first)/step + 1; n > maxBuckets {
		return badParam("interval", "%d %s buckets is too many (at most %d): use interval=day or a shorter window", n, interval, maxBuckets)
	}
	ctx := c.Request().Context()
	daily := interval == "day"
	points, err := s.db.Series(ctx, q.window, q.filter, daily, nil)
	if err != nil {
		return err
	}
	out := TimeseriesResponse{Interval: interval, Period: q.period, Buckets: series(first, last, step, points)}
	if by == "tool" {
		top, err := s.db.TopTools(ctx, q.window, q.filter, topSeriesTools)
		if err != nil {
			return err
		}
		points, err := s.db.Series(ctx, q.window, q.filter, daily, top)
		if err != nil {
			return err
		}
		per := map[string][]sql.Point{}
		for _, p := range points {
			per[p.Tool] = append(per[p.Tool], p)
		}
		out.Tools = make([]ToolSeries, 0, len(top))
		for _, name := range top {
			out.Tools = append(out.Tools, ToolSeries{ToolName: name, Buckets: series(first, last, step, per[name])})
		}
	}
	return c.JSON(http.StatusOK, out)
}

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
	Date          string `json:"date"`
	Invocations   int64  `json:"invocations"`
	Errors        int64  `json:"errors"`
	Timeouts      int64  `json:"timeouts"`
	P50DurationMs int64  `json:"p50_duration_ms"`
	P95DurationMs int64  `json:"p95_duration_ms"`
	Users         int64  `json:"users"`
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
	UniqueUsers   int64            `json:"unique_users"`
	ErrorTypes    []ErrorTypeCount `json:"error_types"`
	Categories    []CategoryCount  `json:"categories"`
	Daily         []ToolDay        `json:"daily"`
}

// toolName reads the tool of /analytics/tools/{name}: the name= query
// parameter when set (for names with a slash, which a path segment cannot
// hold unescaped), else the path segment, URL-unescaped.
func toolName(c echo.Context) (string, error) {
	if name := c.QueryParam("name"); name != "" {
		return name, nil
	}
	name := c.Param("name")
	// echo routes on the escaped path when it differs from the decoded
	// one (RawPath set); its parameters are then still escaped.
	if c.Request().URL.RawPath != "" {
		var err error
		if name, err = url.PathUnescape(name); err != nil {
			return "", badParam("name", "is not a valid URL path segment: %v", err)
		}
	}
	if name == "" {
		return "", badParam("name", "is required: /analytics/tools/{name} or /analytics/tool?name=")
	}
	return name, nil
}

func (s *Server) handleTool(c echo.Context) error {
	name, err := toolName(c)
	if err != nil {
		return err
	}
	q, err := s.parseQuery(c, 7)
	if err != nil {
		return err
	}
	q.filter.Tool = name
	ctx := c.Request().Context()
	st, err := s.db.Summary(ctx, q.window, q.filter)
	if err != nil {
		return err
	}
	if st.Invocations == 0 {
		return fmt.Errorf("%w: tool %q has no events in this window (%s)", trackskills.ErrNotFound, name, q.period)
	}
	out := ToolDetailResponse{
		ToolName: name, Period: q.period, Invocations: st.Invocations,
		SuccessRate: rate(st.Successes, st.Invocations), ErrorRate: rate(st.Errors, st.Invocations),
		TimeoutRate: rate(st.Timeouts, st.Invocations), AvgDurationMs: avg(st.DurationSum, st.DurationCount),
		P50DurationMs: pctMax(&st.Latency, 0.50, st.DurationMax), P95DurationMs: pctMax(&st.Latency, 0.95, st.DurationMax),
		P99DurationMs: pctMax(&st.Latency, 0.99, st.DurationMax),
		MaxDurationMs: st.DurationMax, UniqueUsers: st.Users,
	}
	types, err := s.db.ErrorTypesIn(ctx, q.window, q.filter)
	if err != nil {
		return err
	}
	out.ErrorTypes = make([]ErrorTypeCount, 0, len(types))
	for _, t := range types {
		out.ErrorTypes = append(out.ErrorTypes, ErrorTypeCount{ErrorType: optString(t.Name), Count: t.Count})
	}
	cats, err := s.db.ToolCategories(ctx, q.window, q.filter)
	if err != nil {
		return err
	}
	out.Categories = make([]CategoryCount, 0, len(cats))
	for _, ct := range cats {
		out.Categories = append(out.Categories, CategoryCount{ToolCategory: ct.Name, Invocations: ct.Count})
	}
	points, err := s.db.Series(ctx, q.window, q.filter, true, nil)
	if err != nil {
		return err
	}
	days := sql.DayRange(q.window.From, q.window.To)
	users, err := s.db.ToolDailyUsers(ctx, name, days[0], days[len(days)-1])
	if err != nil {
		return err
	}
	first := floorMs(q.window.From, dayMs)
	out.Daily = make([]ToolDay, 0, len(days))
	for i, b := range series(first, first+int64(len(days)-1)*dayMs, dayMs, points) {
		d := ToolDay{Date: days[i], Invocations: b.Invocations, Errors: b.Errors, Timeouts: b.Timeouts,
			P50DurationMs: b.P50DurationMs, P95DurationMs: b.P95DurationMs, Users: users[days[i]]}
		out.Daily = append(out.Daily, d)
	}
	return c.JSON(http.StatusOK, out)
}

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

func (s *Server) handleCategories(c echo.Context) error {
	q, err := s.parseQuery(c, 7)
	if err != nil {
		return err
	}
	cats, err := s.db.Categories(c.Request().Context(), q.window, q.filter)
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

// CohortResponse is one weekly cohort of /analytics/cohorts: the users
// first seen in the ISO week starting on Week (a Monday, UTC), and the
// share of them active in each later week of the window, oldest first.
type CohortResponse struct {
	Week      string    `json:"week"`
	Users     int64     `json:"users"`
	Retention []float64 `json:"retention"`
}

// monday returns the start of the ISO week (Monday, UTC) of t.
func monday(t time.Time) time.Time {
	t = t.UTC().Truncate(24 * time.Hour)
	return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
}

// handleCohorts answers weekly cohorts. weeks=N (1-26, default 8) takes the
// last N ISO weeks, this one included; days/hours/from-to instead take the
// weeks whose Monday is inside that window. Retention runs up to the
// window's last (possibly partial) week, so the newest cohort has none.
func (s *Server) handleCohorts(c echo.Context) error {
	var first, last time.Time // first cohort's Monday, last day of the window
	if v := c.QueryParam("weeks"); v != "" || (c.QueryParam("days") == "" && c.QueryParam("hours") == "" &&
		c.QueryParam("from") == "" && c.QueryParam("to") == "") {
		n := 8
		if v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 26 {
				return badParam("weeks", "must be a whole number from 1 to 26, not %q", v)
			}
		}
		if c.QueryParam("days")+c.QueryParam("hours")+c.QueryParam("from")+c.QueryParam("to") != "" {
			return badParam("weeks", "use weeks or one of days, hours, or from and to, not both")
		}
		last = s.Now().UTC()
		first = monday(last).AddDate(0, 0, -7*(n-1))
	} else {
		q, err := s.parseQuery(c, 7)
		if err != nil {
			return err
		}
		last = time.UnixMilli(q.window.To - 1).UTC()
		first = monday(time.UnixMilli(q.window.From).UTC().Add(6 * 24 * time.Hour).Truncate(24 * time.Hour))
	}
	lastWeek := monday(last)
	out := []CohortResponse{}
	if first.After(lastWeek) {
		return c.JSON(http.StatusOK, out) // no Monday inside the window
	}
	cells, err := s.db.Cohorts(c.Request().Context(), first.Format(time.DateOnly), lastWeek.Format(time.DateOnly), last.Format(time.DateOnly))
	if err != nil {
		return err
	}
	type key struct{ cohort, week string }
	counts := make(map[key]int64, len(cells))
	for _, cl := range cells {
		counts[key{cl.Cohort, cl.Week}] = cl.Users
	}
	for w := first; !w.After(lastWeek); w = w.AddDate(0, 0, 7) {
		week := w.Format(time.DateOnly)
		co := CohortResponse{Week: week, Users: counts[key{week, week}], Retention: []float64{}}
		for a := w.AddDate(0, 0, 7); !a.After(lastWeek); a = a.AddDate(0, 0, 7) {
			share := 0.0
			if co.Users > 0 {
				share = math.Round(1e4*float64(counts[key{week, a.Format(time.DateOnly)}])/float64(co.Users)) / 1e4
			}
			co.Retention = append(co.Retention, share)
		}
		out = append(out, co)
	}
	return c.JSON(http.StatusOK, out)
}

// exportColumns are the columns of an export, in order.
var exportColumns = []string{"event_id", "timestamp", "tool_name", "tool_category", "status", "duration_ms",
	"error_type", "error_message", "request_size_bytes", "response_size_bytes", "metadata", "source",
	"user_id_hash", "session_hash"}

// exportTime is the timestamp format of an export: RFC 3339 with
// milliseconds, UTC.
const exportTime = "2006-01-02T15:04:05.000Z07:00"

// ExportEvent is one line of /analytics/export.ndjson; absent values are
// null, and metadata is the stored JSON (a string if it is not JSON).
type ExportEvent struct {
	EventID           string  `json:"event_id"`
	Timestamp         string  `json:"timestamp"`
	ToolName          string  `json:"tool_name"`
	ToolCategory      string  `json:"tool_category"`
	Status            string  `json:"status"`
	DurationMs        *int64  `json:"duration_ms"`
	ErrorType         *string `json:"error_type"`
	ErrorMessage      *string `json:"error_message"`
	RequestSizeBytes  *int64  `json:"request_size_bytes"`
	ResponseSizeBytes *int64  `json:"response_size_bytes"`
	Metadata          any     `json:"metadata"`
	Source            string  `json:"source"`
	UserIDHash        string  `json:"user_id_hash"`
	SessionHash       *string `json:"session_hash"`
}

func (s *Server) handleExportCSV(c echo.Context) error { return s.export(c, false) }

func (s *Server) handleExportNDJSON(c echo.Context) error { return s.export(c, true) }

// export streams the raw events of a window from a cursor, flushing every
// exportFlushRows rows. The response starts with the first row (or at the
// end of an empty export), so that an error before it is still a 500; an
// error after it can only cut the body short, and is logged here.
func (s *Server) export(c echo.Context, ndjson bool) error {
	q, err := s.parseQuery(c, 7)
	if err != nil {
		return err
	}
	status := c.QueryParam("status")
	switch status {
	case "", trackskills.StatusSuccess, trackskills.StatusError, trackskills.StatusTimeout:
	default:
		return badParam("status", "must be success, error or timeout, not %q", status)
	}
	limit := 0
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxExportRows {
			return badParam("limit", "must be a whole number from 1 to %d, not %q", maxExportRows, v)
		}
	}

	res := c.Response()
	ctype, name := "text/csv; charset=utf-8", "trackskills-events.csv"
	if ndjson {
		ctype, name = "application/x-ndjson", "trackskills-events.ndjson"
	}
	buf := bufio.NewWriterSize(res, 64<<10)
	cw := csv.NewWriter(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	started, n := false, 0
	start := func() error {
		started = true
		res.Header().Set(echo.HeaderContentType, ctype)
		res.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
		res.WriteHeader(http.StatusOK)
		if !ndjson {
			return cw.Write(exportColumns)
		}
		return nil
	}
	flush := func() error {
		if !ndjson {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
		}
		if err := buf.Flush(); err != nil {
			return err
		}
		if err := http.NewResponseController(res.Writer).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	record := make([]string, len(exportColumns))
	err = s.db.Export(c.Request().Context(), q.window.From, q.window.To, q.filter, status, limit, func(r *sql.ExportRow) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		ts := time.UnixMilli(r.Timestamp).UTC().Format(exportTime)
		if ndjson {
			ev := ExportEvent{
				EventID: r.EventID, Timestamp: ts, ToolName: r.ToolName, ToolCategory: r.ToolCategory, Status: r.Status,
				DurationMs: r.DurationMs, ErrorType: r.ErrorType, ErrorMessage: r.ErrorMessage,
				RequestSizeBytes: r.RequestSizeBytes, ResponseSizeBytes: r.ResponseSizeBytes,
				Source: r.Source, UserIDHash: r.UserHash, SessionHash: r.SessionHash,
			}
			if m := r.Metadata; m != nil {
				if json.Valid([]byte(*m)) {
					ev.Metadata = json.RawMessage(*m)
				} else {
					ev.Metadata = *m
				}
			}
			if err := enc.Encode(&ev); err != nil {
				return err
			}
		} else {
			record = append(record[:0], r.EventID, ts, r.ToolName, r.ToolCategory, r.Status, optInt(r.DurationMs),
				optStr(r.ErrorType), optStr(r.ErrorMessage), optInt(r.RequestSizeBytes), optInt(r.ResponseSizeBytes),
				optStr(r.Metadata), r.Source, r.UserHash, optStr(r.SessionHash))
			if err := cw.Write(record); err != nil {
				return err
			}
		}
		if n++; n%exportFlushRows == 0 {
			return flush()
		}
		return nil
	})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		err = flush()
	}
	if err != nil && started {
		if errors.Is(err, context.Canceled) {
			s.logger.Debug("export cancelled", "rows", n, "err", err) // the client left
		} else {
			s.logger.Error("export cut short", "rows", n, "err", err)
		}
		return nil
	}
	return err
}

func optInt(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

func optStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
