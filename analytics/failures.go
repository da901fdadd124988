package analytics

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

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

// handleErrors answers the newest failed events of the window: those of
// status error unless status= widens it to timeouts (failureStatus).
func (s *Server) handleErrors(c echo.Context) error {
	r, err := s.parse(c, errorsParams)
	if err != nil {
		return err
	}
	fails, err := s.db.Failures(c.Request().Context(), r.window, r.filter, r.status, r.limit)
	if err != nil {
		return err
	}
	out := ErrorsResponse{Errors: make([]ErrorResponse, 0, len(fails)), Count: len(fails)}
	for _, f := range fails {
		out.Errors = append(out.Errors, ErrorResponse{
			// The original design's format: SQLite's datetime, UTC.
			Timestamp: time.UnixMilli(f.Timestamp).UTC().Format(time.DateTime),
			ToolName:  f.ToolName, ErrorType: optString(f.ErrorType), ErrorMessage: optString(f.ErrorMessage),
			DurationMs: f.DurationMs, Status: f.Status, ToolCategory: f.ToolCategory, TimestampMs: f.Timestamp,
		})
	}
	return c.JSON(http.StatusOK, out)
}
