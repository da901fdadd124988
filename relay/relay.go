// Package relay is the local relay of a developer's machine: Claude Code's
// HTTP hook posts to it on loopback, it answers as soon as the event is in
// its spool, and it forwards the spool to the team's Track Skills server
// in the background, in order, with retries, across its own restarts and
// the server's outages. A hook call costs Claude Code a loopback round
// trip instead of a process start or a request to a distant server.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ulidv2 "github.com/oklog/ulid/v2"

	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/claudecode/hookcmd"
	"github.com/trackskills/trackskills/client"
)

// Defaults of the relay.
const (
	// DefaultListen is where the relay listens: loopback only.
	DefaultListen = "127.0.0.1:7718"
	// DefaultMaxSpoolBytes bounds the spool: hours of a busy session.
	DefaultMaxSpoolBytes = 256 << 20
	// BatchEvents is how many events go in one forwarded request.
	BatchEvents = 500
	// maxHookBytes bounds a hook body, as the server does.
	maxHookBytes = 8 << 20
	maxBackoff   = 30 * time.Second
)

// Config configures a Relay.
type Config struct {
	// Server is the Track Skills server's base URL.
	Server string
	// Key is the server's ingest key; none when empty.
	Key string
	// User is the user_id of events whose hook sends no X-Trackskills-User.
	User string
	// SpoolDir holds the spool.
	SpoolDir string
	// MaxSpoolBytes bounds the spool (DefaultMaxSpoolBytes).
	MaxSpoolBytes int64
	// StoreSkillArgs keeps skills' arguments, as the hooks' option.
	StoreSkillArgs bool
	// Timeout bounds each forwarded request (10 s).
	Timeout time.Duration
	// Logger logs what goes wrong; never a key.
	Logger *slog.Logger
}

// Relay takes hook events and forwards them.
type Relay struct {
	cfg    Config
	spool  *Spool
	client *client.Client
	starts *claudecode.StartTimes
	log    *slog.Logger

	forwarded atomic.Int64
	mu        sync.Mutex
	lastErr   string
	lastErrAt time.Time
}

// New opens the spool and makes the relay; Run forwards, Handler takes
// hook events.
func New(cfg Config) (*Relay, error) {
	if cfg.MaxSpoolBytes == 0 {
		cfg.MaxSpoolBytes = DefaultMaxSpoolBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sp, err := OpenSpool(cfg.SpoolDir, cfg.MaxSpoolBytes)
	if err != nil {
		return nil, err
	}
	return &Relay{
		cfg: cfg, spool: sp, log: cfg.Logger,
		client: client.New(client.Config{URL: strings.TrimRight(cfg.Server, "/"), Key: cfg.Key, Timeout: cfg.Timeout}),
		starts: claudecode.NewStartTimes(100_000, time.Hour),
	}, nil
}

// Handler serves POST /api/hooks/claude-code (the body of a Claude Code
// HTTP hook, answered 200 {} once spooled) and GET /healthz.
func (r *Relay) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+claudecode.HookPath, r.handleHook)
	mux.HandleFunc("GET /healthz", r.handleHealth)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "the relay takes Claude Code's HTTP hook at POST "+claudecode.HookPath, http.StatusNotFound)
	})
	return localOnly(mux)
}

// localOnly refuses what a web page in the user's browser could send: a
// Host that is not loopback (DNS rebinding) or a request with an Origin.
func localOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host := req.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		ip := net.ParseIP(strings.Trim(host, "[]"))
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "the relay answers loopback Host names only", http.StatusForbidden)
			return
		}
		if req.Header.Get("Origin") != "" {
			http.Error(w, "the relay takes no requests from web pages", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, req)
	})
}

func (r *Relay) handleHook(w http.ResponseWriter, req *http.Request) {
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "send the hook's JSON with Content-Type: application/json", http.StatusUnsupportedMediaType)
		return
	}
	now := time.Now()
	p, err := claudecode.ParseReader(http.MaxBytesReader(w, req.Body, maxHookBytes))
	if err != nil {
		http.Error(w, "not a hook payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	m := claudecode.Map(p, claudecode.Options{StoreSkillArgs: r.cfg.StoreSkillArgs})
	switch m.Action {
	case claudecode.Ignore:
		hookOK(w)
		return
	case claudecode.Start:
		r.starts.Put(m.ToolUseID, now)
		hookOK(w)
		return
	}
	in := m.Input
	if start, ok := r.starts.Take(m.ToolUseID); ok && len(in.DurationMs) == 0 {
		in.DurationMs = json.RawMessage(strconv.FormatInt(now.Sub(start).Milliseconds(), 10))
	}
	ev, err := hookcmd.ToClientEvent(in)
	if err != nil {
		http.Error(w, "event: "+err.Error(), http.StatusBadRequest)
		return
	}
	ev.Source, ev.UserID, ev.Timestamp = "hook", hookcmd.FirstNonEmpty(req.Header.Get("X-Trackskills-User"), r.cfg.User), now.UTC()
	if ev.EventID == "" {
		ev.EventID = ulidv2.Make().String() // fixed now, so that a retried forward is stored once
	}
	line, err := json.Marshal(ev)
	if err == nil {
		err = r.spool.Append(line)
	}
	if err != nil {
		// Claude Code takes any other answer than 2xx as a non-blocking
		// error: the call goes on, this event is lost.
		r.log.Error("relay: spool the event", "err", err)
		http.Error(w, "the relay could not spool the event", http.StatusServiceUnavailable)
		return
	}
	hookOK(w)
}

// hookOK is the answer Claude Code reads as a hook that ran and decided
// nothing.
func hookOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}"))
}

// Health is what GET /healthz answers.
type Health struct {
	Stats
	// Forwarded counts the events this process forwarded.
	Forwarded int64 `json:"forwarded"`
	// LastError is the last forward's failure, empty once one succeeds.
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when it happened.
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// Health says how the relay is doing.
func (r *Relay) Health() Health {
	h := Health{Stats: r.spool.Stats(), Forwarded: r.forwarded.Load()}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastErr != "" {
		at := r.lastErrAt
		h.LastError, h.LastErrorAt = r.lastErr, &at
	}
	return h
}

func (r *Relay) handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(r.Health())
}

// Run syncs the spool every few milliseconds and forwards it until ctx
// ends; then it syncs and closes the spool. A forward that fails is
// retried, with backoff, until it is dealt with (stored, or refused for
// good): the spool's order is kept.
func (r *Relay) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(syncEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.spool.Sync(); err != nil {
					r.log.Error("relay: sync the spool", "err", err)
				}
			}
		}
	}()
	err := r.forward(ctx)
	wg.Wait()
	return errors.Join(err, r.spool.Close())
}

func (r *Relay) forward(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		lines, next, err := r.spool.Read(BatchEvents)
		if err != nil {
			return fmt.Errorf("read the spool: %w", err)
		}
		if len(lines) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-r.spool.Notify():
			case <-time.After(time.Second):
				// Idle: what was forwarded leaves the disk.
				if err := r.spool.Compact(); err != nil {
					r.log.Error("relay: compact the spool", "err", err)
				}
			}
			continue
		}
		events := make([]client.Event, 0, len(lines))
		for _, l := range lines {
			var ev client.Event
			if err := json.Unmarshal(l, &ev); err == nil {
				events = append(events, ev)
			}
		}
		_, err = r.client.Send(ctx, events...)
		if ctx.Err() != nil {
			return nil // the batch stays spooled for the next start
		}
		if hookcmd.ChunkDone(err) {
			if err != nil {
				r.log.Warn("relay: the server refused spooled events for good", "err", err)
			}
			if err := r.spool.Commit(next); err != nil {
				return err
			}
			r.forwarded.Add(int64(len(events)))
			r.setErr("")
			backoff = 0
			continue
		}
		r.setErr(err.Error())
		backoff = min(max(2*backoff, 100*time.Millisecond), maxBackoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		r.log.Warn("relay: forward failed; retrying", "events", len(events), "in", wait.Round(time.Millisecond), "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

func (r *Relay) setErr(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg == "" && r.lastErr != "" {
		r.log.Info("relay: forwarding again")
	}
	r.lastErr = msg
	r.lastErrAt = time.Now()
}
