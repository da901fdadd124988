package ingest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/ingest"
)

const hookPath = "/api/hooks/claude-code"

// wantMapping is the part of a claudecode golden file this test reads.
type wantMapping struct {
	Action string             `json:"action"`
	Event  *trackskills.Input `json:"event"`
}

func hookFixtures(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../claudecode/testdata/hooks/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		if !strings.HasSuffix(f, ".want.json") {
			out[strings.TrimSuffix(filepath.Base(f), ".json")] = f
		}
	}
	return out
}

func postHook(srv *ingest.Server, body string, header ...string) *httpResult {
	r := newPost(hookPath, body)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := serve(srv.Handler(), r)
	return &httpResult{code: w.Code, body: w.Body.String(), header: w.Header()}
}

type httpResult struct {
	code   int
	body   string
	header http.Header
}

// Every Claude Code fixture answers 200 {}, and the ones that are
// tool calls reach the stream as their golden event, from source hook.
func TestClaudeHook_Fixtures(t *testing.T) {
	for name, file := range hookFixtures(t) {
		t.Run(name, func(t *testing.T) {
			// A server each: fixtures share tool_use_ids, which the stream
			// deduplicates.
			srv, js := MustServer(t, testConfig())
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want wantMapping
			wb, err := os.ReadFile(strings.TrimSuffix(file, ".json") + ".want.json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(wb, &want); err != nil {
				t.Fatal(err)
			}
			before := lastSeq(t, js)
			res := postHook(srv, string(body), ingest.UserHeader, "dev")
			if res.code != http.StatusOK || res.body != "{}" {
				t.Fatalf("got %d %q, want 200 {}", res.code, res.body)
			}
			got := eventsAfter(t, js, before)
			if want.Action != "track" {
				if len(got) != 0 {
					t.Errorf("a %s payload published %d events", want.Action, len(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("published %d events, want 1", len(got))
			}
			ev, w := got[0], want.Event
			if ev.ToolName != w.ToolName || ev.ToolCategory != w.ToolCategory || ev.Status != w.Status ||
				ev.ErrorType != w.ErrorType || ev.Kind != w.Kind || ev.Source != "hook" || ev.UserHash == "" {
				t.Errorf("stored %+v, want %+v from source hook", ev, w)
			}
			if w.EventID != "" && ev.EventID != w.EventID {
				t.Errorf("event_id %q, want %q", ev.EventID, w.EventID)
			}
			if (w.SessionID != "") != (ev.SessionHash != "") || strings.Contains(string(ev.Metadata), "8c35adc1") {
				t.Errorf("session: hash %q, metadata %s: want the session hashed, never in clear", ev.SessionHash, ev.Metadata)
			}
			if (w.AgentID != "") != (ev.AgentHash != "") || (w.AgentID != "" && strings.Contains(string(ev.Metadata), w.AgentID)) {
				t.Errorf("agent: hash %q, metadata %s: want the agent id hashed, never in clear", ev.AgentHash, ev.Metadata)
			}
			if len(w.DurationMs) > 0 && string(w.DurationMs) != "null" {
				if ev.DurationMs == nil || jsonInt(t, w.DurationMs) != *ev.DurationMs {
					t.Errorf("duration %v, want %s", ev.DurationMs, w.DurationMs)
				}
			}
		})
	}
}

func jsonInt(t *testing.T, raw json.RawMessage) int64 {
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A retried hook (the same tool_use_id) is one message of the stream: the
// event id is the tool_use_id, and the stream deduplicates on it. The user
// header keys the identity.
func TestClaudeHook_IdentityAndRetries(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	body, _ := os.ReadFile("../claudecode/testdata/hooks/bash_post.json")
	before := lastSeq(t, js)
	for i, user := range []string{"alice", "alice", "alice", "bob"} {
		b := string(body)
		if i > 0 && user == "alice" && i == 2 {
			b = strings.ReplaceAll(b, "toolu_01JtQ5uVbC7dXnR2pK9sLmWa", "toolu_01SeCoNdCaLl1aB2cD3eF4g")
		}
		if user == "bob" {
			b = strings.ReplaceAll(b, "toolu_01JtQ5uVbC7dXnR2pK9sLmWa", "toolu_01BoBsCaLl1aB2cD3eF4gH5")
		}
		if res := postHook(srv, b, ingest.UserHeader, user); res.code != 200 || res.body != "{}" {
			t.Fatalf("%d %s", res.code, res.body)
		}
	}
	got := eventsAfter(t, js, before)
	if len(got) != 3 || got[0].EventID != "toolu_01JtQ5uVbC7dXnR2pK9sLmWa" {
		t.Fatalf("events %+v: want 3 (the retry deduplicated), the first with the tool_use_id as event id", got)
	}
	if got[0].UserHash != got[1].UserHash || got[0].UserHash == got[2].UserHash {
		t.Errorf("user hashes %q %q %q: want alice twice the same, bob another", got[0].UserHash, got[1].UserHash, got[2].UserHash)
	}
}

// A Post event without duration_ms is timed from its PreToolUse.
func TestClaudeHook_PreToolUseTimesTheCall(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	pre := `{"hook_event_name":"PreToolUse","tool_name":"Grep","tool_use_id":"toolu_01TiMeD1aB2cD3eF4gH5iJ6k","tool_input":{"pattern":"x"}}`
	postNoDur := `{"hook_event_name":"PostToolUse","tool_name":"Grep","tool_use_id":"toolu_01TiMeD1aB2cD3eF4gH5iJ6k","tool_response":{}}`
	before := lastSeq(t, js)
	if res := postHook(srv, pre); res.code != 200 || res.body != "{}" {
		t.Fatalf("pre: %d %s", res.code, res.body)
	}
	if n := len(eventsAfter(t, js, before)); n != 0 {
		t.Fatalf("PreToolUse published %d events", n)
	}
	time.Sleep(40 * time.Millisecond)
	if res := postHook(srv, postNoDur); res.code != 200 {
		t.Fatalf("post: %d %s", res.code, res.body)
	}
	got := eventsAfter(t, js, before)
	if len(got) != 1 || got[0].DurationMs == nil || *got[0].DurationMs < 40 || *got[0].DurationMs > 5000 {
		t.Fatalf("events %+v: want one timed from its PreToolUse (>= 40 ms)", got)
	}
}

func TestClaudeHook_Refusals(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	keyed, _ := MustServer(t, ingest.Config{Keys: []string{"k1"}, Publisher: ingest.DefaultPublisherConfig()})
	long := `{"hook_event_name":"PostToolUse","tool_name":"` + strings.Repeat("x", 300) + `"}`
	tests := []struct {
		name    string
		srv     *ingest.Server
		body    string
		header  []string
		code    int
		ignored bool
	}{
		{name: "Malformed", srv: srv, body: `{"hook_event_name":`, code: 400},
		{name: "NotAnObject", srv: srv, body: `["PostToolUse"]`, code: 400},
		{name: "Empty", srv: srv, body: ``, code: 400},
		{name: "WrongType", srv: srv, body: `{}`, header: []string{"Content-Type", "application/xml"}, code: 415},
		{name: "UnknownEvent", srv: srv, body: `{"hook_event_name":"TeammateIdle"}`, code: 200, ignored: true},
		{name: "NoEventName", srv: srv, body: `{"tool_name":"Bash"}`, code: 200, ignored: true},
		{name: "InvalidMappedEvent", srv: srv, body: long, code: 200, ignored: true},
		{name: "NoKey", srv: keyed, body: `{"hook_event_name":"Stop"}`, code: 401},
		{name: "Key", srv: keyed, body: `{"hook_event_name":"TeammateIdle"}`, header: []string{"Authorization", "Bearer k1"}, code: 200, ignored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := lastSeq(t, js)
			res := postHook(tt.srv, tt.body, tt.header...)
			if res.code != tt.code {
				t.Fatalf("got %d %s, want %d", res.code, res.body, tt.code)
			}
			if tt.code == 200 && res.body != "{}" {
				t.Errorf("body %q, want {}", res.body)
			}
			if tt.code >= 400 && !strings.Contains(res.body, `"error"`) {
				t.Errorf("body %q: want an error message", res.body)
			}
			if got := res.header.Get("X-Trackskills-Ignored") != ""; got != tt.ignored {
				t.Errorf("X-Trackskills-Ignored %q, want set=%v", res.header.Get("X-Trackskills-Ignored"), tt.ignored)
			}
			if n := len(eventsAfter(t, js, before)); n != 0 {
				t.Errorf("published %d events", n)
			}
		})
	}
}

// startedReader is a request body that reports its first read, then
// waits for the test to write to or close its pipe.
type startedReader struct {
	*io.PipeReader
	once    sync.Once
	started chan struct{}
}

func (r *startedReader) Read(p []byte) (int, error) {
	r.once.Do(func() { close(r.started) })
	return r.PipeReader.Read(p)
}

// Ensure hook bodies beyond the in-flight budget get a 503 with
// Retry-After, and that the budget comes back when the bodies end: the
// budget is charged by Content-Length, so bodies that claim the most a
// hook may send and never arrive fill it without using memory.
func TestClaudeHook_BudgetFull(t *testing.T) {
	srv, _ := MustServer(t, testConfig())
	h := srv.Handler()
	n := int(ingest.HookBudgetBytes / ingest.MaxHookBytes)
	var wg sync.WaitGroup
	pipes := make([]*io.PipeWriter, n)
	codes := make([]int, n)
	for i := range n {
		pr, pw := io.Pipe()
		pipes[i] = pw
		body := &startedReader{PipeReader: pr, started: make(chan struct{})}
		r := httptest.NewRequest(http.MethodPost, hookPath, body)
		r.Header.Set("Content-Type", "application/json")
		r.ContentLength = ingest.MaxHookBytes
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = serve(h, r).Code
		}()
		<-body.started // it holds its share of the budget
	}

	over := postHook(srv, `{"hook_event_name":"Stop"}`)
	if over.code != http.StatusServiceUnavailable || over.header.Get("Retry-After") == "" || !strings.Contains(over.body, "in flight") {
		t.Errorf("hook beyond the budget: %d %q Retry-After %q, want 503 with Retry-After", over.code, over.body, over.header.Get("Retry-After"))
	}
	for _, pw := range pipes {
		pw.CloseWithError(errors.New("client gone"))
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusBadRequest {
			t.Errorf("body %d that never came: %d, want 400", i, code)
		}
	}
	if res := postHook(srv, `{"hook_event_name":"Stop"}`); res.code != http.StatusOK {
		t.Errorf("hook after the bodies ended: %d %s, want 200", res.code, res.body)
	}
}
