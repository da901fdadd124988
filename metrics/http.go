package metrics

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// UnmatchedRoute is the route label of a request that matched nothing in
// the router: the raw path never becomes a label value. (A 404 or 405 on
// a path the router knows in part keeps the pattern of that node: the
// set of patterns is fixed by the routes.)
const UnmatchedRoute = "unmatched"

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{
		requests: prometheus.NewCounterVec(counterOpts(httpRequests), httpRequests.Labels),
		duration: prometheus.NewHistogramVec(histogramOpts(httpDuration, prometheus.DefBuckets), httpDuration.Labels),
	}
}

// Middleware returns echo middleware that counts and times every request
// by part(route), route and status code, where route is echo's route
// pattern (c.Path(), "/analytics/tools/:name"), or UnmatchedRoute. Add it
// with e.Use after httpapi.NewEcho: it hands an error to the echo error
// handler itself, so that it sees the status that goes out.
func (r *Registry) Middleware(part func(route string) string) echo.MiddlewareFunc {
	h := r.http
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			route := c.Path()
			if route == "" {
				route = UnmatchedRoute
			}
			p := part(route)
			code := c.Response().Status
			h.requests.WithLabelValues(p, route, strconv.Itoa(code)).Inc()
			h.duration.WithLabelValues(p, route).Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// Part returns a part function that names every route part, for a
// process that runs one part.
func Part(part string) func(string) string {
	return func(string) string { return part }
}
