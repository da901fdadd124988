package main

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

const hookSummary = `Reads the JSON of a Claude Code hook on stdin and records the tool call it
describes, for a command hook with "async": true. The mapping is the one of
POST /api/hooks/claude-code. PreToolUse only notes when a call started, to
time a Post event that lacks duration_ms.

It always exits 0 and prints nothing on stdout. When the server is down or
slow (over TRACKSKILLS_TIMEOUT), the event goes to a local spool of at most
10,000 events (the oldest are dropped and counted when it is full); a later
run sends the spool through /api/track/batch first.

Environment: TRACKSKILLS_URL (default http://127.0.0.1:8080), TRACKSKILLS_KEY
(the ingest key), TRACKSKILLS_USER (default $USER@hostname; hashed by the
server), TRACKSKILLS_TIMEOUT (default 1s), TRACKSKILLS_SPOOL_DIR (default
$XDG_STATE_HOME/trackskills or ~/.local/state/trackskills),
TRACKSKILLS_STORE_SKILL_ARGS=1 keeps skill arguments, TRACKSKILLS_DEBUG=1
writes what happens to stderr.

Subcommands:
  trackskills hook install [--user | --project DIR] [--http] [--url URL] [--dry-run]
  trackskills hook uninstall [--user | --project DIR] [--dry-run]
  trackskills hook flush     send the spool now and print what it held`

// Spool limits.
const (
	spoolMax     = 10_000
	maxHookInput = 16 << 20
	defaultURL   = "http://127.0.0.1:8080"
)

func runHook(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "install":
			return runHookInstall(ctx, args[1:], getenv, stdout, stderr, true)
		case "uninstall":
			return runHookInstall(ctx, args[1:], getenv, stdout, stderr, false)
		case "flush":
			return runHookFlush(ctx, getenv, stdout)
		case "-h", "--help", "help":
			fmt.Fprintf(stdout, "Usage: trackskills hook < hook.json\n\n%s\n", hookSummary)
			return nil
		}
		fmt.Fprintf(stderr, "trackskills hook: unknown argument %q\n\nUsage: trackskills hook < hook.json\n\n%s\n", args[0], hookSummary)
		return errUsage
	}
	h := newHookRunner(getenv, stderr)
	h.run(ctx, os.Stdin)
	return nil // a hook never fails: Claude Code would show it
}

// hookRunner records one hook payload.
type hookRunner struct {
	url, key, user string
	timeout        time.Duration
	spoolDir       string
	opt            claudecode.Options
	debug          io.Writer // nil: quiet
	client         *client.Client
	now            time.Time
}

func newHookRunner(getenv func(string) string, stderr io.Writer) *hookRunner {
	h := &hookRunner{
		url:      strings.TrimRight(firstNonEmpty(getenv("TRACKSKILLS_URL"), defaultURL), "/"),
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
		if u := getenv("USER"); u != "" {
			host, _ := os.Hostname()
			h.user = u + "@" + host
		}
	}
	if h.spoolDir == "" {
		h.spoolDir = defaultSpoolDir(getenv)
	}
	h.newClient()
	return h
}

// newClient makes the sender for h's URL, key and timeout: the Go client's
// synchronous Send.
func (h *hookRunner) newClient() {
	h.client = client.New(client.Config{URL: h.url, Key: h.key, Timeout: h.timeout,
		HTTPClient: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}}})
}

func firstNonEmpty(vs ...string) string {
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

func (h *hookRunner) logf(format string, args ...any) {
	if h.debug != nil {
		fmt.Fprintf(h.debug, "trackskills hook: "+format+"\n", args...)
	}
}

func (h *hookRunner) run(ctx context.Context, stdin io.Reader) {
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
	ev, err := toClientEvent(in)
	if err != nil {
		h.logf("event: %v", err)
		return
	}
	ev.Source, ev.UserID, ev.Timestamp = "hook", h.user, h.now
	if ev.EventID == "" {
		ev.EventID = ulidv2.Make().String() // so that a spooled retry is stored once
	}
	line, err := json.Marshal(ev)
	if err != nil {
		h.logf("encode event: %v", err)
		return
	}
	h.deliver(ctx, line)
}

// toClientEvent converts a mapped hook event for the Go client.
func toClientEvent(in trackskills.Input) (client.Event, error) {
	ev := client.Event{ToolName: in.ToolName, ToolCategory: in.ToolCategory, Status: in.Status,
		ErrorType: in.ErrorType, ErrorMessage: in.ErrorMessage, Metadata: in.Metadata, EventID: in.EventID,
		SessionID: in.SessionID}
	if len(in.DurationMs) > 0 {
		var d int64
		if err := json.Unmarshal(in.DurationMs, &d); err != nil {
			return ev, fmt.Errorf("duration_ms %s: %w", in.DurationMs, err)
		}
		ev.DurationMs = &d
	}
	return ev, nil
}

// deliver sends the event, with the spool when it holds anything; what
// cannot be sent now is spooled.
func (h *hookRunner) deliver(ctx context.Context, line []byte) {
	if st, err := os.Stat(h.spoolPath()); err != nil || st.Size() == 0 {
		err := h.send(ctx, [][]byte{line})
		if err == nil || !retryable(err) {
			if err != nil {
				h.logf("event refused, not spooled: %v", err)
			}
			return
		}
		h.logf("send: %v; spooling", err)
		h.spool([][]byte{line})
		return
	}
	// The spool holds events: send them with this one, under the lock.
	unlock, err := h.lock()
	if err != nil {
		h.logf("lock spool: %v", err)
		return
	}
	defer unlock()
	lines, _, err := h.readSpool()
	if err != nil {
		h.logf("read spool: %v", err)
	}
	lines = append(lines, line)
	if err := h.send(ctx, lines); err != nil && retryable(err) {
		h.logf("send %d events: %v; keeping them spooled", len(lines), err)
		h.writeSpoolLocked(lines)
		return
	}
	h.writeSpoolLocked(nil)
}

// retryable reports whether a failed send may succeed later: the network,
// 408, 429 and 5xx, and 401/403 too (the key may be fixed); a refused
// event (400, 413) never will.
func retryable(err error) bool {
	var ae *client.APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
		return true
	}
	return client.IsRetryable(err)
}

// send posts spooled lines (client.Event JSON) with the Go client.
func (h *hookRunner) send(ctx context.Context, lines [][]byte) error {
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

func (h *hookRunner) spoolPath() string   { return filepath.Join(h.spoolDir, "spool.ndjson") }
func (h *hookRunner) droppedPath() string { return filepath.Join(h.spoolDir, "dropped") }

// lock takes the spool's exclusive lock (flock), which a crashed holder
// releases with its process.
func (h *hookRunner) lock() (func(), error) {
	if err := os.MkdirAll(h.spoolDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(h.spoolDir, "spool.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// spool appends lines, dropping the oldest beyond spoolMax.
func (h *hookRunner) spool(lines [][]byte) {
	unlock, err := h.lock()
	if err != nil {
		h.logf("lock spool: %v", err)
		return
	}
	defer unlock()
	old, _, err := h.readSpool()
	if err != nil {
		h.logf("read spool: %v", err)
	}
	h.writeSpoolLocked(append(old, lines...))
}

// readSpool returns the spooled lines; the caller holds the lock.
func (h *hookRunner) readSpool() ([][]byte, int64, error) {
	data, err := os.ReadFile(h.spoolPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 && json.Valid(l) {
			lines = append(lines, append([]byte(nil), l...))
		}
	}
	return lines, int64(len(data)), nil
}

// writeSpoolLocked replaces the spool with lines (the newest spoolMax),
// through a temporary file and a rename; the caller holds the lock.
func (h *hookRunner) writeSpoolLocked(lines [][]byte) {
	if drop := len(lines) - spoolMax; drop > 0 {
		lines = lines[drop:]
		n, _ := readCount(h.droppedPath())
		_ = writeFileAtomic(h.droppedPath(), []byte(strconv.FormatInt(n+int64(drop), 10)+"\n"))
		h.logf("spool full: dropped the %d oldest events", drop)
	}
	if len(lines) == 0 {
		if err := os.Remove(h.spoolPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			h.logf("empty spool: %v", err)
		}
		return
	}
	var buf bytes.Buffer
	for _, l := range lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if err := writeFileAtomic(h.spoolPath(), buf.Bytes()); err != nil {
		h.logf("write spool: %v", err)
	}
}

func readCount(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func writeFileAtomic(path string, data []byte) error {
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
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// noteStart remembers when a tool call started (PreToolUse), as a file
// named by its tool_use_id holding the Unix ms; old ones are swept now and
// then.
func (h *hookRunner) noteStart(id string) {
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

func (h *hookRunner) takeStart(id string) (time.Time, bool) {
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
func (h *hookRunner) sweepStarts(dir string) {
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

// runHookFlush sends the spool now and reports.
func runHookFlush(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	h := newHookRunner(getenv, io.Discard)
	h.timeout = 30 * time.Second
	h.newClient()
	unlock, err := h.lock()
	if err != nil {
		return fmt.Errorf("lock spool: %w", err)
	}
	defer unlock()
	lines, _, err := h.readSpool()
	if err != nil {
		return fmt.Errorf("read spool %s: %w", h.spoolPath(), err)
	}
	dropped, _ := readCount(h.droppedPath())
	if len(lines) == 0 {
		fmt.Fprintf(stdout, "spool %s is empty (%d events dropped so far)\n", h.spoolPath(), dropped)
		return nil
	}
	if err := h.send(ctx, lines); err != nil && retryable(err) {
		return fmt.Errorf("send %d spooled events to %s: %w", len(lines), h.url, err)
	}
	h.writeSpoolLocked(nil)
	fmt.Fprintf(stdout, "sent %d spooled events to %s (%d events dropped so far)\n", len(lines), h.url, dropped)
	return nil
}
