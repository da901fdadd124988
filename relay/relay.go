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
	failing   [2]failure // by part: forwarding, syncing
}

// The parts of the relay whose failures Health shows.
const (
	forwarding = iota
	syncing
)

// failure is what failed last in a part of the relay; empty while it works.
type failure struct {
	msg string
	at  time.Time
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
	// LastError is what failed last (a forward, the spool), empty once
	// the relay works again.
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when it happened.
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// Health says how the relay is doing.
func (r *Relay) Health() Health {
	h := Health{Stats: r.spool.Stats(), Forwarded: r.forwarded.Load()}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.failing {
		if f.msg != "" && (h.LastErrorAt == nil || f.at.After(*h.LastErrorAt)) {
			at := f.at
			h.LastError, h.LastErrorAt = f.msg, &at
		}
	}
	return h
}

func (r *Relay) handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(r.Health())
}

// Run syncs the spool every few milliseconds and forwards it until ctx
// ends; then it syncs and closes the spool. Whatever fails (a forward, the
// spool's sync, read or cursor) is logged, shown in Health, and retried
// with backoff until it succeeds: the spool's order is kept, and a batch
// is let go only once the server has dealt with it (stored, or refused for
// good) and the cursor is past it.
func (r *Relay) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(syncEvery)
		defer t.Stop()
		var lastLogged time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.spool.Sync(); err != nil {
					// Every 20 ms while it lasts: logged once a second.
					if time.Since(lastLogged) >= time.Second {
						r.log.Error("relay: sync the spool: answered events may not survive a crash", "err", err)
						lastLogged = time.Now()
					}
					r.fail(syncing, "sync the spool", err)
				} else {
					r.ok(syncing)
				}
			}
		}
	}()
	r.forward(ctx)
	wg.Wait()
	return r.spool.Close()
}

// forward sends the spool to the server until ctx ends.
func (r *Relay) forward(ctx context.Context) {
	backoff := time.Duration(0)
	retry := func(what string, events int, err error) bool {
		r.fail(forwarding, what, err)
		backoff = min(max(2*backoff, 100*time.Millisecond), maxBackoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		r.log.Warn("relay: "+what+" failed; retrying", "events", events, "in", wait.Round(time.Millisecond), "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
			return true
		}
	}
	for {
		lines, next, err := r.spool.Read(BatchEvents)
		if err != nil {
			if !retry("read the spool", 0, err) {
				return
			}
			continue
		}
		if len(lines) == 0 {
			select {
			case <-ctx.Done():
				return
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
			return // the batch stays spooled for the next start
		}
		if !hookcmd.ChunkDone(err) {
			if !retry("forward", len(events), err) {
				return
			}
			continue
		}
		if err != nil {
			r.log.Warn("relay: the server refused spooled events for good", "events", len(events), "err", err)
		}
		if err := r.spool.Commit(next); err != nil {
			// The batch is sent again: its events keep their ids, and the
			// server stores each once.
			if !retry("move the spool cursor", len(events), err) {
				return
			}
			continue
		}
		r.forwarded.Add(int64(len(events)))
		r.ok(forwarding)
		backoff = 0
	}
}

// fail records that what failed in part (forwarding or syncing), for
// Health.
func (r *Relay) fail(part int, what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failing[part] = failure{msg: what + ": " + err.Error(), at: time.Now()}
}

// ok records that part works again.
func (r *Relay) ok(part int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.failing[part]; f.msg != "" {
		r.log.Info("relay: working again", "after", f.msg)
		r.failing[part] = failure{}
	}
}
