// Package analytics serves the read-only analytics API over the aggregate
// tables (docs/CONTRACT.md, Analytics API): the original design's
// /analytics/summary, /tools, /retention and /errors with its exact JSON
// shapes, plus extra fields, and the endpoints beyond it (timeseries, tool
// detail, categories, cohorts, export, live, pipeline health). Every request is parsed once
// into one request value; each resource has its own file. It reads SQLite
// through package sql only and never writes.
package analytics

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/nats-io/nats.go/jetstream"

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
	// MaxExports is how many exports may run at once; one more is answered
	// 503 with Retry-After. Zero means DefaultMaxExports.
	MaxExports int
	// ExportWriteTimeout bounds the writing of each chunk of an export: a
	// client that stops reading for longer is cut off. Zero means
	// DefaultExportWriteTimeout.
	ExportWriteTimeout time.Duration
	// Pipeline holds the thresholds of GET /analytics/pipeline; zero
	// fields take DefaultPipelineConfig's.
	Pipeline PipelineConfig
	// MinGroupSize is the minimum group size K: a count of the users or
	// sessions of one group (a tool, a category, a skill, an MCP server)
	// from 1 to K-1 is answered as "fewer than K" (GroupCount). 0 or 1
	// hides nothing.
	MinGroupSize int
}

// Server is the analytics API.
type Server struct {
	cfg     Config
	db      *sql.DB
	logger  *slog.Logger
	live    *Live
	keys    *httpapi.KeyRing
	exports *exports
	js      jetstream.JetStream // the events stream, for the pipeline's lag; nil = none

	// Now is the clock; tests replace it.
	Now func() time.Time
}

// New returns the API over db, which may be opened read-only.
func New(cfg Config, db *sql.DB, logger *slog.Logger) *Server {
	if cfg.MaxExports <= 0 {
		cfg.MaxExports = DefaultMaxExports
	}
	if cfg.ExportWriteTimeout <= 0 {
		cfg.ExportWriteTimeout = DefaultExportWriteTimeout
	}
	if def := DefaultPipelineConfig(); cfg.Pipeline.LagAmber <= 0 {
		cfg.Pipeline.LagAmber = def.LagAmber
	}
	if def := DefaultPipelineConfig(); cfg.Pipeline.LagRed <= 0 {
		cfg.Pipeline.LagRed = max(def.LagRed, cfg.Pipeline.LagAmber)
	}
	return &Server{cfg: cfg, db: db, logger: logger, keys: httpapi.NewKeyRing(cfg.ReadKeys, 0),
		exports: newExports(cfg.MaxExports), Now: time.Now}
}

// Close cuts every export in flight, so that an HTTP server's graceful
// shutdown does not wait for a client that stopped reading, and refuses
// new ones; each cut is logged. The live feed has its own Close.
func (s *Server) Close() {
	if n := s.exports.close(); n > 0 {
		s.logger.Warn("shutdown: exports in flight cut", "exports", n)
	}
}

// ReplaceReadKeys makes keys the accepted read keys from the next request
// on (a rotation without a restart). An empty list is refused: an API with
// keys never turns into one that anyone can read.
func (s *Server) ReplaceReadKeys(keys []string) error {
	if err := s.keys.Replace(keys); err != nil {
		return fmt.Errorf("read keys: %w", err)
	}
	return nil
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
	g.GET("/pipeline", s.handlePipeline)
	g.GET("/portfolio", s.handlePortfolio)
	g.GET("/mcp", s.handleMCP)
	g.GET("/mcp/:server", s.handleMCPServer)
	g.GET("/skills", s.handleSkills)
	g.GET("/skills/:name", s.handleSkill)
	g.GET("/skill", s.handleSkill) // ?name=, for names with a slash
	g.GET("/runs", s.handleRuns)
	g.GET("/costs", s.handleCosts)
	g.GET("/coverage", s.handleCoverage)
	return nil
}

// requireKey checks x-api-key (the original design's header) or a Bearer
// key, in constant time; CORS preflights pass.
func (s *Server) requireKey() echo.MiddlewareFunc {
	return httpapi.RequireKey(httpapi.KeyAuth{
		Ring:         s.keys,
		Message:      "missing or wrong read key: send x-api-key: <key> or Authorization: Bearer <key>",
		AllowOptions: true,
	})
}

// RequireReadKey returns middleware that asks for a read key, as the
// analytics routes do, for other routes that the read keys guard
// (/metrics); it follows ReplaceReadKeys.
func (s *Server) RequireReadKey() echo.MiddlewareFunc { return s.requireKey() }
