package analytics

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/wire"
)

// LiveEvent is an event as the dashboard's live feed shows it: what was
// called, how it went, when. It carries no user or session hash.
type LiveEvent struct {
	EventID      string  `json:"event_id"`
	ToolName     string  `json:"tool_name"`
	ToolCategory string  `json:"tool_category"`
	Status       string  `json:"status"`
	DurationMs   *int64  `json:"duration_ms"`
	ErrorType    *string `json:"error_type"`
	Timestamp    int64   `json:"timestamp"`
	Source       string  `json:"source"`
}

// LiveConfig bounds the live feed.
type LiveConfig struct {
	// Buffer is the number of stream messages queued for one client; when
	// a client is slower, newer events are skipped for it and counted
	// (default 256).
	Buffer int
	// MaxClients is the most live clients at once; more get a 503
	// (default 64).
	MaxClients int
	// MaxClientsPerAddr is the most live clients of one client address
	// (an IPv6 client's /64) at once, so that one client cannot take every
	// slot; more get a 429 (default 8).
	MaxClientsPerAddr int
	// Heartbeat is how often an idle connection gets a comment line
	// (default 15 s).
	Heartbeat time.Duration
	// WriteTimeout cuts a client whose connection takes no data for this
	// long (default 30 s).
	WriteTimeout time.Duration
}

// Live fans the stream's new events out to Server-Sent Events clients. It
// holds one core NATS subscription on the stream's subjects while at least
// one client listens. The subscription's callback never blocks: a slow
// browser loses events (and is told how many), never slows the others or
// ingest. Give it a NATS connection of its own, so that the server never
// takes it for a slow consumer of the publisher's connection.
type Live struct {
	cfg    LiveConfig
	nc     *nats.Conn
	logger *slog.Logger

	mu      sync.Mutex
	sub     *nats.Subscription
	clients map[*liveClient]struct{}
	perAddr map[string]int // clients by addrKey
	closed  chan struct{}
	once    sync.Once
}

type liveClient struct {
	addr    string      // addrKey of the client's address
	ch      chan []byte // JSON arrays of LiveEvent, one per stream message
	dropped atomic.Int64
}

// NewLive returns a live feed over nc.
func NewLive(cfg LiveConfig, nc *nats.Conn, logger *slog.Logger) *Live {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 256
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 64
	}
	if cfg.MaxClientsPerAddr <= 0 {
		cfg.MaxClientsPerAddr = 8
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	return &Live{cfg: cfg, nc: nc, logger: logger, clients: map[*liveClient]struct{}{},
		perAddr: map[string]int{}, closed: make(chan struct{})}
}

// errLiveFull and errLiveClosed are answered with a 503, errLiveAddrFull
// with a 429.
var (
	errLiveFull     = errors.New("too many live clients")
	errLiveClosed   = errors.New("the server is shutting down")
	errLiveAddrFull = errors.New("too many live clients from this address")
)

// addrKey is the address a client's live slots are counted by: its IP, or
// for IPv6 its /64, which one client usually holds whole.
func addrKey(ip string) string {
	p := net.ParseIP(ip)
	if p == nil || p.To4() != nil {
		return ip
	}
	return p.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// add registers a client of the address ip, subscribing on the first.
func (l *Live) add(ip string) (*liveClient, error) {
	c, subscribed, err := l.register(addrKey(ip))
	if err != nil {
		return nil, err
	}
	// The server registers a subscription asynchronously: while connected,
	// wait for it (outside the lock), so that a client told "connected"
	// sees every later event. Without a connection there is nothing to
	// wait for: the subscription is sent when NATS is reached.
	if subscribed && l.nc.IsConnected() {
		if err := l.nc.FlushTimeout(2 * time.Second); err != nil {
			l.logger.Debug("live: subscription not confirmed yet", "err", err)
		}
	}
	return c, nil
}

// register adds a client of addr, subscribing when it is the first;
// subscribed reports a new subscription.
func (l *Live) register(addr string) (c *liveClient, subscribed bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
		return nil, false, errLiveClosed
	default:
	}
	if l.perAddr[addr] >= l.cfg.MaxClientsPerAddr {
		return nil, false, errLiveAddrFull
	}
	if len(l.clients) >= l.cfg.MaxClients {
		return nil, false, errLiveFull
	}
	if l.sub == nil {
		sub, err := l.nc.Subscribe(trackskills.StreamSubjects, l.onMsg)
		if err != nil {
			return nil, false, fmt.Errorf("subscribe to %s: %w", trackskills.StreamSubjects, err)
		}
		// The callback is quick; a generous buffer absorbs bursts.
		_ = sub.SetPendingLimits(65536, 64<<20)
		l.sub, subscribed = sub, true
	}
	c = &liveClient{addr: addr, ch: make(chan []byte, l.cfg.Buffer)}
	l.clients[c] = struct{}{}
	l.perAddr[addr]++
	return c, subscribed, nil
}

// remove drops a client, unsubscribing after the last.
func (l *Live) remove(c *liveClient) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, c)
	if l.perAddr[c.addr]--; l.perAddr[c.addr] <= 0 {
		delete(l.perAddr, c.addr)
	}
	if len(l.clients) == 0 && l.sub != nil {
		_ = l.sub.Unsubscribe()
		l.sub = nil
	}
}

// Clients returns the number of connected live clients.
func (l *Live) Clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// Close ends every live response, so that an HTTP server's graceful
// shutdown does not wait for them, and refuses new ones.
func (l *Live) Close() {
	l.once.Do(func() {
		l.mu.Lock()
		close(l.closed)
		if l.sub != nil {
			_ = l.sub.Unsubscribe()
			l.sub = nil
		}
		l.mu.Unlock()
	})
}

// onMsg decodes one stream message and offers it to every client without
// waiting.
func (l *Live) onMsg(m *nats.Msg) {
	var events []LiveEvent
	err := wire.Decode(m.Header, m.Data, func(ev trackskills.Event) error {
		le := LiveEvent{EventID: ev.EventID, ToolName: ev.ToolName, ToolCategory: ev.ToolCategory,
			Status: ev.Status, DurationMs: ev.DurationMs, Timestamp: ev.Timestamp, Source: ev.Source}
		if ev.ErrorType != "" {
			le.ErrorType = &ev.ErrorType
		}
		events = append(events, le)
		return nil
	})
	if err != nil {
		l.logger.Debug("live: skip a message that cannot be decoded", "subject", m.Subject, "err", err)
		return
	}
	b, err := json.Marshal(events)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.clients {
		select {
		case c.ch <- b:
		default:
			c.dropped.Add(int64(len(events)))
		}
	}
}

// handleLive streams new events as Server-Sent Events: "events" carries a
// JSON array of LiveEvent, "dropped" how many this client missed because it
// read too slowly, and a comment line keeps an idle connection open.
func (s *Server) handleLive(c echo.Context) error {
	if s.live == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "live mode needs the NATS stream: run serve, or give analytics --nats-url")
	}
	client, err := s.live.add(c.RealIP())
	if err != nil {
		if errors.Is(err, errLiveAddrFull) {
			c.Response().Header().Set("Retry-After", "10")
			return echo.NewHTTPError(http.StatusTooManyRequests, fmt.Sprintf(
				"live mode: this address already holds %d live connections, the most for one client; close one (another dashboard tab) and try again "+
					"(behind a proxy, give the server --trusted-proxies so that it tells its clients apart)", s.live.cfg.MaxClientsPerAddr))
		}
		if errors.Is(err, errLiveFull) || errors.Is(err, errLiveClosed) {
			c.Response().Header().Set("Retry-After", "10")
			return echo.NewHTTPError(http.StatusServiceUnavailable, "live mode: "+err.Error()+"; try again later")
		}
		return fmt.Errorf("live: %w", err)
	}
	defer s.live.remove(client)

	w := c.Response()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(s.live.cfg.WriteTimeout))
		_, err := w.Write(b)
		return err
	}
	if err := write([]byte(": connected\n\n")); err != nil {
		return nil
	}
	w.Flush()

	ping := time.NewTicker(s.live.cfg.Heartbeat)
	defer ping.Stop()
	ctx := c.Request().Context()
	var buf []byte
	for {
		buf = buf[:0]
		select {
		case <-ctx.Done():
			return nil
		case <-s.live.closed:
			return nil
		case <-ping.C:
			buf = append(buf, ": ping\n\n"...)
		case b := <-client.ch:
			buf = appendSSE(buf, "events", b)
			for more := true; more && len(buf) < 64<<10; { // what else is queued, in one write
				select {
				case b := <-client.ch:
					buf = appendSSE(buf, "events", b)
				default:
					more = false
				}
			}
		}
		if n := client.dropped.Swap(0); n > 0 {
			buf = appendSSE(buf, "dropped", fmt.Appendf(nil, `{"dropped":%d}`, n))
		}
		if err := write(buf); err != nil {
			return nil // the client went away or stopped reading
		}
		w.Flush()
	}
}

func appendSSE(buf []byte, event string, data []byte) []byte {
	buf = append(buf, "event: "...)
	buf = append(buf, event...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...) // JSON: no newline inside
	return append(buf, "\n\n"...)
}
