package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/wire"
)

// testKey is the identity hash key of every test server, so that tests can
// compute the hash they expect with ingest.NewHasher(testKey).
var testKey = bytes.Repeat([]byte{0x5a}, 32)

// testLogger discards logs unless the tests run with -v.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is ingest.DefaultConfig: a zero ingest.Config has no subject
// and a zero PubAck timeout, so every test starts from the defaults.
func testConfig() ingest.Config { return ingest.DefaultConfig() }

// MustRunNATS starts an embedded NATS server with JetStream on a free
// loopback port and a store in tb.TempDir(); cleanup shuts it down.
func MustRunNATS(tb testing.TB) *embeddednats.Server {
	tb.Helper()
	return mustStartNATS(tb, "127.0.0.1:-1", tb.TempDir())
}

// mustStartNATS starts an embedded NATS server on addr with its store in
// dir, so that a test can restart a server on the same port and store.
func mustStartNATS(tb testing.TB, addr, dir string) *embeddednats.Server {
	tb.Helper()
	srv, err := embeddednats.Start(embeddednats.Config{Addr: addr, StoreDir: dir}, testLogger())
	if err != nil {
		tb.Fatalf("start nats: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown nats: %v", err)
		}
	})
	return srv
}

// MustServer runs NATS, connects in-process, declares the stream and
// returns an ingest server on it, with the JetStream context to read the
// stream back.
func MustServer(tb testing.TB, cfg ingest.Config) (*ingest.Server, jetstream.JetStream) {
	tb.Helper()
	return mustServerLogger(tb, cfg, testLogger())
}

func mustServerLogger(tb testing.TB, cfg ingest.Config, logger *slog.Logger) (*ingest.Server, jetstream.JetStream) {
	tb.Helper()
	ns := MustRunNATS(tb)
	nc, err := ns.Connect("test")
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return mustIngest(tb, cfg, nc, logger)
}

// mustIngest declares the stream on nc and builds an ingest server on it;
// cleanup shuts the server down (its publisher first drains).
func mustIngest(tb testing.TB, cfg ingest.Config, nc *nats.Conn, logger *slog.Logger) (*ingest.Server, jetstream.JetStream) {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ingest.EnsureStream(ctx, js, ingest.DefaultStreamConfig()); err != nil {
		tb.Fatalf("ensure stream: %v", err)
	}
	srv := ingest.New(cfg, js, testKey, logger)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown ingest: %v", err)
		}
	})
	return srv, js
}

// readMsgs returns every message of the events stream, in order.
func readMsgs(tb testing.TB, js jetstream.JetStream) []*jetstream.RawStreamMsg {
	tb.Helper()
	return readMsgsAfter(tb, js, 0)
}

// readMsgsAfter returns the messages of the events stream after sequence
// seq, in order.
func readMsgsAfter(tb testing.TB, js jetstream.JetStream, seq uint64) []*jetstream.RawStreamMsg {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		tb.Fatalf("stream: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		tb.Fatalf("stream info: %v", err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	var out []*jetstream.RawStreamMsg
	for seq := max(info.State.FirstSeq, seq+1); seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted
		} else if err != nil {
			tb.Fatalf("get msg %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// decodeMsg returns the events of one stream message.
func decodeMsg(tb testing.TB, m *jetstream.RawStreamMsg) []trackskills.Event {
	tb.Helper()
	var out []trackskills.Event
	err := wire.Decode(m.Header, m.Data, func(ev trackskills.Event) error {
		out = append(out, ev)
		return nil
	})
	if err != nil {
		tb.Fatalf("decode msg %d: %v", m.Sequence, err)
	}
	return out
}

// readStream returns every event of the events stream, in order.
func readStream(tb testing.TB, js jetstream.JetStream) []trackskills.Event {
	tb.Helper()
	var out []trackskills.Event
	for _, m := range readMsgs(tb, js) {
		out = append(out, decodeMsg(tb, m)...)
	}
	return out
}

// streamMsgs returns the number of messages in the events stream.
func streamMsgs(tb testing.TB, js jetstream.JetStream) uint64 {
	tb.Helper()
	return streamState(tb, js).Msgs
}

// lastSeq returns the last sequence of the events stream.
func lastSeq(tb testing.TB, js jetstream.JetStream) uint64 {
	tb.Helper()
	return streamState(tb, js).LastSeq
}

// eventsAfter returns the events of the messages after sequence seq.
func eventsAfter(tb testing.TB, js jetstream.JetStream, seq uint64) []trackskills.Event {
	tb.Helper()
	var out []trackskills.Event
	for _, m := range readMsgsAfter(tb, js, seq) {
		out = append(out, decodeMsg(tb, m)...)
	}
	return out
}

func streamState(tb testing.TB, js jetstream.JetStream) jetstream.StreamState {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		tb.Fatalf("stream: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		tb.Fatalf("stream info: %v", err)
	}
	return info.State
}

// eventIDs returns how many times each event_id occurs in events.
func eventIDs(events []trackskills.Event) map[string]int {
	out := make(map[string]int, len(events))
	for _, ev := range events {
		out[ev.EventID]++
	}
	return out
}

// eventually polls fn until it returns nil, failing tb after timeout.
func eventually(tb testing.TB, timeout time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not true after %s: %v", timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// newPost returns a JSON POST request to path; callers adjust its headers.
func newPost(path, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// serve runs r through h and returns the recorded response.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// post POSTs a JSON body to path through h.
func post(h http.Handler, path, body string) *httptest.ResponseRecorder {
	return serve(h, newPost(path, body))
}

// trackResp is the body of a /api/track answer, success or error.
type trackResp struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	EventID string `json:"event_id"`
	Error   string `json:"error"`
	Field   string `json:"field"`
}

// batchResp is the body of a /api/track/batch answer.
type batchResp struct {
	Success  bool   `json:"success"`
	Error    string `json:"error"`
	Accepted int    `json:"accepted"`
	Rejected []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
		Field string `json:"field"`
	} `json:"rejected"`
	EventIDs []string `json:"event_ids"`
}

// decode parses a JSON response body into v.
func decode(tb testing.TB, w *httptest.ResponseRecorder, v any) {
	tb.Helper()
	if got, want := w.Header().Get("Content-Type"), "application/json"; !strings.HasPrefix(got, want) {
		tb.Errorf("Content-Type=%q, want %s", got, want)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		tb.Fatalf("decode body %q: %v", w.Body.String(), err)
	}
}

// okEvent returns a small valid event as JSON.
func okEvent(tool string) string {
	return `{"tool_name":"` + tool + `","status":"success","duration_ms":12}`
}

// okEventID returns a small valid event with a client event_id.
func okEventID(tool, id string) string {
	return `{"tool_name":"` + tool + `","status":"success","event_id":"` + id + `"}`
}

// lockedBuffer is a bytes.Buffer safe for a logger and a test to share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// payloadOf returns the NDJSON payload of m, decompressed when its
// encoding header says so.
func payloadOf(m *jetstream.RawStreamMsg) ([]byte, error) {
	return wire.Payload(m.Header, m.Data)
}
