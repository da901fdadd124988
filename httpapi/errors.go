package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
)

// ErrUnavailable marks an error of a part that cannot take the request now
// but may soon: the event stream when it cannot store events. The error
// handler answers 503 with Retry-After.
var ErrUnavailable = errors.New("unavailable")

// unavailableMessage is the 503 body's error: only the event stream is
// ever unavailable this way, and clients retry on it.
const unavailableMessage = "the event stream cannot take events now; retry later"

// UnavailableError is an ErrUnavailable that says why, and what to do, to
// the client: its Message is the 503 body's error, and RetryAfter (at
// least a second) its Retry-After.
type UnavailableError struct {
	Message    string
	RetryAfter time.Duration
	Err        error // the cause, logged
}

// Error returns the cause, for the log; Message is the client's.
func (e *UnavailableError) Error() string { return e.Err.Error() }

// Unwrap returns ErrUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// ErrorBody is every error response, in the original design's shape.
type ErrorBody struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Field   string `json:"field,omitempty"`
}

// ErrorHandler maps errors to responses, in one place: a
// *trackskills.FieldError or trackskills.ErrInvalid is a 400 (naming the
// field), ErrUnavailable a 503 with Retry-After, trackskills.ErrNotFound a
// 404, an *echo.HTTPError keeps its code, anything else is a 500 whose
// detail is logged, not sent. It logs to the logger of the part that served
// the request (see LogTo), else to logger. A HEAD request gets the status
// alone.
func ErrorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		log := loggerOf(c, logger)
		status, body := http.StatusInternalServerError, ErrorBody{Error: "internal error"}
		var fe *trackskills.FieldError
		var he *echo.HTTPError
		switch {
		case errors.As(err, &fe):
			status, body.Error, body.Field = http.StatusBadRequest, fe.Message, fe.Field
		case errors.Is(err, trackskills.ErrInvalid):
			status, body.Error = http.StatusBadRequest, err.Error()
		case errors.Is(err, ErrUnavailable):
			status, body.Error = http.StatusServiceUnavailable, unavailableMessage
			retry := time.Second
			if ue := (*UnavailableError)(nil); errors.As(err, &ue) {
				body.Error, retry = ue.Message, max(retry, ue.RetryAfter)
			}
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
			log.Warn("publish failed", "err", err)
		case errors.Is(err, trackskills.ErrNotFound):
			status, body.Error = http.StatusNotFound, err.Error()
		case errors.As(err, &he):
			status = he.Code
			if m, ok := he.Message.(string); ok {
				body.Error = m
			} else {
				body.Error = http.StatusText(he.Code)
			}
		default:
			log.Error("request failed", "path", c.Request().URL.Path, "err", err)
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.JSON(status, body)
		}
		if err != nil {
			log.Debug("write error response", "err", err)
		}
	}
}
