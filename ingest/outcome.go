package ingest

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/httpapi"
)

// Hooks are called as the server answers, for metrics; a nil one is
// skipped. They run on the request path, once per request, and must be
// cheap.
type Hooks struct {
	// Accepted gets the number of events of a request that the stream
	// stored.
	Accepted func(events int)
	// Rejected gets why events were refused, one of RejectReasons, and
	// how many. A request refused before its events are read (no key,
	// over the rate, too large, not JSON) counts as one event.
	Rejected func(reason string, events int)
}

// The reasons of Hooks.Rejected.
const (
	ReasonInvalid      = "invalid"      // 400, 415: not an event, or not a valid one
	ReasonUnauthorized = "unauthorized" // 401: no ingest key, or a wrong one
	ReasonForbidden    = "forbidden"    // 403: a browser page of another origin without keys
	ReasonRateLimited  = "rate_limited" // 429: over the rate of the address or the key
	ReasonTooLarge     = "too_large"    // 413: over a size limit
	ReasonUnavailable  = "unavailable"  // 503: the stream did not store the events
	ReasonStoreFull    = "store_full"   // 503: the stream or its store is full
	ReasonError        = "error"        // anything else (500)
)

// RejectReasons lists every reason of Hooks.Rejected.
var RejectReasons = []string{
	ReasonInvalid, ReasonUnauthorized, ReasonForbidden, ReasonRateLimited,
	ReasonTooLarge, ReasonUnavailable, ReasonStoreFull, ReasonError,
}

func (s *Server) accepted(n int) {
	if f := s.cfg.Hooks.Accepted; f != nil {
		f(n)
	}
}

func (s *Server) rejected(reason string, n int) {
	if f := s.cfg.Hooks.Rejected; f != nil && n > 0 {
		f(reason, n)
	}
}

// eventsError is the error of a request whose events, more than one, were
// all refused for it.
type eventsError struct {
	events int
	err    error
}

func (e *eventsError) Error() string { return e.err.Error() }
func (e *eventsError) Unwrap() error { return e.err }

// countRejected returns middleware that passes every error of the /api
// routes to Hooks.Rejected, with its reason; the handlers report what
// they answer without an error themselves.
func (s *Server) countRejected() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if s.cfg.Hooks.Rejected == nil {
			return next
		}
		return func(c echo.Context) error {
			err := next(c)
			if err != nil {
				n := 1
				if ee := (*eventsError)(nil); errors.As(err, &ee) {
					n = ee.events
				}
				if reason := rejectReason(err); reason != "" {
					s.rejected(reason, n)
				}
			}
			return err
		}
	}
}

// rejectReason classifies an error of an /api route as the error handler
// answers it; "" for a path or method that has no route.
func rejectReason(err error) string {
	var ue *httpapi.UnavailableError
	var fe *trackskills.FieldError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ue) && ue.Message == StoreFullMessage:
		return ReasonStoreFull
	case errors.Is(err, httpapi.ErrUnavailable):
		return ReasonUnavailable
	case errors.As(err, &fe), errors.Is(err, trackskills.ErrInvalid):
		return ReasonInvalid
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
			return ReasonInvalid
		case http.StatusUnauthorized:
			return ReasonUnauthorized
		case http.StatusForbidden:
			return ReasonForbidden
		case http.StatusTooManyRequests:
			return ReasonRateLimited
		case http.StatusRequestEntityTooLarge:
			return ReasonTooLarge
		case http.StatusServiceUnavailable:
			return ReasonUnavailable
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			return "" // no route: nothing was sent to be stored
		}
	}
	return ReasonError
}
