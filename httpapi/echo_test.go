package httpapi_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/httpapi"
)

// logLine is one JSON log record of the tests.
type logLine struct {
	Level     string  `json:"level"`
	Msg       string  `json:"msg"`
	Component string  `json:"component"`
	Method    string  `json:"method"`
	Path      string  `json:"path"`
	Status    int     `json:"status"`
	Latency   float64 `json:"latency"`
	Err       string  `json:"err"`
}

// logSink collects JSON log lines, safe for concurrent use.
type logSink struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (s *logSink) lines(tb testing.TB) (raw []string, out []logLine) {
	tb.Helper()
	s.mu.Lock()
	text := s.buf.String()
	s.mu.Unlock()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			tb.Fatalf("log line %q: %v", sc.Text(), err)
		}
		raw, out = append(raw, sc.Text()), append(out, l)
	}
	return raw, out
}

// Ensure the request log line holds method, path, status and latency at
// a level by status, and never the query string or the client address.
func TestNewEcho_RequestLog(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		err       error
		wantLevel string
	}{
		{"OK", http.StatusOK, nil, "DEBUG"},
		{"ClientError", 0, echo.NewHTTPError(http.StatusBadRequest, "bad"), "INFO"},
		{"Unavailable", 0, httpapi.ErrUnavailable, "WARN"},
		{"InternalError", 0, errors.New("boom"), "WARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sink logSink
			e := httpapi.NewEcho(sink.logger(), echo.ExtractIPDirect())
			e.GET("/things/:id", func(c echo.Context) error {
				if tt.err != nil {
					return tt.err
				}
				return c.NoContent(tt.status)
			})
			r := httptest.NewRequest(http.MethodGet, "/things/7?token=hush", nil)
			r.RemoteAddr = "198.51.100.23:4567"
			e.ServeHTTP(httptest.NewRecorder(), r)
			raw, lines := sink.lines(t)
			var req *logLine
			for i := range lines {
				if lines[i].Msg == "request" {
					if req != nil {
						t.Fatalf("two request lines: %v", raw)
					}
					req = &lines[i]
				}
			}
			if req == nil {
				t.Fatalf("no request line in %v", raw)
			}
			if req.Level != tt.wantLevel || req.Method != http.MethodGet || req.Path != "/things/7" || req.Status == 0 {
				t.Errorf("request line %+v, want level %s, GET /things/7 and a status", *req, tt.wantLevel)
			}
			if !strings.Contains(strings.Join(raw, "\n"), `"latency":`) {
				t.Errorf("no latency in %v", raw)
			}
			for _, l := range raw {
				if strings.Contains(l, "hush") || strings.Contains(l, "198.51.100.23") {
					t.Errorf("log holds the query string or the client address: %s", l)
				}
			}
		})
	}
}

// Ensure routes wrapped by LogTo log their requests and errors to their
// part's logger, and the others to the echo's.
func TestLogTo(t *testing.T) {
	var sink logSink
	root := sink.logger().With("component", "http")
	e := httpapi.NewEcho(root, echo.ExtractIPDirect())
	ing := e.Group("/api", httpapi.LogTo(e, root.With("component", "ingest")))
	ing.POST("/track", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	ing.POST("/fail", func(echo.Context) error { return errors.New("ingest broke") })
	e.GET("/", func(c echo.Context) error { return c.NoContent(http.StatusOK) }, httpapi.LogTo(e, root.With("component", "analytics")))
	e.GET("/panic", func(echo.Context) error { panic("analytics panicked") }, httpapi.LogTo(e, root.With("component", "analytics")))
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })

	tests := []struct {
		name, method, path string
		wantStatus         int
		wantComponent      string
	}{
		{"IngestRoute", http.MethodPost, "/api/track", http.StatusOK, "ingest"},
		{"IngestError", http.MethodPost, "/api/fail", http.StatusInternalServerError, "ingest"},
		{"IngestNotFound", http.MethodPost, "/api/nope", http.StatusNotFound, "ingest"},
		{"AnalyticsRoute", http.MethodGet, "/", http.StatusOK, "analytics"},
		{"AnalyticsPanic", http.MethodGet, "/panic", http.StatusInternalServerError, "analytics"},
		{"Root", http.MethodGet, "/healthz", http.StatusOK, "http"},
		{"RootNotFound", http.MethodGet, "/nope", http.StatusNotFound, "http"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.wantStatus {
			t.Fatalf("%s %s status=%d, want %d", tt.method, tt.path, rec.Code, tt.wantStatus)
		}
	}
	raw, lines := sink.lines(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var found bool
			for _, l := range lines {
				if l.Msg == "request" && l.Method == tt.method && l.Path == tt.path {
					found = true
					if l.Component != tt.wantComponent {
						t.Errorf("request line component=%q, want %q", l.Component, tt.wantComponent)
					}
				}
			}
			if !found {
				t.Errorf("no request line for %s %s in %v", tt.method, tt.path, raw)
			}
		})
	}
	t.Run("ErrorLog", func(t *testing.T) {
		for _, l := range lines {
			if l.Msg == "request failed" && l.Err == "ingest broke" {
				if l.Component != "ingest" {
					t.Errorf("error line component=%q, want ingest", l.Component)
				}
				return
			}
		}
		t.Errorf("no error line for the ingest failure in %v", raw)
	})
}

// Ensure the echo hides its banner and uses the IP extractor it is given.
func TestNewEcho_Settings(t *testing.T) {
	e := httpapi.NewEcho(slog.New(slog.DiscardHandler), func(*http.Request) string { return "192.0.2.1" })
	if !e.HideBanner || !e.HidePort {
		t.Errorf("HideBanner=%v HidePort=%v, want both", e.HideBanner, e.HidePort)
	}
	e.GET("/ip", func(c echo.Context) error { return c.String(http.StatusOK, c.RealIP()) })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ip", nil))
	if got, want := rec.Body.String(), "192.0.2.1"; got != want {
		t.Errorf("RealIP=%q, want %q", got, want)
	}
}
