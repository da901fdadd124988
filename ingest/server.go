// Package ingest is the HTTP entry of Track Skills: it validates events,
// hashes identities and publishes the events to JetStream, answering 2xx
// only after the stream has stored them.
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
	"golang.org/x/time/rate"

	"github.com/trackskills/trackskills"
)

// Limits of the ingest API (SPEC §3).
const (
	MaxBatchEvents = 1000
	MaxBatchBytes  = 1 << 20
	MaxEventBytes  = 64 << 10
)

// Config configures the ingest server.
type Config struct {
	// Keys are the accepted ingest keys; empty means no key is needed.
	Keys []string
	// TrustedProxies may set the client IP through forwarding headers.
	TrustedProxies []*net.IPNet
	// RateLimit is the requests per second allowed to one client IP on
	// /api (a batch counts once); 0 is off.
	RateLimit float64
	// Publisher tunes group commit.
	Publisher PublisherConfig
	// StoreSkillArgs keeps the arguments of skills called through Claude
	// Code hooks in the metadata (off: they can hold anything).
	StoreSkillArgs bool
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Publisher: DefaultPublisherConfig()}
}

// Check is a named readiness probe.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// Server is the ingest HTTP server. Other parts may add their routes to
// its Echo, so that `serve` answers everything on one port.
type Server struct {
	cfg    Config
	js     jetstream.JetStream
	pub    *Publisher
	hasher *Hasher
	logger *slog.Logger
	echo   *echo.Echo
	http   *http.Server
	keys   [][sha256.Size]byte
	checks []Check
	now    func() time.Time
	bufs   sync.Pool
	starts *startTimes // PreToolUse times of Claude Code hooks
}

// New builds the server. The hash key keys the identity hashes.
func New(cfg Config, js jetstream.JetStream, hashKey []byte, logger *slog.Logger) *Server {
	s := &Server{
		cfg:    cfg,
		js:     js,
		hasher: NewHasher(hashKey),
		logger: logger,
		now:    time.Now,
		bufs:   sync.Pool{New: func() any { return new(bytes.Buffer) }},
		starts: newStartTimes(100_000, time.Hour),
	}
	for _, k := range cfg.Keys {
		s.keys = append(s.keys, sha256.Sum256([]byte(k)))
	}
	s.pub = NewPublisher(js, cfg.Publisher, logger)
	s.checks = []Check{{Name: "stream", Fn: s.checkStream}}
	s.echo = NewEcho(logger, IPExtractor(cfg.TrustedProxies))
	// No WriteTimeout: the analytics live stream will hold responses open.
	s.http = &http.Server{Handler: s.echo, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	s.echo.GET("/healthz", s.handleHealth)
	s.echo.GET("/readyz", s.handleReady)
	api := s.echo.Group("/api", s.requireKey)
	if cfg.RateLimit > 0 {
		api.Use(s.rateLimiter())
	}
	api.POST("/track", s.handleTrack)
	api.POST("/track/batch", s.handleBatch)
	api.POST("/hooks/claude-code", s.handleClaudeHook)
	return s
}

// NewEcho returns an echo instance with Track Skills' error handler and a
// request logger that records neither client addresses nor query strings.
func NewEcho(logger *slog.Logger, ipx echo.IPExtractor) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipx
	e.HTTPErrorHandler = errorHandler(logger)
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogMethod: true, LogURIPath: true, LogLatency: true, LogError: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelDebug
			if v.Status >= 500 {
				level = slog.LevelWarn
			} else if v.Status >= 400 {
				level = slog.LevelInfo
			}
			logger.LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", v.Method), slog.String("path", v.URIPath),
				slog.Int("status", v.Status), slog.Duration("latency", v.Latency))
			return nil
		},
	}))
	e.Use(middleware.Recover())
	return e
}

// Echo returns the router, for other parts to add routes to.
func (s *Server) Echo() *echo.Echo { return s.echo }

// AddCheck adds a readiness probe to /readyz.
func (s *Server) AddCheck(c Check) { s.checks = append(s.checks, c) }

// Serve answers HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests, waits for the ones in flight (their
// publishes included), then closes the publisher.
func (s *Server) Shutdown(ctx context.Context) error {
	errHTTP := s.http.Shutdown(ctx)
	errPub := s.pub.Close(ctx)
	if err := errors.Join(errHTTP, errPub); err != nil {
		return fmt.Errorf("shutdown ingest: %w", err)
	}
	return nil
}

// Handler returns the HTTP handler (for tests with httptest).
func (s *Server) Handler() http.Handler { return s.echo }

func (s *Server) checkStream(ctx context.Context) error {
	_, err := s.js.Stream(ctx, trackskills.StreamName)
	return err
}

func (s *Server) handleHealth(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReady(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	status, out := http.StatusOK, map[string]string{}
	for _, ch := range s.checks {
		if err := ch.Fn(ctx); err != nil {
			status = http.StatusServiceUnavailable
			out[ch.Name] = err.Error()
		} else {
			out[ch.Name] = "ok"
		}
	}
	return c.JSON(status, map[string]any{"ready": status == http.StatusOK, "checks": out})
}

// requireKey checks the Bearer key (or x-api-key) in constant time.
func (s *Server) requireKey(next echo.HandlerFunc) echo.HandlerFunc {
	if len(s.keys) == 0 {
		return next
	}
	return func(c echo.Context) error {
		h := c.Request().Header
		key := h.Get("X-Api-Key")
		// The auth scheme is case-insensitive (RFC 9110 §11.1).
		if auth := h.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			key = auth[7:]
		}
		if key == "" || !s.validKey(strings.TrimSpace(key)) {
			return echo.NewHTTPError(http.StatusUnauthorized, "missing or wrong ingest key: send Authorization: Bearer <key>")
		}
		return next(c)
	}
}

func (s *Server) validKey(key string) bool {
	sum := sha256.Sum256([]byte(key))
	match := 0
	for i := range s.keys {
		match |= subtle.ConstantTimeCompare(sum[:], s.keys[i][:])
	}
	return match == 1
}

func (s *Server) rateLimiter() echo.MiddlewareFunc {
	store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(s.cfg.RateLimit), Burst: int(s.cfg.RateLimit) + 1, ExpiresIn: 3 * time.Minute,
	})
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: store,
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			c.Response().Header().Set("Retry-After", "1")
			return echo.NewHTTPError(http.StatusTooManyRequests, "over the rate limit; retry after 1 second")
		},
	})
}

// readBody reads at most limit bytes of the body into a pooled buffer.
func (s *Server) readBody(c echo.Context, limit int64) (*bytes.Buffer, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body is %d bytes; the limit is %d", r.ContentLength, limit))
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		s.bufs.Put(buf)
		return nil, echo.NewHTTPError(http.StatusBadRequest, "could not read body: "+err.Error())
	}
	if n > limit {
		s.bufs.Put(buf)
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", limit))
	}
	return buf, nil
}

// mediaType returns the lower-case media type of the request, "" for none.
func mediaType(c echo.Context) string {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// jsonType accepts JSON, text/plain (navigator.sendBeacon) and no type.
func jsonType(mt string) bool {
	return mt == "" || mt == "application/json" || mt == "text/plain" ||
		(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

var errUnsupportedType = echo.NewHTTPError(http.StatusUnsupportedMediaType,
	"send the event as JSON with Content-Type: application/json")

// prepare validates one input into an event ready to publish.
func (s *Server) prepare(c echo.Context, in *trackskills.Input, now time.Time) (trackskills.Event, error) {
	ev, err := in.Validate(now)
	if err != nil {
		return ev, err
	}
	if ev.EventID == "" {
		ev.EventID = ulid.Make().String()
	}
	ip := ""
	if in.UserID == "" {
		ip = c.RealIP()
	}
	ev.UserHash = s.hasher.UserHash(in.UserID, ip, c.Request().UserAgent())
	ev.SessionHash = s.hasher.SessionHash(in.SessionID)
	return ev, nil
}

func (s *Server) handleTrack(c echo.Context) error {
	if !jsonType(mediaType(c)) {
		return errUnsupportedType
	}
	buf, err := s.readBody(c, MaxEventBytes)
	if err != nil {
		return err
	}
	in, err := trackskills.DecodeInput(buf.Bytes())
	s.bufs.Put(buf)
	if err != nil {
		return err
	}
	ev, err := s.prepare(c, &in, s.now())
	if err != nil {
		return err
	}
	if err := s.pub.Publish(c.Request().Context(), []trackskills.Event{ev}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, trackResponse{Success: true, Message: "Event tracked", EventID: ev.EventID})
}

type trackResponse struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	EventID string `json:"event_id"`
}

// Rejected describes one event of a batch that was not accepted.
type Rejected struct {
	Index int    `json:"index"`
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

type batchResponse struct {
	Success  bool       `json:"success"`
	Error    string     `json:"error,omitempty"`
	Accepted int        `json:"accepted"`
	Rejected []Rejected `json:"rejected"`
	EventIDs []string   `json:"event_ids"`
}

func (s *Server) handleBatch(c echo.Context) error {
	mt := mediaType(c)
	ndjson := mt == "application/x-ndjson" || mt == "application/ndjson" || mt == "application/jsonlines"
	if !ndjson && !jsonType(mt) {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType,
			"send a JSON array with Content-Type: application/json, or NDJSON with Content-Type: application/x-ndjson")
	}
	buf, err := s.readBody(c, MaxBatchBytes)
	if err != nil {
		return err
	}
	defer s.bufs.Put(buf)
	raws, err := splitBatch(buf.Bytes(), ndjson)
	if err != nil {
		return err
	}
	if len(raws) > MaxBatchEvents {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("batch has %d events; the limit is %d a request", len(raws), MaxBatchEvents))
	}
	now := s.now()
	resp := batchResponse{Rejected: []Rejected{}, EventIDs: make([]string, 0, len(raws))}
	events := make([]trackskills.Event, 0, len(raws))
	for i, raw := range raws {
		in, err := trackskills.DecodeInput(raw)
		var ev trackskills.Event
		if err == nil {
			ev, err = s.prepare(c, &in, now)
		}
		if err != nil {
			rej := Rejected{Index: i, Error: err.Error()}
			var fe *trackskills.FieldError
			if errors.As(err, &fe) {
				rej.Error, rej.Field = fe.Message, fe.Field
			}
			resp.Rejected = append(resp.Rejected, rej)
			continue
		}
		events = append(events, ev)
		resp.EventIDs = append(resp.EventIDs, ev.EventID)
	}
	if len(events) == 0 {
		resp.Error = "no valid event in the batch; see rejected"
		return c.JSON(http.StatusBadRequest, resp)
	}
	if err := s.pub.Publish(c.Request().Context(), events); err != nil {
		return err
	}
	resp.Success, resp.Accepted = true, len(events)
	return c.JSON(http.StatusOK, resp)
}

// splitBatch returns the raw events of a JSON array or of NDJSON lines.
func splitBatch(body []byte, ndjson bool) ([][]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &trackskills.FieldError{Message: "batch is empty: send a JSON array of events"}
	}
	if !ndjson || body[0] == '[' {
		if body[0] != '[' {
			return nil, &trackskills.FieldError{Message: "batch must be a JSON array of events (or NDJSON with Content-Type: application/x-ndjson)"}
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, &trackskills.FieldError{Message: "batch is not a valid JSON array: " + err.Error()}
		}
		if len(raws) == 0 {
			return nil, &trackskills.FieldError{Message: "batch is empty: send at least one event"}
		}
		out := make([][]byte, len(raws))
		for i := range raws {
			out[i] = raws[i]
		}
		return out, nil
	}
	var out [][]byte
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			out = append(out, line)
		}
		if len(out) > MaxBatchEvents {
			break
		}
	}
	return out, nil
}

// errorBody is the seed-compatible error response.
type errorBody struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Field   string `json:"field,omitempty"`
}

// errorHandler maps errors to responses, in one place: ErrInvalid is 400,
// ErrUnavailable 503 with Retry-After, echo errors keep their code, anything
// else is a 500 whose detail is logged, not sent.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, body := http.StatusInternalServerError, errorBody{Error: "internal error"}
		var fe *trackskills.FieldError
		var he *echo.HTTPError
		switch {
		case errors.As(err, &fe):
			status, body.Error, body.Field = http.StatusBadRequest, fe.Message, fe.Field
		case errors.Is(err, trackskills.ErrInvalid):
			status, body.Error = http.StatusBadRequest, err.Error()
		case errors.Is(err, ErrUnavailable):
			status, body.Error = http.StatusServiceUnavailable, "the event stream cannot take events now; retry later"
			c.Response().Header().Set("Retry-After", "1")
			logger.Warn("publish failed", "err", err)
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
			logger.Error("request failed", "path", c.Request().URL.Path, "err", err)
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.JSON(status, body)
		}
		if err != nil {
			logger.Debug("write error response", "err", err)
		}
	}
}
