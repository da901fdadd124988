package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// testKey is the identity hash key of every test server, so that tests can
// compute the hash they expect with ingest.NewHasher(testKey).
var testKey = bytes.Repeat([]byte{0x5a}, 32)

// testConfig is ingest.DefaultConfig: a zero ingest.Config has no subject
// and a zero PubAck timeout, so every test starts from the defaults.
func testConfig() ingest.Config { return ingest.DefaultConfig() }

// MustServer runs NATS, connects in-process, declares the stream and
// returns an ingest server on it, with the JetStream context to read the
// stream back.
func MustServer(tb testing.TB, cfg ingest.Config) (*ingest.Server, jetstream.JetStream) {
	tb.Helper()
	return mustServerLogger(tb, cfg, testkit.Logger(tb))
}

// mustServerLogger is MustServer with the server logging to logger.
func mustServerLogger(tb testing.TB, cfg ingest.Config, logger *slog.Logger) (*ingest.Server, jetstream.JetStream) {
	tb.Helper()
	return mustIngest(tb, cfg, testkit.MustConnect(tb, testkit.MustRunNATS(tb)), logger)
}

// mustIngest declares the stream on nc and builds an ingest server on it;
// cleanup shuts the server down (its publisher first drains).
func mustIngest(tb testing.TB, cfg ingest.Config, nc *nats.Conn, logger *slog.Logger) (*ingest.Server, jetstream.JetStream) {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	testkit.MustStream(tb, js)
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
	st := testkit.MustEventsStream(tb, js)
	state := st.CachedInfo().State
	if state.Msgs == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*jetstream.RawStreamMsg
	for seq := max(state.FirstSeq, seq+1); seq <= state.LastSeq; seq++ {
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
	return testkit.MustStreamState(tb, js).Msgs
}

// lastSeq returns the last sequence of the events stream.
func lastSeq(tb testing.TB, js jetstream.JetStream) uint64 {
	tb.Helper()
	return testkit.MustStreamState(tb, js).LastSeq
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

// eventIDs returns how many times each event_id occurs in events.
func eventIDs(events []trackskills.Event) map[string]int {
	out := make(map[string]int, len(events))
	for _, ev := range events {
		out[ev.EventID]++
	}
	return out
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

// payloadOf returns the NDJSON payload of m, decompressed when its
// encoding header says so.
func payloadOf(m *jetstream.RawStreamMsg) ([]byte, error) {
	return wire.Payload(m.Header, m.Data)
}
