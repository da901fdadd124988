package httpapi_test

import (
	"errors"
	"fmt"
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

// keyServer is a real HTTP server behind RequireKey with ring.
func keyServer(tb testing.TB, ring *httpapi.KeyRing) string {
	tb.Helper()
	e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
	auth := httpapi.RequireKey(httpapi.KeyAuth{Ring: ring, Message: "wrong key"})
	e.POST("/x", func(c echo.Context) error { return c.String(http.StatusOK, "in") }, auth)
	hs := httptest.NewServer(e)
	tb.Cleanup(hs.Close)
	return hs.URL
}

// Ensure a ring's keys can be replaced while the server runs: the new key
// works at once, the old one is refused, and an empty list changes
// nothing.
func TestKeyRing_Replace(t *testing.T) {
	t.Parallel()
	ring := httpapi.NewKeyRing([]string{"old-key"}, 0)
	url := keyServer(t, ring)
	check := func(key string, want int) {
		t.Helper()
		if got, msg := do(t, http.MethodPost, url+"/x", "", "Authorization", "Bearer "+key); got != want {
			t.Fatalf("key %s: status=%d, want %d (%s)", key, got, want, msg)
		}
	}
	check("old-key", http.StatusOK)
	check("new-key", http.StatusUnauthorized)
	if err := ring.Replace([]string{"new-key", "new-key"}); err != nil {
		t.Fatal(err)
	}
	check("new-key", http.StatusOK)
	check("old-key", http.StatusUnauthorized)
	if got, want := ring.Len(), 1; got != want {
		t.Errorf("Len()=%d, want %d", got, want)
	}
	if err := ring.Replace(nil); !errors.Is(err, httpapi.ErrNoKeys) {
		t.Errorf("Replace(nil)=%v, want ErrNoKeys", err)
	}
	check("new-key", http.StatusOK)
	check("", http.StatusUnauthorized)
}

// Ensure a key's rate is shared by every address that sends it, is its
// own (another key is not limited), and survives a rotation that keeps it.
func TestKeyRing_RateLimit(t *testing.T) {
	t.Parallel()
	ring := httpapi.NewKeyRing([]string{"busy-key", "calm-key"}, 2) // burst 3
	e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
	e.POST("/x", func(c echo.Context) error { return c.String(http.StatusOK, "in") },
		httpapi.RequireKey(httpapi.KeyAuth{Ring: ring, Message: "wrong key"}))
	send := func(key, addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		r.RemoteAddr = addr
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w
	}
	ok, limited := 0, 0
	for i := range 12 { // from 12 addresses, well within a second
		switch w := send("busy-key", fmt.Sprintf("198.51.100.%d:1000", i+1)); w.Code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			if w.Header().Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		default:
			t.Fatalf("status=%d, want 200 or 429", w.Code)
		}
	}
	if ok == 0 || ok > 5 || limited == 0 {
		t.Fatalf("12 requests with one key from 12 addresses: %d accepted, %d limited; want the key's burst of 3 (or a little more) accepted", ok, limited)
	}
	if w := send("calm-key", "198.51.100.1:1000"); w.Code != http.StatusOK {
		t.Errorf("another key from a limited address: status=%d, want 200", w.Code)
	}
	if err := ring.Replace([]string{"busy-key", "third-key"}); err != nil {
		t.Fatal(err)
	}
	if w := send("busy-key", "203.0.113.1:1000"); w.Code != http.StatusTooManyRequests {
		t.Errorf("a kept key after a rotation: status=%d, want 429 (its limiter is kept)", w.Code)
	}
}
