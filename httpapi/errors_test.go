package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/httpapi"
)

// Ensure every kind of error maps to its status and body, and that only
// the ones that say nothing to the client are logged with their detail.
func TestErrorHandler(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		err        error
		wantStatus int
		wantBody   string // "" for no body
		wantRetry  bool
		wantLog    string // a substring of the log, "" for none
	}{
		{"FieldError", http.MethodPost, fmt.Errorf("decode: %w", &trackskills.FieldError{Field: "status", Message: "must be success or error"}),
			http.StatusBadRequest, `{"success":false,"error":"must be success or error","field":"status"}`, false, ""},
		{"ErrInvalid", http.MethodPost, fmt.Errorf("%w: batch is empty", trackskills.ErrInvalid),
			http.StatusBadRequest, `{"success":false,"error":"invalid: batch is empty"}`, false, ""},
		{"ErrUnavailable", http.MethodPost, fmt.Errorf("%w: queue full", httpapi.ErrUnavailable),
			http.StatusServiceUnavailable, `{"success":false,"error":"the event stream cannot take events now; retry later"}`, true, "queue full"},
		{"UnavailableError", http.MethodPost, fmt.Errorf("publish: %w", &httpapi.UnavailableError{Message: "the store is full", RetryAfter: 5 * time.Second, Err: errors.New("maximum bytes exceeded")}),
			http.StatusServiceUnavailable, `{"success":false,"error":"the store is full"}`, true, "maximum bytes exceeded"},
		{"ErrNotFound", http.MethodGet, fmt.Errorf("tool x: %w", trackskills.ErrNotFound),
			http.StatusNotFound, `{"success":false,"error":"tool x: not found"}`, false, ""},
		{"HTTPError", http.MethodPost, echo.NewHTTPError(http.StatusRequestEntityTooLarge, "body is too large"),
			http.StatusRequestEntityTooLarge, `{"success":false,"error":"body is too large"}`, false, ""},
		{"HTTPErrorNotString", http.MethodGet, echo.NewHTTPError(http.StatusTeapot, 42),
			http.StatusTeapot, `{"success":false,"error":"I'm a teapot"}`, false, ""},
		{"Other", http.MethodGet, errors.New("disk on fire"),
			http.StatusInternalServerError, `{"success":false,"error":"internal error"}`, false, "disk on fire"},
		{"HeadHasNoBody", http.MethodHead, errors.New("disk on fire"),
			http.StatusInternalServerError, "", false, "disk on fire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			e := httpapi.NewEcho(slog.New(slog.NewTextHandler(&logs, nil)), echo.ExtractIPDirect())
			e.Any("/x", func(echo.Context) error { return tt.err })
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(tt.method, "/x?secret=1", nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status=%d, want %d", rec.Code, tt.wantStatus)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.wantBody {
				t.Errorf("body=%s, want %s", got, tt.wantBody)
			}
			if tt.wantBody != "" {
				var body httpapi.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Success {
					t.Errorf("body %s does not decode as a failure: %v", rec.Body, err)
				}
			}
			if tt.name == "UnavailableError" && rec.Header().Get("Retry-After") != "5" {
				t.Errorf("Retry-After=%q, want the error's 5", rec.Header().Get("Retry-After"))
			}
			if got := rec.Header().Get("Retry-After") != ""; got != tt.wantRetry {
				t.Errorf("Retry-After=%q, want set=%v", rec.Header().Get("Retry-After"), tt.wantRetry)
			}
			if tt.wantLog != "" && !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, logs.String())
			}
			if strings.Contains(logs.String(), "secret") {
				t.Errorf("log holds the query string:\n%s", logs.String())
			}
		})
	}
}

// Ensure a response already sent is left alone.
func TestErrorHandler_Committed(t *testing.T) {
	e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
	e.GET("/x", func(c echo.Context) error {
		if err := c.String(http.StatusAccepted, "partial"); err != nil {
			return err
		}
		return errors.New("late failure")
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusAccepted || rec.Body.String() != "partial" {
		t.Fatalf("got %d %q, want 202 %q", rec.Code, rec.Body, "partial")
	}
}
