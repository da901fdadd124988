// Package httpapi is the HTTP plumbing that ingest, analytics and the
// commands share: the echo factory with its request logger, the one error
// mapping, the key middleware, the health endpoints and the HTTP server
// with its timeouts.
package httpapi

import (
	"log/slog"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// NewEcho returns an echo instance with the banner hidden, ipx as its
// client-IP function, ErrorHandler, a request logger and panic recovery.
// The request log line holds the method, path, status and latency, never
// a client address or a query string; it is Debug for a success, Info for
// a 4xx and Warn for a 5xx. It goes to logger, or to the logger of the part
// that served the request (see LogTo).
func NewEcho(logger *slog.Logger, ipx echo.IPExtractor) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipx
	e.HTTPErrorHandler = ErrorHandler(logger)
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogMethod: true, LogURIPath: true, LogLatency: true, LogError: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelDebug
			if v.Status >= 500 {
				level = slog.LevelWarn
			} else if v.Status >= 400 {
				level = slog.LevelInfo
			}
			loggerOf(c, logger).LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", v.Method), slog.String("path", v.URIPath),
				slog.Int("status", v.Status), slog.Duration("latency", v.Latency))
			return nil
		},
	}))
	e.Use(middleware.Recover())
	return e
}

// partLogger carries a part's logger in the request's echo logger slot,
// which echo resets for every request: choosing it costs no allocation.
// echo's own logger stays embedded for the middleware that prints through
// it (Recover).
type partLogger struct {
	echo.Logger
	slog *slog.Logger
}

// LogTo returns middleware that makes logger the one that the request log
// line and the error handler of e write to, for the routes it wraps. A
// part mounted on a shared echo uses it, so that its requests are logged
// with its own attributes (component=ingest, component=analytics).
func LogTo(e *echo.Echo, logger *slog.Logger) echo.MiddlewareFunc {
	pl := &partLogger{Logger: e.Logger, slog: logger}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetLogger(pl)
			return next(c)
		}
	}
}

// loggerOf returns the logger LogTo chose for the request, else fallback.
func loggerOf(c echo.Context, fallback *slog.Logger) *slog.Logger {
	if pl, ok := c.Logger().(*partLogger); ok {
		return pl.slog
	}
	return fallback
}
