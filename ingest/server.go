// Package ingest is the HTTP entry of Track Skills: it validates events,
// hashes identities and publishes the events to JetStream, answering 2xx
// only after the stream has stored them.
package ingest

import (
	"bytes"
	"context"
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
	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/jsonscan"
)

// Limits of the ingest API (docs/CONTRACT.md, Ingest API).
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
	// KeyRateLimit is the requests per second allowed to one ingest key,
	// from all its addresses together; 0 is off.
	KeyRateLimit float64
	// Hosts limits the Host headers that Handler answers (DNS rebinding);
	// a server that registers ingest on its own echo checks them itself.
	Hosts httpapi.HostAuth
	// Publisher tunes group commit.
	Publisher PublisherConfig
	// StoreSkillArgs keeps the arguments of skills called through Claude
	// Code hooks in the metadata (off: they can hold anything).
	StoreSkillArgs bool
	// Hooks are told what the server accepts and refuses, for metrics.
	Hooks Hooks
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Publisher: DefaultPublisherConfig()}
}

// Server is the ingest API. It serves no HTTP of its own: Register adds
// its routes to an echo built by httpapi, so that `serve` answers
// everything on one port, and Handler is ingest alone.
type Server struct {
	cfg        Config
	js         jetstream.JetStream
	pub        *Publisher
	hasher     *Hasher
	logger     *slog.Logger
	keys       *httpapi.KeyRing
	requireKey echo.MiddlewareFunc
	now        func() time.Time
	bufs       sync.Pool
	starts     *claudecode.StartTimes // PreToolUse times of Claude Code hooks
	hookBudget *byteBudget            // hook bodies in flight
	otlpSlots  chan struct{}          // OTLP bodies being decoded (OTLPDecoders)

	handlerOnce sync.Once
	handler     http.Handler
}

// New builds the server. The hash key keys the identity hashes.
func New(cfg Config, js jetstream.JetStream, hashKey []byte, logger *slog.Logger) *Server {
	keys := httpapi.NewKeyRing(cfg.Keys, cfg.KeyRateLimit)
	return &Server{
		cfg:    cfg,
		js:     js,
		pub:    NewPublisher(js, cfg.Publisher, logger),
		hasher: NewHasher(hashKey),
		logger: logger,
		keys:   keys,
		requireKey: httpapi.RequireKey(httpapi.KeyAuth{
			Ring:    keys,
			Message: "missing or wrong ingest key: send Authorization: Bearer <key>",
		}),
		now:        time.Now,
		bufs:       sync.Pool{New: func() any { return new(bytes.Buffer) }},
		starts:     claudecode.NewStartTimes(100_000, time.Hour),
		hookBudget: &byteBudget{limit: HookBudgetBytes},
		otlpSlots:  make(chan struct{}, OTLPDecoders),
	}
}

// ReplaceKeys makes keys the accepted ingest keys from the next request
// on (a rotation without a restart). An empty list is refused: a server
// with keys never turns into one that takes events from anyone.
func (s *Server) ReplaceKeys(keys []string) error {
	if err := s.keys.Replace(keys); err != nil {
		return fmt.Errorf("ingest keys: %w", err)
	}
	return nil
}

// crossOriginMessage is the 403 of a browser page of another origin that
// posts to a server without ingest keys.
const crossOriginMessage = "events from a web page of another origin are refused while no ingest keys are set: " +
	"set --ingest-keys (TRACKSKILLS_INGEST_KEYS) and send the key, or send from the same origin"

// refuseCrossOrigin refuses browser posts from other origins while the
// server has no keys: with none, any page a user opens could otherwise
// send events with a simple POST that needs no CORS preflight. With keys,
// the key check stands in its place.
func (s *Server) refuseCrossOrigin() echo.MiddlewareFunc {
	refuse := httpapi.RefuseCrossOrigin(crossOriginMessage)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		guarded := refuse(next)
		return func(c echo.Context) error {
			if s.keys.Len() == 0 {
				return guarded(c)
			}
			return next(c)
		}
	}
}

// Register adds the ingest routes under /api to e, an echo built with
// httpapi.NewEcho: their requests are logged to the server's logger.
func (s *Server) Register(e *echo.Echo) {
	api := e.Group("/api", httpapi.LogTo(e, s.logger), s.countRejected(), s.refuseCrossOrigin(), s.requireKey)
	var limit echo.MiddlewareFunc // one store for both groups: a client's requests count once
	if s.cfg.RateLimit > 0 {
		limit = s.rateLimiter()
		api.Use(limit)
	}
	api.POST("/track", s.handleTrack)
	api.POST("/track/batch", s.handleBatch)
	api.POST("/hooks/claude-code", s.handleClaudeHook)
	api.POST("/skills", s.handleSkills)
	// OpenTelemetry's own paths, at the root: an exporter given this
	// server's address as OTEL_EXPORTER_OTLP_ENDPOINT appends them.
	v1 := e.Group("/v1", httpapi.LogTo(e, s.logger), s.countRejected(), s.refuseCrossOrigin(), s.requireKey)
	if limit != nil {
		v1.Use(limit)
	}
	v1.POST("/logs", s.handleOTLPLogs)
	v1.POST("/traces", s.handleOTLPTraces)
}

// Checks returns the readiness probes of ingest: the events stream exists,
// and it can store events ("cannot store" with the reason while the last
// publish failed or the stream is too full for one more event).
func (s *Server) Checks() []httpapi.Check {
	return []httpapi.Check{{Name: "stream", Fn: s.checkStream}, {Name: "store", Fn: s.checkStore}}
}

// Handler returns ingest alone as a complete HTTP handler: its routes,
// /healthz and /readyz over Checks, on an echo that trusts the configured
// proxies for the client IP and checks the Host of every request against
// the configured hosts. `trackskills ingest` serves it; tests use it with
// httptest. Middleware mw (metrics) runs first, before the Host check; the
// first call builds the handler, with its mw.
func (s *Server) Handler(mw ...echo.MiddlewareFunc) http.Handler {
	s.handlerOnce.Do(func() {
		e := httpapi.NewEcho(s.logger, IPExtractor(s.cfg.TrustedProxies))
		e.Use(mw...)
		e.Use(httpapi.RequireHost(s.cfg.Hosts))
		s.Register(e)
		httpapi.RegisterHealth(e, s.Checks()...)
		s.handler = e
	})
	return s.handler
}

// Shutdown closes the publisher, waiting for its publishes in flight. The
// HTTP server that serves ingest must be shut down first, so that no
// request publishes after it.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.pub.Close(ctx); err != nil {
		return fmt.Errorf("shutdown ingest: %w", err)
	}
	return nil
}

func (s *Server) checkStream(ctx context.Context) error {
	_, err := s.js.Stream(ctx, trackskills.StreamName)
	return err
}

// storeFullMargin is the room a stream must have left to be ready: about
// a few small events.
const storeFullMargin = 2 << 10

func (s *Server) checkStore(ctx context.Context) error {
	if err := s.pub.StoreErr(); err != nil {
		return err
	}
	st, err := s.js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		return nil // the stream check reports it
	}
	info := st.CachedInfo()
	if limit := info.Config.MaxBytes; limit > 0 && int64(info.State.Bytes)+storeFullMargin > limit {
		return fmt.Errorf("cannot store: the stream is full (%d of its %d bytes): it refuses events until the consumer has stored the waiting ones and older history is trimmed", info.State.Bytes, limit)
	}
	return nil
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
	ev.AgentHash = s.hasher.AgentHash(in.AgentID)
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
	s.accepted(1)
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
	raws, unchecked, err := splitBatch(buf.Bytes(), ndjson)
	if err != nil {
		return err
	}
	if len(raws) > MaxBatchEvents {
		if unchecked {
			// Too many events, unless the array is not valid JSON at all.
			if _, err := unmarshalArray(buf.Bytes()); err != nil {
				return err
			}
		}
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("batch has %d events; the limit is %d a request", len(raws), MaxBatchEvents))
	}
	resp, events, ok := s.decodeBatch(c, raws, unchecked)
	if !ok {
		// An event is not valid JSON, so neither is the array: encoding/json
		// says where.
		if raws, err = unmarshalArray(buf.Bytes()); err != nil {
			return err
		}
		resp, events, _ = s.decodeBatch(c, raws, false)
	}
	s.rejected(ReasonInvalid, len(resp.Rejected))
	if len(events) == 0 {
		resp.Error = "no valid event in the batch; see rejected"
		return c.JSON(http.StatusBadRequest, resp)
	}
	if err := s.pub.Publish(c.Request().Context(), events); err != nil {
		return &eventsError{events: len(events), err: err}
	}
	s.accepted(len(events))
	resp.Success, resp.Accepted = true, len(events)
	return c.JSON(http.StatusOK, resp)
}

// decodeBatch decodes and prepares the raw events of a batch. With
// unchecked (events split from an array without validating them), it
// returns false at the first event that is not valid JSON: the array as a
// whole is then not valid JSON either.
func (s *Server) decodeBatch(c echo.Context, raws [][]byte, unchecked bool) (batchResponse, []trackskills.Event, bool) {
	now := s.now()
	resp := batchResponse{Rejected: []Rejected{}, EventIDs: make([]string, 0, len(raws))}
	events := make([]trackskills.Event, 0, len(raws))
	for i, raw := range raws {
		in, err := trackskills.DecodeInput(raw)
		// An object DecodeInput accepts is valid JSON; anything else may
		// not be (DecodeInput also trims Unicode spaces around an object).
		if unchecked && (err != nil || raw[0] != '{') && !json.Valid(raw) {
			return resp, nil, false
		}
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
	return resp, events, true
}

var errEmptyArray = &trackskills.FieldError{Message: "batch is empty: send at least one event"}

// splitBatch returns the raw events of a JSON array or of NDJSON lines.
// The events of an array are found by its quotes and brackets in one
// cheap pass, then decoded one by one, instead of being validated as a
// whole first. unchecked says so: an event that fails to decode must then
// be checked to be valid JSON, and if it is not the array is invalid. An
// array the pass cannot split goes to unmarshalArray, and so do its
// errors.
func splitBatch(body []byte, ndjson bool) (raws [][]byte, unchecked bool, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, false, &trackskills.FieldError{Message: "batch is empty: send a JSON array of events"}
	}
	if !ndjson || body[0] == '[' {
		if body[0] != '[' {
			return nil, false, &trackskills.FieldError{Message: "batch must be a JSON array of events (or NDJSON with Content-Type: application/x-ndjson)"}
		}
		if raws, ok := jsonscan.SplitArray(body, maxSplitDepth); ok {
			if len(raws) == 0 {
				return nil, false, errEmptyArray
			}
			return raws, true, nil
		}
		raws, err := unmarshalArray(body)
		return raws, false, err
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
	return out, false, nil
}

// unmarshalArray returns the events of a batch body that is a JSON array,
// validated by encoding/json, whose syntax error is the answer otherwise.
func unmarshalArray(body []byte) ([][]byte, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(body), &raws); err != nil {
		return nil, &trackskills.FieldError{Message: "batch is not a valid JSON array: " + err.Error()}
	}
	if len(raws) == 0 {
		return nil, errEmptyArray
	}
	out := make([][]byte, len(raws))
	for i := range raws {
		out[i] = raws[i]
	}
	return out, nil
}

// maxSplitDepth bounds the nesting jsonscan.SplitArray follows; a deeper array goes
// to encoding/json, whose own limit then decides.
const maxSplitDepth = 64
