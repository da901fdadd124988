package hookcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// newRunner returns a hook runner that sends to url and spools in a new
// temporary directory.
func newRunner(t *testing.T, url string) *Runner {
	t.Helper()
	env := map[string]string{
		"TRACKSKILLS_URL":       url,
		"TRACKSKILLS_SPOOL_DIR": t.TempDir(),
		"TRACKSKILLS_TIMEOUT":   "500ms",
		"TRACKSKILLS_USER":      "dev",
	}
	return New(func(k string) string { return env[k] }, io.Discard)
}

// spoolLine is a spooled event of the tests.
func spoolLine(id string) string {
	return `{"tool_name":"old","status":"success","event_id":"` + id + `"}`
}

// spoolLines returns n spool lines with ids prefix00000, prefix00001...
func spoolLines(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = spoolLine(fmt.Sprintf("%s%05d", prefix, i))
	}
	return out
}

func writeSpool(t *testing.T, h *Runner, lines []string) {
	t.Helper()
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l + "\n")
	}
	if err := os.MkdirAll(h.spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.SpoolPath(), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// spooled returns the event ids in the spool file, in order; nil when it
// does not exist.
func spooled(t *testing.T, h *Runner) []string {
	t.Helper()
	data, err := os.ReadFile(h.SpoolPath())
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var ev struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatalf("spool line %q: %v", l, err)
		}
		ids = append(ids, ev.EventID)
	}
	return ids
}

func droppedCount(t *testing.T, h *Runner) string {
	t.Helper()
	b, err := os.ReadFile(h.droppedPath())
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// The spool keeps the newest SpoolMax events: beyond it the oldest are
// dropped and counted in the dropped file; lines that are not events are
// skipped.
func TestRunner_Spool(t *testing.T) {
	tests := []struct {
		name        string
		before      []string // spool lines before
		dropped     string   // dropped file before; "" is none
		add         int      // events spooled
		wantLen     int
		wantFirst   string
		wantLast    string
		wantDropped string // "" is no dropped file
	}{
		{name: "Empty", add: 1, wantLen: 1, wantFirst: "new00000", wantLast: "new00000"},
		{name: "BelowCap", before: spoolLines("old", 10), add: 2, wantLen: 12, wantFirst: "old00000", wantLast: "new00001"},
		{name: "ToTheCap", before: spoolLines("old", SpoolMax-1), add: 1, wantLen: SpoolMax, wantFirst: "old00000", wantLast: "new00000"},
		{name: "OverTheCap", before: spoolLines("old", SpoolMax), add: 3, wantLen: SpoolMax, wantFirst: "old00003", wantLast: "new00002", wantDropped: "3"},
		{name: "CountAdds", before: spoolLines("old", SpoolMax), dropped: "5\n", add: 1, wantLen: SpoolMax, wantFirst: "old00001", wantLast: "new00000", wantDropped: "6"},
		{name: "NotEventsSkipped", before: []string{"not json", spoolLine("old00000"), `{"cut":`, "", strings.Repeat("x", maxSpoolLine+1)}, add: 1, wantLen: 2, wantFirst: "old00000", wantLast: "new00000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRunner(t, "http://127.0.0.1:1")
			if tt.before != nil {
				writeSpool(t, h, tt.before)
			}
			if tt.dropped != "" {
				if err := os.WriteFile(h.droppedPath(), []byte(tt.dropped), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range spoolLines("new", tt.add) {
				if err := h.spool([]byte(l)); err != nil {
					t.Fatalf("spool: %v", err)
				}
			}
			ids := spooled(t, h)
			if len(ids) != tt.wantLen || ids[0] != tt.wantFirst || ids[len(ids)-1] != tt.wantLast {
				t.Fatalf("spool: %d events from %s to %s, want %d from %s to %s", len(ids), ids[0], ids[len(ids)-1], tt.wantLen, tt.wantFirst, tt.wantLast)
			}
			if got := droppedCount(t, h); got != tt.wantDropped {
				t.Errorf("dropped=%q, want %q", got, tt.wantDropped)
			}
		})
	}
}

// answer is how a test server answers one request: the ids of its events
// and its number (from 1).
type answer func(n int, ids []string) (status int, body string)

// hookServer is a Track Skills server stand-in that records the event ids
// of each request.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests [][]string
}

func newHookServer(t *testing.T, answer answer) *hookServer {
	t.Helper()
	s := &hookServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		type event struct {
			EventID string `json:"event_id"`
		}
		var evs []event
		if strings.HasSuffix(r.URL.Path, "/batch") {
			_ = json.Unmarshal(body, &evs)
		} else {
			var ev event
			_ = json.Unmarshal(body, &ev)
			evs = append(evs, ev)
		}
		ids := make([]string, len(evs))
		for i, ev := range evs {
			ids[i] = ev.EventID
		}
		s.mu.Lock()
		s.requests = append(s.requests, ids)
		n := len(s.requests)
		s.mu.Unlock()
		status, out := answer(n, ids)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hookServer) received() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.requests...)
}

func accept(_ int, ids []string) (int, string) {
	return http.StatusOK, fmt.Sprintf(`{"success":true,"accepted":%d,"rejected":[]}`, len(ids))
}

func unavailable(int, []string) (int, string) {
	return http.StatusServiceUnavailable, `{"success":false,"error":"stream unavailable"}`
}

// A drain sends the spool oldest first, a chunk per request, and frees a
// chunk only once it is dealt with: stored, or refused for good. A drain
// that fails half-way keeps what it did not deliver, and what was spooled
// meanwhile.
func TestRunner_Drain(t *testing.T) {
	var appender *Runner // the runner of AppendedMeanwhile
	tests := []struct {
		name        string
		spool       int // events spooled before, old00000...
		answer      answer
		wantRemoved int
		wantErr     bool
		wantLeft    []string // first and last ids left; nil: the spool is gone
		wantLen     int
	}{
		{name: "Accepted", spool: 600, answer: accept, wantRemoved: 600},
		{name: "HalfFailed", spool: 600, answer: func(n int, ids []string) (int, string) {
			if n > 1 {
				return unavailable(n, ids)
			}
			return accept(n, ids)
		}, wantRemoved: 500, wantErr: true, wantLeft: []string{"old00500", "old00599"}, wantLen: 100},
		{name: "Unavailable", spool: 600, answer: unavailable, wantErr: true, wantLeft: []string{"old00000", "old00599"}, wantLen: 600},
		{name: "WrongKey", spool: 3, answer: func(int, []string) (int, string) {
			return http.StatusUnauthorized, `{"success":false,"error":"bad key"}`
		}, wantErr: true, wantLeft: []string{"old00000", "old00002"}, wantLen: 3},
		{name: "OneEventRefused", spool: 3, answer: func(int, []string) (int, string) {
			return http.StatusOK, `{"success":true,"accepted":2,"rejected":[{"index":1,"error":"bad","field":"tool_name"}]}`
		}, wantRemoved: 3},
		{name: "EveryEventRefused", spool: 2, answer: func(int, []string) (int, string) {
			return http.StatusBadRequest, `{"success":false,"accepted":0,"rejected":[{"index":0,"error":"bad"},{"index":1,"error":"bad"}]}`
		}, wantRemoved: 2},
		{name: "RequestMalformed", spool: 2, answer: func(int, []string) (int, string) {
			return http.StatusBadRequest, `{"success":false,"error":"malformed"}`
		}, wantRemoved: 2},
		{name: "RequestTooLarge", spool: 2, answer: func(int, []string) (int, string) {
			return http.StatusRequestEntityTooLarge, `{"success":false,"error":"too large"}`
		}, wantRemoved: 2},
		{name: "AppendedMeanwhile", spool: 10, answer: func(n int, ids []string) (int, string) {
			if n > 1 {
				return unavailable(n, ids)
			}
			if err := appender.spool([]byte(spoolLine("new00000"))); err != nil {
				panic(err)
			}
			return accept(n, ids)
		}, wantRemoved: 10, wantErr: true, wantLeft: []string{"new00000", "new00000"}, wantLen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newHookServer(t, tt.answer)
			h := newRunner(t, srv.URL)
			appender = h
			writeSpool(t, h, spoolLines("old", tt.spool))
			removed, err := h.drain(context.Background(), false)
			if (err != nil) != tt.wantErr {
				t.Fatalf("drain: err=%v, want an error: %v", err, tt.wantErr)
			}
			if removed != tt.wantRemoved {
				t.Errorf("removed %d, want %d", removed, tt.wantRemoved)
			}
			reqs := srv.received()
			if len(reqs) == 0 || reqs[0][0] != "old00000" || len(reqs[0]) != min(tt.spool, drainChunk) {
				t.Errorf("first request %v: want the %d oldest", reqs, min(tt.spool, drainChunk))
			}
			ids := spooled(t, h)
			switch {
			case tt.wantLeft == nil && ids != nil:
				t.Errorf("spool holds %d events, want it gone", len(ids))
			case tt.wantLeft != nil && (len(ids) != tt.wantLen || ids[0] != tt.wantLeft[0] || ids[len(ids)-1] != tt.wantLeft[1]):
				t.Errorf("spool holds %v, want %d from %s to %s", ids, tt.wantLen, tt.wantLeft[0], tt.wantLeft[1])
			}
		})
	}

	// Ensure a server that cannot be reached keeps the whole spool.
	t.Run("Network", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		h := newRunner(t, "http://"+addr)
		writeSpool(t, h, spoolLines("old", 3))
		if removed, err := h.drain(context.Background(), false); err == nil || removed != 0 {
			t.Fatalf("drain: removed %d, err %v: want 0 and an error", removed, err)
		}
		if ids := spooled(t, h); len(ids) != 3 {
			t.Fatalf("spool holds %v, want the 3 events", ids)
		}
	})
}

// One process drains at a time: a drain that does not wait leaves at once
// while another holds the drain lock, one that waits goes on once it is
// released; the spool lock is not held over the network.
func TestRunner_DrainLock(t *testing.T) {
	srv := newHookServer(t, accept)
	h := newRunner(t, srv.URL)
	writeSpool(t, h, spoolLines("old", 3))
	other := newRunner(t, srv.URL) // another process: its own lock files' descriptors
	other.spoolDir = h.spoolDir

	unlock, ok, err := other.flock("drain.lock", false)
	if err != nil || !ok {
		t.Fatalf("flock: ok=%v, err=%v", ok, err)
	}
	if removed, err := h.drain(context.Background(), false); err != nil || removed != 0 {
		t.Fatalf("drain while locked: removed %d, err %v: want 0, nil", removed, err)
	}
	if _, ok, err := h.flock("drain.lock", false); err != nil || ok {
		t.Fatalf("second flock: ok=%v, err=%v: want it refused", ok, err)
	}
	if n := len(srv.received()); n != 0 {
		t.Fatalf("%d requests while another process drains, want none", n)
	}
	// The spool stays writable while the drain lock is held.
	if err := h.spool([]byte(spoolLine("new00000"))); err != nil {
		t.Fatalf("spool while draining: %v", err)
	}

	done := make(chan int)
	go func() {
		removed, err := h.drain(context.Background(), true)
		if err != nil {
			t.Errorf("waiting drain: %v", err)
		}
		done <- removed
	}()
	select {
	case n := <-done:
		t.Fatalf("waiting drain returned %d while the lock is held", n)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case n := <-done:
		if n != 4 {
			t.Fatalf("waiting drain removed %d, want 4", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting drain still blocked after the unlock")
	}
	if ids := spooled(t, h); ids != nil {
		t.Fatalf("spool holds %v after the drain, want it gone", ids)
	}
}

// Run sends at once when the spool is empty; it spools what the server
// cannot take now (and not what it refuses for good); with a spool, the
// new event joins its end and the spool is drained, oldest first.
func TestRunner_Run(t *testing.T) {
	const post = `{"hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"toolu_runtest01","duration_ms":7}`
	tests := []struct {
		name      string
		spool     int
		answer    answer
		wantSent  [][]string // event ids of each request; "new" is the hook's event
		wantSpool []string   // "new" is the hook's event
	}{
		{name: "SentNow", answer: accept, wantSent: [][]string{{"new"}}},
		{name: "SpooledWhenUnavailable", answer: unavailable, wantSent: [][]string{{"new"}, {"new"}}, wantSpool: []string{"new"}},
		{name: "RefusedNotSpooled", answer: func(int, []string) (int, string) {
			return http.StatusBadRequest, `{"success":false,"error":"bad","field":"tool_name"}`
		}, wantSent: [][]string{{"new"}}},
		{name: "JoinsTheSpool", spool: 2, answer: accept, wantSent: [][]string{{"old00000", "old00001", "new"}}},
		{name: "JoinsTheSpoolKept", spool: 2, answer: unavailable, wantSent: [][]string{{"old00000", "old00001", "new"}}, wantSpool: []string{"old00000", "old00001", "new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newHookServer(t, tt.answer)
			h := newRunner(t, srv.URL)
			if tt.spool > 0 {
				writeSpool(t, h, spoolLines("old", tt.spool))
			}
			h.Run(context.Background(), strings.NewReader(post))
			got := srv.received()
			var newID string
			if len(got) > 0 {
				newID = got[len(got)-1][len(got[len(got)-1])-1]
			}
			if newID == "" {
				t.Fatalf("requests %v: the hook's event has no event_id", got)
			}
			subst := func(ids []string) []string {
				out := make([]string, len(ids))
				for i, id := range ids {
					if id == "new" {
						id = newID
					}
					out[i] = id
				}
				return out
			}
			if len(got) != len(tt.wantSent) {
				t.Fatalf("requests %v, want %v", got, tt.wantSent)
			}
			for i := range got {
				if want := subst(tt.wantSent[i]); fmt.Sprint(got[i]) != fmt.Sprint(want) {
					t.Errorf("request %d sent %v, want %v", i, got[i], want)
				}
			}
			if got, want := spooled(t, h), subst(tt.wantSpool); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("spool holds %v, want %v", got, want)
			}
		})
	}
}

// Ensure a spooled event keeps when it happened: it may be sent long after.
func TestRunner_Run_SpooledKeepsTime(t *testing.T) {
	h := newRunner(t, newHookServer(t, unavailable).URL)
	h.Run(context.Background(), strings.NewReader(`{"hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"toolu_time01"}`))
	data, err := os.ReadFile(filepath.Join(h.spoolDir, "spool.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Timestamp time.Time `json:"timestamp"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(data), &ev); err != nil {
		t.Fatal(err)
	}
	if !ev.Timestamp.Equal(h.now) {
		t.Fatalf("spooled timestamp %v, want the hook's time %v", ev.Timestamp, h.now)
	}
}
