// Package analytics serves the read-only analytics API over the aggregate
// tables (SPEC §8): the seed's /analytics/summary, /tools, /retention and
// /errors with the seed's exact JSON shapes, plus extra fields. It reads
// SQLite through package sql only and never writes.
package analytics

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/web"
)

// Config configures the analytics API.
type Config struct {
	// ReadKeys are the accepted read keys; empty means no key is needed.
	ReadKeys []string
	// AllowOrigins are the origins allowed by CORS; empty means none.
	AllowOrigins []string
}

// Server is the analytics API.
type Server struct {
	cfg    Config
	db     *sql.DB
	logger *slog.Logger
	live   *Live

	// Now is the clock; tests replace it.
	Now func() time.Time
}

// New returns the API over db, which may be opened read-only.
func New(cfg Config, db *sql.DB, logger *slog.Logger) *Server {
	return &Server{cfg: cfg, db: db, logger: logger, Now: time.Now}
}

// SetLive turns on GET /analytics/live, fed by l.
func (s *Server) SetLive(l *Live) { s.live = l }

// Register adds the API's routes and the dashboard (at / and /static/) to
// e, an echo built with httpapi.NewEcho: their requests are logged to the
// server's logger.
func (s *Server) Register(e *echo.Echo) error {
	dash, err := web.NewHandler()
	if err != nil {
		return err
	}
	logTo := httpapi.LogTo(e, s.logger)
	e.GET("/", echo.WrapHandler(dash), logTo)
	e.HEAD("/", echo.WrapHandler(dash), logTo)
	e.GET("/static/*", echo.WrapHandler(dash), logTo)
	e.HEAD("/static/*", echo.WrapHandler(dash), logTo)

	g := e.Group("/analytics", logTo)
	g.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			web.SetSecurityHeaders(c.Response().Header())
			return next(c)
		}
	})
	g.Use(middleware.GzipWithConfig(middleware.GzipConfig{
		MinLength: 1024,
		Skipper:   func(c echo.Context) bool { return c.Path() == "/analytics/live" },
	}))
	if len(s.cfg.AllowOrigins) > 0 {
		g.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: s.cfg.AllowOrigins,
			AllowMethods: []string{http.MethodGet, http.MethodOptions},
			AllowHeaders: []string{"X-Api-Key", echo.HeaderAuthorization},
		}))
	}
	g.Use(s.requireKey())
	g.GET("/summary", s.handleSummary)
	g.GET("/tools", s.handleTools)
	g.GET("/retention", s.handleRetention)
	g.GET("/errors", s.handleErrors)
	g.GET("/timeseries", s.handleTimeseries)
	g.GET("/tools/:name", s.handleTool)
	g.GET("/tool", s.handleTool) // ?name=, for names with a slash
	g.GET("/categories", s.handleCategories)
	g.GET("/cohorts", s.handleCohorts)
	g.GET("/export.csv", s.handleExportCSV)
	g.GET("/export.ndjson", s.handleExportNDJSON)
	g.GET("/live", s.handleLive)
	return nil
}

// requireKey checks x-api-key (the original design's header) or a Bearer
// key, in constant time; CORS preflights pass.
func (s *Server) requireKey() echo.MiddlewareFunc {
	return httpapi.RequireKey(httpapi.KeyAuth{
		Keys:         s.cfg.ReadKeys,
		Message:      "missing or wrong read key: send x-api-key: <key> or Authorization: Bearer <key>",
		AllowOptions: true,
	})
}

// query is a parsed window and filter.
type query struct {
	window sql.Window
	filter sql.Filter
	period string
	days   int
}

func badParam(name, format string, args ...any) error {
	return &trackskills.FieldError{Field: name, Message: fmt.Sprintf(format, args...)}
}

// parseQuery reads days=N (1-365), hours=N (1-168) or from/to (RFC 3339),
// and the tool and category filters. days=N is the last N UTC days,
// today included; hours=N the last N hours, this one included.
func (s *Server) parseQuery(c echo.Context, defDays int) (query, error) {
	var q query
	now := s.Now().UTC()
	days, hours, from, to := c.QueryParam("days"), c.QueryParam("hours"), c.QueryParam("from"), c.QueryParam("to")
	set := 0
	for _, v := range []string{days, hours, from + to} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return q, badParam("days", "use one of days, hours, or from and to")
	}
	q.filter = sql.Filter{Tool: c.QueryParam("tool"), Category: c.QueryParam("category")}
	switch {
	case hours != "":
		n, err := strconv.Atoi(hours)
		if err != nil || n < 1 || n > 168 {
			return q, badParam("hours", "must be a whole number from 1 to 168, not %q", hours)
		}
		start := now.Truncate(time.Hour).Add(-time.Duration(n-1) * time.Hour)
		q.window = sql.Window{From: start.UnixMilli(), To: now.UnixMilli() + 1, Hourly: true}
		q.period, q.days = fmt.Sprintf("%d hours", n), int(math.Ceil(float64(n)/24))
	case from != "" || to != "":
		f, err := time.Parse(time.RFC3339, from)
		if err != nil {
			return q, badParam("from", "must be an RFC 3339 time such as 2026-02-09T00:00:00Z, not %q", from)
		}
		t := now
		if to != "" {
			if t, err = time.Parse(time.RFC3339, to); err != nil {
				return q, badParam("to", "must be an RFC 3339 time such as 2026-02-10T00:00:00Z, not %q", to)
			}
		}
		if !t.After(f) {
			return q, badParam("to", "must be after from")
		}
		if t.Sub(f) > 366*24*time.Hour {
			return q, badParam("from", "the window can be at most 366 days")
		}
		q.window = sql.Window{From: f.UnixMilli(), To: t.UnixMilli(), Hourly: true}
		q.days = int(math.Ceil(t.Sub(f).Hours() / 24))
		q.period = fmt.Sprintf("%s to %s", f.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	default:
		n := defDays
		if days != "" {
			var err error
			if n, err = strconv.Atoi(days); err != nil || n < 1 || n > 365 {
				return q, badParam("days", "must be a whole number from 1 to 365, not %q", days)
			}
		}
		start := now.Truncate(24*time.Hour).AddDate(0, 0, -(n - 1))
		q.window = sql.Window{From: start.UnixMilli(), To: now.UnixMilli() + 1}
		q.period, q.days = fmt.Sprintf("%d days", n), n
	}
	return q, nil
}

// rate formats part/total as a percentage with two decimals, as the seed.
func rate(part, total int64) string {
	if total == 0 {
		return "0.00"
	}
	return strconv.FormatFloat(100*float64(part)/float64(total), 'f', 2, 64)
}

func avg(sum, n int64) int64 {
	if n == 0 {
		return 0
	}
	return int64(math.Round(float64(sum) / float64(n)))
}

func pct(h *trackskills.Histogram, q float64) int64 {
	return int64(math.Round(h.Quantile(q)))
}

// pctMax is pct bounded by the largest duration seen: a bucket's midpoint
// may lie above it (one 150 ms call would report p50 155 ms), and the true
// quantile never does.
func pctMax(h *trackskills.Histogram, q float64, maxMs int64) int64 {
	return min(pct(h, q), maxMs)
}

// SummaryResponse is /analytics/summary: the seed's fields, then extras.
type SummaryResponse struct {
	Period           string `json:"period"`
	TotalInvocations int64  `json:"total_invocations"`
	UniqueUsers      int64  `json:"unique_users"`
	AvgDurationMs    int64  `json:"avg_duration_ms"`
	SuccessRate      string `json:"success_rate"`
	ErrorRate        string `json:"error_rate"`
	TimeoutRate      string `json:"timeout_rate"`
	P50DurationMs    int64  `json:"p50_duration_ms"`
	P95DurationMs    int64  `json:"p95_duration_ms"`
	P99DurationMs    int64  `json:"p99_duration_ms"`
	MaxDurationMs    int64  `json:"max_duration_ms"`
}

func (s *Server) handleSummary(c echo.Context) error {
	q, err := s.parseQuery(c, 7)
	if err != nil {
		return err
	}
	st, err := s.db.Summary(c.Request().Context(), q.window, q.filter)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, SummaryResponse{
		Period: q.period, TotalInvocations: st.Invocations, UniqueUsers: st.Users,
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
	ToolName      string `json:"tool_name"`
	Invocations   int64  `json:"invocations"`
	AvgDurationMs int64  `json:"avg_duration_ms"`
	SuccessRate   string `json:"success_rate"`
	ErrorRate     string `json:"error_rate"`
	TimeoutRate   string `json:"timeout_rate"`
	P50DurationMs int64  `json:"p50_duration_ms"`
	P95DurationMs int64  `json:"p95_duration_ms"`
	P99DurationMs int64  `json:"p99_duration_ms"`
	UniqueUsers   int64  `json:"unique_users"`
}

func (s *Server) handleTools(c echo.Context) error {
	q, err := s.parseQuery(c, 7)
	if err != nil {
		return err
	}
	tools, err := s.db.Tools(c.Request().Context(), q.window, q.filter)
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
			UniqueUsers:   st.Users,
		})
	}
	return c.JSON(http.StatusOK, out)
}

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

func (s *Server) handleRetention(c echo.Context) error {
	q, err := s.parseQuery(c, 30)
	if err != nil {
		return err
	}
	if q.filter.Category != "" {
		return badParam("category", "retention counts users, which are kept per tool, not per category: use tool")
	}
	ctx := c.Request().Context()
	tool := q.filter.Tool
	first, last := sql.DayOf(q.window.From).String(), sql.DayOf(q.window.To-1).String()
	dau, err := s.db.DailyActiveUsers(ctx, first, last, tool)
	if err != nil {
		return err
	}
	out := RetentionResponse{Period: q.period, DailyActiveUsers: make([]DailyActiveUsers, 0, len(dau))}
	for _, d := range dau {
		out.DailyActiveUsers = append(out.DailyActiveUsers, DailyActiveUsers{Date: d.Day, DAU: d.Users})
	}
	end := q.window.To - 1
	if out.WeeklyActiveUsers, err = s.activeSince(ctx, end, 7, tool); err != nil {
		return err
	}
	if out.MonthlyActive, err = s.activeSince(ctx, end, 30, tool); err != nil {
		return err
	}
	if out.UniqueUsers, err = s.db.ActiveUsers(ctx, first, last, tool); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// activeSince counts the users (of tool, when set) active in the n UTC
// days ending with end.
func (s *Server) activeSince(ctx context.Context, end int64, n int, tool string) (int64, error) {
	last := time.UnixMilli(end).UTC()
	return s.db.ActiveUsers(ctx, sql.DayOfTime(last.AddDate(0, 0, -(n-1))).String(), sql.DayOf(end).String(), tool)
}

// ErrorResponse is one failure of /analytics/errors.
type ErrorResponse struct {
	Timestamp    string  `json:"timestamp"`
	ToolName     string  `json:"tool_name"`
	ErrorType    *string `json:"error_type"`
	ErrorMessage *string `json:"error_message"`
	DurationMs   *int64  `json:"duration_ms"`
	Status       string  `json:"status"`
	ToolCategory string  `json:"tool_category"`
	TimestampMs  int64   `json:"timestamp_ms"`
}

// ErrorsResponse is /analytics/errors.
type ErrorsResponse struct {
	Errors []ErrorResponse `json:"errors"`
	Count  int             `json:"count"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) handleErrors(c echo.Context) error {
	q, err := s.parseQuery(c, 7)
	if err != nil {
		return err
	}
	limit := 50
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return badParam("limit", "must be a whole number from 1 to 1000, not %q", v)
		}
	}
	status := c.QueryParam("status")
	if status != "" && status != trackskills.StatusError && status != trackskills.StatusTimeout {
		return badParam("status", "must be error or timeout, not %q", status)
	}
	fails, err := s.db.Failures(c.Request().Context(), q.window.From, q.window.To, q.filter, status, limit)
	if err != nil {
		return err
	}
	out := ErrorsResponse{Errors: make([]ErrorResponse, 0, len(fails)), Count: len(fails)}
	for _, f := range fails {
		out.Errors = append(out.Errors, ErrorResponse{
			// The seed's format: SQLite's datetime, UTC.
			Timestamp: time.UnixMilli(f.Timestamp).UTC().Format(time.DateTime),
			ToolName:  f.ToolName, ErrorType: optString(f.ErrorType), ErrorMessage: optString(f.ErrorMessage),
			DurationMs: f.DurationMs, Status: f.Status, ToolCategory: f.ToolCategory, TimestampMs: f.Timestamp,
		})
	}
	return c.JSON(http.StatusOK, out)
}
