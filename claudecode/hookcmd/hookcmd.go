// Package hookcmd is the Claude Code command hook: it reads a hook's JSON
// on stdin, maps it with claudecode (the mapping of POST
// /api/hooks/claude-code), and sends the event with the Go client, or
// spools it when the server cannot take it now. Both `trackskills hook` and
// the lean `trackskills-hook` binary run it. It imports nothing heavy: a
// hook runs once per tool call, and its start-up is most of its cost.
package hookcmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	ulidv2 "github.com/oklog/ulid/v2"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/client"
)

// Limits of the hook.
const (
	// SpoolMax is the most events the spool keeps; beyond it the oldest
	// are dropped and counted.
	SpoolMax     = 10_000
	maxHookInput = 16 << 20
	// DefaultURL is the server when TRACKSKILLS_URL is not set.
	DefaultURL = "http://127.0.0.1:8080"
)

// Runner records hook payloads, with the settings read from the
// environment.
type Runner struct {
	url, key, user string
	timeout        time.Duration
	spoolDir       string
	opt            claudecode.Options
	debug          io.Writer // nil: quiet
	client         *client.Client
	now            time.Time
}

// New reads the settings: TRACKSKILLS_URL, TRACKSKILLS_KEY, TRACKSKILLS_USER
// (default $USER), TRACKSKILLS_TIMEOUT, TRACKSKILLS_SPOOL_DIR,
// TRACKSKILLS_STORE_SKILL_ARGS and TRACKSKILLS_DEBUG (what happens goes to
// stderr).
func New(getenv func(string) string, stderr io.Writer) *Runner {
	h := &Runner{
		url:      strings.TrimRight(FirstNonEmpty(getenv("TRACKSKILLS_URL"), DefaultURL), "/"),
		key:      getenv("TRACKSKILLS_KEY"),
		user:     getenv("TRACKSKILLS_USER"),
		timeout:  time.Second,
		spoolDir: getenv("TRACKSKILLS_SPOOL_DIR"),
		now:      time.Now(),
	}
	if d, err := time.ParseDuration(getenv("TRACKSKILLS_TIMEOUT")); err == nil && d > 0 {
		h.timeout = d
	}
	if v := getenv("TRACKSKILLS_DEBUG"); v != "" && v != "0" {
		h.debug = stderr
	}
	h.opt.StoreSkillArgs = getenv("TRACKSKILLS_STORE_SKILL_ARGS") == "1"
	if h.user == "" {
		h.user = getenv("USER") // as the HTTP hook's X-Trackskills-User: $USER
	}
	if h.spoolDir == "" {
		h.spoolDir = defaultSpoolDir(getenv)
	}
	h.newClient()
	return h
}

// newClient makes the sender for h's URL, key and timeout: the Go client's
// synchronous Send.
func (h *Runner) newClient() {
	h.client = client.New(client.Config{URL: h.url, Key: h.key, Timeout: h.timeout,
		HTTPClient: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}}})
}

// FirstNonEmpty returns the first value that is not empty.
func FirstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func defaultSpoolDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "trackskills")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "trackskills")
	}
	return filepath.Join(os.TempDir(), "trackskills-"+strconv.Itoa(os.Getuid()))
}

func (h *Runner) logf(format string, args ...any) {
	if h.debug != nil {
		fmt.Fprintf(h.debug, "trackskills hook: "+format+"\n", args...)
	}
}

// Run records the hook payload read from stdin. It never fails: what
// goes wrong is only told on stderr with TRACKSKILLS_DEBUG.
func (h *Runner) Run(ctx context.Context, stdin io.Reader) {
	data, err := io.ReadAll(io.LimitReader(stdin, maxHookInput))
	if err != nil {
		h.logf("read stdin: %v", err)
		return
	}
	p, err := claudecode.Parse(data)
	if err != nil {
		h.logf("%v", err)
		return
	}
	m := claudecode.Map(p, h.opt)
	switch m.Action {
	case claudecode.Ignore:
		h.logf("ignored: %s", m.Reason)
		return
	case claudecode.Start:
		h.noteStart(m.ToolUseID)
		return
	}
	in := m.Input
	if start, ok := h.takeStart(m.ToolUseID); ok && len(in.DurationMs) == 0 {
		in.DurationMs = json.RawMessage(strconv.FormatInt(max(0, h.now.Sub(start).Milliseconds()), 10))
	}
	ev, err := ToClientEvent(in)
	if err != nil {
		h.logf("event: %v", err)
		return
	}
	ev.Source, ev.UserID = "hook", h.user
	if ev.EventID == "" {
		ev.EventID = ulidv2.Make().String() // so that a spooled retry is stored once
	}
	h.deliver(ctx, ev)
}

// ToClientEvent converts a mapped hook event for the Go client.
func ToClientEvent(in trackskills.Input) (client.Event, error) {
	ev := client.Event{ToolName: in.ToolName, ToolCategory: in.ToolCategory, Status: in.Status,
		ErrorType: in.ErrorType, ErrorMessage: in.ErrorMessage, Metadata: in.Metadata, EventID: in.EventID,
		SessionID: in.SessionID, Kind: in.Kind, AgentID: in.AgentID}
	if len(in.DurationMs) > 0 {
		var d int64
		if err := json.Unmarshal(in.DurationMs, &d); err != nil {
			return ev, fmt.Errorf("duration_ms %s: %w", in.DurationMs, err)
		}
		ev.DurationMs = &d
	}
	return ev, nil
}

// deliver sends the event now when the spool is empty (no lock at all: the
// common case). Otherwise, or when the send fails and may succeed later, the
// event joins the spool first, and then this process drains the spool unless
// another one already does.
func (h *Runner) deliver(ctx context.Context, ev client.Event) {
	if st, err := os.Stat(h.spoolPath()); err != nil || st.Size() == 0 {
		// Sent now, the event goes without a timestamp: the server's clock
		// is the one that counts, and a client clock ahead would get it
		// refused.
		_, err := h.client.Send(ctx, ev)
		if err == nil {
			return
		}
		if !retryable(err) {
			h.logf("event refused, not spooled: %v", err)
			return
		}
		h.logf("send: %v; spooling", err)
	}
	ev.Timestamp = h.now // spooled: keep when it happened
	line, err := json.Marshal(ev)
	if err != nil {
		h.logf("encode event: %v", err)
		return
	}
	if err := h.spool(line); err != nil {
		h.logf("spool: %v", err)
		return
	}
	if _, err := h.drain(ctx, false); err != nil {
		h.logf("drain spool: %v", err)
	}
}

// retryable reports whether a failed send may succeed later: the network,
// 404, 408, 429 and 5xx, and 401/403 too (the key may be fixed). Events
// that the server refused one by one (400 with an index) never will.
func retryable(err error) bool {
	var ae *client.APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden ||
		ae.Status == http.StatusNotFound) {
		return true
	}
	return client.IsRetryable(err)
}

// ChunkDone reports whether a chunk of spooled events has been dealt with: sent,
// or refused for good (its events one by one, or the request as malformed
// or too large, which no retry changes). Anything else keeps it spooled.
func ChunkDone(err error) bool {
	if err == nil {
		return true
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var ae *client.APIError
		switch {
		case !errors.As(e, &ae):
			return false // the network
		case ae.Index >= 0:
			// one refused event: the others were stored
		case ae.Status == http.StatusBadRequest || ae.Status == http.StatusRequestEntityTooLarge:
			// the request as a whole, for good
		default:
			return false
		}
	}
	return true
}

// drainChunk is how many spooled events go in one request.
const drainChunk = 500

// drain sends the spool, oldest first, a chunk per request, and removes
// each chunk once it is dealt with. One process drains at a time, without
// holding the spool's lock over the network: others append meanwhile. With
// wait false it leaves at once when another process drains. It returns how
// many events it removed.
func (h *Runner) drain(ctx context.Context, wait bool) (int, error) {
	unlock, ok, err := h.flock("drain.lock", wait)
	if err != nil || !ok {
		return 0, err
	}
	defer unlock()
	removed := 0
	for {
		lines, err := h.withSpool(func(lines [][]byte) ([][]byte, error) { return nil, nil })
		if err != nil || len(lines) == 0 {
			return removed, err
		}
		chunk := lines[:min(len(lines), drainChunk)]
		if err := h.send(ctx, chunk); !ChunkDone(err) {
			return removed, fmt.Errorf("send %d spooled events: %w", len(chunk), err)
		} else if err != nil {
			h.logf("spooled events refused for good: %v", err)
		}
		// Appends only add at the end and only the drainer removes, so what
		// is left of the chunk is still the head of the spool (a full spool
		// may have dropped some of it meanwhile): remove that head.
		sent := make(map[string]bool, len(chunk))
		for _, l := range chunk {
			sent[string(l)] = true
		}
		if _, err := h.withSpool(func(cur [][]byte) ([][]byte, error) {
			i := 0
			for i < len(cur) && sent[string(cur[i])] {
				i++
			}
			return cur[i:], nil
		}); err != nil {
			return removed, err
		}
		removed += len(chunk)
	}
}

// send posts spooled lines (client.Event JSON) with the Go client.
func (h *Runner) send(ctx context.Context, lines [][]byte) error {
	events := make([]client.Event, 0, len(lines))
	for _, l := range lines {
		var ev client.Event
		if err := json.Unmarshal(l, &ev); err != nil {
			h.logf("drop a spool line that is not an event: %v", err)
			continue
		}
		events = append(events, ev)
	}
	if len(events) == 0 {
		return nil
	}
	_, err := h.client.Send(ctx, events...)
	return err
}

func (h *Runner) spoolPath() string   { return filepath.Join(h.spoolDir, "spool.ndjson") }
func (h *Runner) droppedPath() string { return filepath.Join(h.spoolDir, "dropped") }

// flock takes an exclusive lock on a file of the spool dir; a crashed
// holder releases it with its process. With wait false, ok is false when
// another process holds it.
func (h *Runner) flock(name string, wait bool) (unlock func(), ok bool, err error) {
	if err := os.MkdirAll(h.spoolDir, 0o700); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(filepath.Join(h.spoolDir, name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, err
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, true, nil
}

// spool appends a line, dropping (and counting) the oldest beyond SpoolMax.
func (h *Runner) spool(line []byte) error {
	_, err := h.withSpool(func(cur [][]byte) ([][]byte, error) {
		return append(cur, line), nil
	})
	return err
}

// withSpool reads the spool under its lock and, when change returns lines,
// replaces it with them (the newest SpoolMax; an empty slice empties it; nil
// changes nothing). It returns the lines read. A spool that cannot be read
// is never written.
func (h *Runner) withSpool(change func([][]byte) ([][]byte, error)) ([][]byte, error) {
	unlock, _, err := h.flock("spool.lock", true)
	if err != nil {
		return nil, fmt.Errorf("lock spool: %w", err)
	}
	defer unlock()
	lines, err := h.readSpool()
	if err != nil {
		return nil, err
	}
	next, err := change(lines)
	if err != nil || next == nil {
		return lines, err
	}
	if drop := len(next) - SpoolMax; drop > 0 {
		next = next[drop:]
		n, _ := readCount(h.droppedPath())
		if err := WriteFileAtomic(h.droppedPath(), []byte(strconv.FormatInt(n+int64(drop), 10)+"\n")); err != nil {
			h.logf("count dropped events: %v", err)
		}
		h.logf("spool full: dropped the %d oldest events", drop)
	}
	if len(next) == 0 {
		if err := os.Remove(h.spoolPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return lines, fmt.Errorf("empty spool: %w", err)
		}
		return lines, nil
	}
	var buf bytes.Buffer
	for _, l := range next {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if err := WriteFileAtomic(h.spoolPath(), buf.Bytes()); err != nil {
		return lines, fmt.Errorf("write spool: %w", err)
	}
	return lines, nil
}

// maxSpoolLine bounds one spooled event; a longer line (it cannot be one
// of ours) is skipped.
const maxSpoolLine = 1 << 20

// readSpool returns the spooled lines; the caller holds the lock. Lines
// that are not JSON or too long are skipped (and so dropped at the next
// write); a read error is returned, and then nothing is written.
func (h *Runner) readSpool() ([][]byte, error) {
	f, err := os.Open(h.spoolPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	defer f.Close()
	var lines [][]byte
	r := bufio.NewReader(f)
	for {
		l, err := r.ReadBytes('\n')
		if t := bytes.TrimSpace(l); len(t) > 0 {
			if len(t) <= maxSpoolLine && json.Valid(t) {
				lines = append(lines, t)
			} else {
				h.logf("skip a spool line of %d bytes that is not an event", len(t))
			}
		}
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read spool: %w", err)
		}
	}
}

func readCount(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// WriteFileAtomic replaces path with data through a synced temporary file
// and a rename, so that a crash leaves the old file or the new one.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil { // the spool must survive a crash
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// noteStart remembers when a tool call started (PreToolUse), as a file
// named by its tool_use_id holding the Unix ms; old ones are swept now and
// then.
func (h *Runner) noteStart(id string) {
	dir := filepath.Join(h.spoolDir, "started")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		h.logf("start: %v", err)
		return
	}
	name := claudecode.EventID(id) // a safe file name
	if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.FormatInt(h.now.UnixMilli(), 10)), 0o600); err != nil {
		h.logf("start: %v", err)
	}
	if rand.IntN(100) == 0 {
		h.sweepStarts(dir)
	}
}

func (h *Runner) takeStart(id string) (time.Time, bool) {
	if id == "" {
		return time.Time{}, false
	}
	path := filepath.Join(h.spoolDir, "started", claudecode.EventID(id))
	ms, err := readCount(path)
	if err != nil {
		return time.Time{}, false
	}
	_ = os.Remove(path)
	return time.UnixMilli(ms), true
}

// sweepStarts removes start notes older than a day (calls that never
// finished).
func (h *Runner) sweepStarts(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && h.now.Sub(info.ModTime()) > 24*time.Hour {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// User is the user_id the events carry.
func (h *Runner) User() string { return h.user }

// URL is the server the events go to.
func (h *Runner) URL() string { return h.url }

// SpoolPath is the spool file.
func (h *Runner) SpoolPath() string { return h.spoolPath() }

// Flush sends the spool now, waiting for a drain already running, with a
// 30 s timeout per request. It returns how many events it removed (sent or
// refused for good), how many are left, and how many the full spool
// dropped so far.
func (h *Runner) Flush(ctx context.Context) (sent, left int, dropped int64, err error) {
	h.timeout = 30 * time.Second
	h.newClient()
	sent, err = h.drain(ctx, true)
	lines, rerr := h.withSpool(func([][]byte) ([][]byte, error) { return nil, nil })
	dropped, _ = readCount(h.droppedPath())
	return sent, len(lines), dropped, errors.Join(err, rerr)
}

// Plugin options of the Track Skills Claude Code plugin: Claude Code
// exports each userConfig value to the plugin's hook processes as
// CLAUDE_PLUGIN_OPTION_<KEY>.
const (
	PluginOptionURL = "CLAUDE_PLUGIN_OPTION_SERVER_URL"
	PluginOptionKey = "CLAUDE_PLUGIN_OPTION_INGEST_KEY"
)

// WithPluginOptions returns getenv with the plugin's options behind
// TRACKSKILLS_URL and TRACKSKILLS_KEY: a variable that is set wins (an
// administrator's env block), else the option the user gave the plugin.
func WithPluginOptions(getenv func(string) string) func(string) string {
	return func(name string) string {
		v := getenv(name)
		if v != "" {
			return v
		}
		switch name {
		case "TRACKSKILLS_URL":
			return getenv(PluginOptionURL)
		case "TRACKSKILLS_KEY":
			return getenv(PluginOptionKey)
		}
		return v
	}
}
