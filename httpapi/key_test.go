package httpapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/httpapi"
)

// Ensure RequireKey takes any configured key in either header, with the
// Bearer scheme in any case, refuses every near miss with the caller's
// message, and lets OPTIONS through only when asked.
func TestRequireKey(t *testing.T) {
	const msg = "missing or wrong test key"
	keys := []string{"alpha-key", "bravo-key", "charlie-key"}
	tests := []struct {
		name         string
		keys         []string
		allowOptions bool
		method       string
		header       []string // name, value pairs
		want         int
	}{
		{"NoKeysConfigured", nil, false, http.MethodGet, nil, http.StatusOK},
		{"Bearer", keys, false, http.MethodGet, []string{"Authorization", "Bearer alpha-key"}, http.StatusOK},
		{"BearerMiddleKey", keys, false, http.MethodGet, []string{"Authorization", "Bearer bravo-key"}, http.StatusOK},
		{"BearerLastKey", keys, false, http.MethodGet, []string{"Authorization", "Bearer charlie-key"}, http.StatusOK},
		{"BearerLowerCase", keys, false, http.MethodGet, []string{"Authorization", "bearer bravo-key"}, http.StatusOK},
		{"BearerUpperCase", keys, false, http.MethodGet, []string{"Authorization", "BEARER bravo-key"}, http.StatusOK},
		{"BearerSpaces", keys, false, http.MethodGet, []string{"Authorization", "Bearer   bravo-key  "}, http.StatusOK},
		{"XApiKey", keys, false, http.MethodGet, []string{"X-Api-Key", "charlie-key"}, http.StatusOK},
		{"BearerWinsOverXApiKey", keys, false, http.MethodGet, []string{"X-Api-Key", "wrong", "Authorization", "Bearer alpha-key"}, http.StatusOK},
		{"ErrMissing", keys, false, http.MethodGet, nil, http.StatusUnauthorized},
		{"ErrWrong", keys, false, http.MethodGet, []string{"Authorization", "Bearer delta-key"}, http.StatusUnauthorized},
		{"ErrPrefix", keys, false, http.MethodGet, []string{"Authorization", "Bearer alpha"}, http.StatusUnauthorized},
		{"ErrLonger", keys, false, http.MethodGet, []string{"Authorization", "Bearer alpha-key2"}, http.StatusUnauthorized},
		{"ErrCase", keys, false, http.MethodGet, []string{"X-Api-Key", "ALPHA-KEY"}, http.StatusUnauthorized},
		{"ErrEmptyBearer", keys, false, http.MethodGet, []string{"Authorization", "Bearer "}, http.StatusUnauthorized},
		{"ErrBlankXApiKey", keys, false, http.MethodGet, []string{"X-Api-Key", "   "}, http.StatusUnauthorized},
		{"ErrOtherScheme", keys, false, http.MethodGet, []string{"Authorization", "Basic alpha-key"}, http.StatusUnauthorized},
		{"ErrOptionsNotAllowed", keys, false, http.MethodOptions, nil, http.StatusUnauthorized},
		{"OptionsAllowed", keys, true, http.MethodOptions, nil, http.StatusOK},
		{"ErrGetWithOptionsAllowed", keys, true, http.MethodGet, nil, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
			auth := httpapi.RequireKey(httpapi.KeyAuth{Keys: tt.keys, Message: msg, AllowOptions: tt.allowOptions})
			e.Any("/x", func(c echo.Context) error { return c.String(http.StatusOK, "in") }, auth)
			r := httptest.NewRequest(tt.method, "/x", nil)
			for i := 0; i+1 < len(tt.header); i += 2 {
				r.Header.Set(tt.header[i], tt.header[i+1])
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Fatalf("status=%d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == http.StatusUnauthorized {
				if want := `{"success":false,"error":"` + msg + `"}`; strings.TrimSpace(rec.Body.String()) != want {
					t.Errorf("body=%s, want %s", rec.Body, want)
				}
			}
		})
	}
}
