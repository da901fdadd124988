package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// ReadyTimeout bounds the checks of one /readyz request.
const ReadyTimeout = 2 * time.Second

// Check is a named readiness probe: nil when the part it checks can serve.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// RegisterHealth adds GET /healthz, which answers 200 {"status":"ok"}
// while the process serves HTTP, and GET /readyz, which runs every check
// within ReadyTimeout and answers {"ready":bool,"checks":{name:"ok" or the
// error}}: 200 when all pass, else 503.
func RegisterHealth(e *echo.Echo, checks ...Check) {
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), ReadyTimeout)
		defer cancel()
		status, out := http.StatusOK, make(map[string]string, len(checks))
		for _, ch := range checks {
			if err := ch.Fn(ctx); err != nil {
				status = http.StatusServiceUnavailable
				out[ch.Name] = err.Error()
			} else {
				out[ch.Name] = "ok"
			}
		}
		return c.JSON(status, map[string]any{"ready": status == http.StatusOK, "checks": out})
	})
}
