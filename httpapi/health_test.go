package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/httpapi"
)

// Ensure /healthz always answers ok and /readyz reports every check, 503
// when one fails, with the checks bounded by ReadyTimeout.
func TestRegisterHealth(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("stream not found") }
	bounded := func(ctx context.Context) error {
		dl, has := ctx.Deadline()
		if !has || time.Until(dl) > httpapi.ReadyTimeout {
			return errors.New("no deadline within ReadyTimeout")
		}
		return nil
	}
	tests := []struct {
		name       string
		checks     []httpapi.Check
		wantStatus int
		wantReady  bool
		wantChecks map[string]string
	}{
		{"NoChecks", nil, http.StatusOK, true, map[string]string{}},
		{"AllOK", []httpapi.Check{{Name: "stream", Fn: ok}, {Name: "database", Fn: bounded}},
			http.StatusOK, true, map[string]string{"stream": "ok", "database": "ok"}},
		{"OneDown", []httpapi.Check{{Name: "stream", Fn: down}, {Name: "database", Fn: ok}},
			http.StatusServiceUnavailable, false, map[string]string{"stream": "stream not found", "database": "ok"}},
		{"AllDown", []httpapi.Check{{Name: "stream", Fn: down}, {Name: "consumer", Fn: down}},
			http.StatusServiceUnavailable, false, map[string]string{"stream": "stream not found", "consumer": "stream not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
			httpapi.RegisterHealth(e, tt.checks...)

			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"status":"ok"}` {
				t.Errorf("GET /healthz: %d %s, want 200 {\"status\":\"ok\"}", rec.Code, rec.Body)
			}

			rec = httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("GET /readyz status=%d, want %d", rec.Code, tt.wantStatus)
			}
			var got struct {
				Ready  bool              `json:"ready"`
				Checks map[string]string `json:"checks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("decode %s: %v", rec.Body, err)
			}
			if got.Ready != tt.wantReady || !reflect.DeepEqual(got.Checks, tt.wantChecks) {
				t.Errorf("GET /readyz = %+v, want ready=%v checks=%v", got, tt.wantReady, tt.wantChecks)
			}
		})
	}
}
