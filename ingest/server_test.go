package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

func i64(n int64) *int64 { return &n }

// findEvent returns the only event with id in the stream, and its message.
func findEvent(tb testing.TB, js jetstream.JetStream, id string) (trackskills.Event, *jetstream.RawStreamMsg) {
	tb.Helper()
	var found []trackskills.Event
	var msg *jetstream.RawStreamMsg
	for _, m := range readMsgs(tb, js) {
		for _, ev := range decodeMsg(tb, m) {
			if ev.EventID == id {
				found = append(found, ev)
				msg = m
			}
		}
	}
	if len(found) != 1 {
		tb.Fatalf("event %q is %d times in the stream, want once", id, len(found))
	}
	return found[0], msg
}

// Ensure an accepted event is in the stream with every field, hashed
// identities and none of the raw ones.
func TestServer_Track(t *testing.T) {
	t.Parallel()
	srv, js := MustServer(t, testConfig())
	h := srv.Handler()
	hasher := ingest.NewHasher(testKey)

	ts := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	longMsg := strings.Repeat("é", 1500) // 3000 bytes
	tests := []struct {
		name    string
		body    string
		ua      string
		secrets []string // must not appear in the stream message
		want    trackskills.Event
	}{
		{
			name: "AllFields",
			body: `{"tool_name":"pdf-extract","tool_category":"docs","status":"error","duration_ms":1234,
				"error_type":"Timeout","error_message":"took too long",
				"metadata":{ "pages" : 3, "tags": [ "a", "b" ] },
				"request_size_bytes":100,"response_size_bytes":2048,"event_id":"client-id_1",
				"timestamp":"` + ts.Format(time.RFC3339Nano) + `",
				"user_id":"alice@example.com","session_id":"sess-secret-42","source":"hook","unknown":{"x":1}}`,
			ua:      "SecretAgent/7.1",
			secrets: []string{"alice@example.com", "sess-secret-42", "SecretAgent", "192.0.2.1"},
			want: trackskills.Event{
				EventID: "client-id_1", ToolName: "pdf-extract", ToolCategory: "docs", Status: "error",
				DurationMs: i64(1234), ErrorType: "Timeout", ErrorMessage: "took too long",
				Metadata:         json.RawMessage(`{"pages":3,"tags":["a","b"]}`),
				RequestSizeBytes: i64(100), ResponseSizeBytes: i64(2048),
				Timestamp: ts.UnixMilli(), UserHash: hasher.UserHash("alice@example.com", "", ""),
				SessionHash: hasher.SessionHash("sess-secret-42"), Source: "hook",
			},
		},
		{
			name:    "Defaults",
			body:    `{"tool_name":"lint","status":"success"}`,
			ua:      "SecretAgent/7.1",
			secrets: []string{"SecretAgent", "192.0.2.1"},
			want: trackskills.Event{
				ToolName: "lint", ToolCategory: "default", Status: "success",
				UserHash: hasher.UserHash("", "192.0.2.1", "SecretAgent/7.1"), Source: "api",
			},
		},
		{
			name: "SeedShapes",
			// The seed sends metadata as a JSON string and may send a Unix
			// millisecond timestamp and a fractional duration.
			body: `{"tool_name":"seed","status":"timeout","duration_ms":12.6,"metadata":"{\"a\": [1, 2]}",
				"timestamp":` + fmt.Sprint(ts.UnixMilli()) + `,"user_id":"bob"}`,
			secrets: []string{`"bob"`},
			want: trackskills.Event{
				ToolName: "seed", ToolCategory: "default", Status: "timeout", DurationMs: i64(13),
				Metadata: json.RawMessage(`{"a":[1,2]}`), Timestamp: ts.UnixMilli(),
				UserHash: hasher.UserHash("bob", "", ""), Source: "api",
			},
		},
		{
			name: "LongErrorMessageIsCut",
			body: `{"tool_name":"cut","status":"error","error_message":"` + longMsg + `","user_id":"carol"}`,
			want: trackskills.Event{
				ToolName: "cut", ToolCategory: "default", Status: "error",
				ErrorMessage: trackskills.CutMessage(longMsg),
				UserHash:     hasher.UserHash("carol", "", ""), Source: "api",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPost("/api/track", tt.body)
			r.Header.Set("User-Agent", tt.ua)
			before := time.Now().UnixMilli()
			w := serve(h, r)
			after := time.Now().UnixMilli()
			if got, want := w.Code, http.StatusOK; got != want {
				t.Fatalf("status=%d, want %d; body %s", got, want, w.Body)
			}
			var resp trackResp
			decode(t, w, &resp)
			wantBody := `{"success":true,"message":"Event tracked","event_id":"` + resp.EventID + `"}`
			if got := strings.TrimSuffix(w.Body.String(), "\n"); got != wantBody {
				t.Fatalf("body=%s, want %s", got, wantBody)
			}
			if tt.want.EventID != "" && resp.EventID != tt.want.EventID {
				t.Fatalf("event_id=%q, want the client's %q", resp.EventID, tt.want.EventID)
			}

			// 200 means acknowledged: the event is in the stream now.
			got, msg := findEvent(t, js, resp.EventID)
			if got.ReceivedAt < before || got.ReceivedAt > after {
				t.Errorf("received_at=%d, want in [%d, %d]", got.ReceivedAt, before, after)
			}
			got.ReceivedAt = 0
			want := tt.want
			if want.EventID == "" {
				if _, err := ulid.ParseStrict(got.EventID); err != nil || len(got.EventID) != 26 {
					t.Errorf("server event_id %q is not a ULID: %v", got.EventID, err)
				}
				want.EventID = got.EventID
			}
			if want.Timestamp == 0 {
				if got.Timestamp < before || got.Timestamp > after {
					t.Errorf("timestamp=%d, want the receive time in [%d, %d]", got.Timestamp, before, after)
				}
				want.Timestamp = got.Timestamp
			}
			if got.UserHash == "" {
				t.Errorf("user_hash is empty")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("stream event:\n got %s\nwant %s", jsonOf(got), jsonOf(want))
			}
			if n := len(got.ErrorMessage); n > trackskills.MaxErrorMessage {
				t.Errorf("error_message is %d bytes, want at most %d", n, trackskills.MaxErrorMessage)
			}

			if got, want := msg.Header.Get(jetstream.MsgIDHeader), resp.EventID; got != want {
				t.Errorf("Nats-Msg-Id=%q, want the event_id %q", got, want)
			}
			if got, want := msg.Header.Get(wire.SchemaHeader), wire.SchemaV1; got != want {
				t.Errorf("schema header=%q, want %q", got, want)
			}
			raw := rawMessage(msg)
			for _, s := range tt.secrets {
				if strings.Contains(raw, s) {
					t.Errorf("stream message holds the raw identity %q:\n%s", s, raw)
				}
			}
		})
	}

	// Ensure server-made ids are ULIDs that increase request after request.
	t.Run("ServerIDsIncrease", func(t *testing.T) {
		var prev string
		for i := range 5 {
			w := post(h, "/api/track", okEvent(fmt.Sprintf("ulid-%d", i)))
			if w.Code != http.StatusOK {
				t.Fatalf("status=%d; body %s", w.Code, w.Body)
			}
			var resp trackResp
			decode(t, w, &resp)
			if _, err := ulid.ParseStrict(resp.EventID); err != nil || len(resp.EventID) != 26 {
				t.Fatalf("event_id %q is not a 26-character ULID: %v", resp.EventID, err)
			}
			if resp.EventID <= prev {
				t.Fatalf("event_id %q does not follow %q", resp.EventID, prev)
			}
			prev = resp.EventID
		}
	})
}

// rawMessage returns the payload and header values of m as one string.
func rawMessage(m *jetstream.RawStreamMsg) string {
	var b strings.Builder
	data, err := payloadOf(m)
	if err != nil {
		data = m.Data
	}
	b.Write(data)
	for k, vs := range m.Header {
		b.WriteString("\n" + k + ": " + strings.Join(vs, ","))
	}
	return b.String()
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// Ensure every rule of the event (docs/CONTRACT.md) answers 400 with the
// field and publishes nothing.
func TestServer_TrackInvalid(t *testing.T) {
	t.Parallel()
	srv, js := MustServer(t, testConfig())
	h := srv.Handler()

	now := time.Now()
	ev := func(extra string) string { return `{"tool_name":"x","status":"success",` + extra + `}` }
	tests := []struct {
		name  string
		body  string
		field string // "" when the whole body is wrong
	}{
		{name: "MissingToolName", body: `{"status":"success"}`, field: "tool_name"},
		{name: "EmptyToolName", body: `{"tool_name":"","status":"success"}`, field: "tool_name"},
		{name: "ToolNameTooLong", body: `{"tool_name":"` + strings.Repeat("a", 129) + `","status":"success"}`, field: "tool_name"},
		{name: "ToolNameTooManyRunes", body: `{"tool_name":"` + strings.Repeat("é", 129) + `","status":"success"}`, field: "tool_name"},
		{name: "ToolNameControlChar", body: `{"tool_name":"bell\u0007","status":"success"}`, field: "tool_name"},
		{name: "ToolNameNewline", body: `{"tool_name":"a\nb","status":"success"}`, field: "tool_name"},
		{name: "ToolNameC1Control", body: `{"tool_name":"a\u0085b","status":"success"}`, field: "tool_name"},
		{name: "ToolNameNotString", body: `{"tool_name":42,"status":"success"}`, field: "tool_name"},
		{name: "CategoryTooLong", body: ev(`"tool_category":"` + strings.Repeat("c", 65) + `"`), field: "tool_category"},
		{name: "CategoryControlChar", body: ev(`"tool_category":"a\tb"`), field: "tool_category"},
		{name: "MissingStatus", body: `{"tool_name":"x"}`, field: "status"},
		{name: "BadStatus", body: `{"tool_name":"x","status":"ok"}`, field: "status"},
		{name: "StatusWrongCase", body: `{"tool_name":"x","status":"Success"}`, field: "status"},
		{name: "NegativeDuration", body: ev(`"duration_ms":-1`), field: "duration_ms"},
		{name: "DurationOverADay", body: ev(`"duration_ms":86400001`), field: "duration_ms"},
		{name: "DurationString", body: ev(`"duration_ms":"12"`), field: "duration_ms"},
		{name: "DurationBool", body: ev(`"duration_ms":true`), field: "duration_ms"},
		{name: "ErrorTypeTooLong", body: ev(`"error_type":"` + strings.Repeat("e", 65) + `"`), field: "error_type"},
		{name: "MetadataArray", body: ev(`"metadata":[1,2]`), field: "metadata"},
		{name: "MetadataNumber", body: ev(`"metadata":3`), field: "metadata"},
		{name: "MetadataStringNotJSON", body: ev(`"metadata":"not json"`), field: "metadata"},
		{name: "MetadataStringArray", body: ev(`"metadata":"[1]"`), field: "metadata"},
		{name: "MetadataTooLarge", body: ev(`"metadata":{"blob":"` + strings.Repeat("m", 9000) + `"}`), field: "metadata"},
		{name: "NegativeRequestSize", body: ev(`"request_size_bytes":-5`), field: "request_size_bytes"},
		{name: "FractionalResponseSize", body: ev(`"response_size_bytes":1.5`), field: "response_size_bytes"},
		{name: "BadEventID", body: ev(`"event_id":"has space"`), field: "event_id"},
		{name: "EventIDTooLong", body: ev(`"event_id":"` + strings.Repeat("i", 65) + `"`), field: "event_id"},
		{name: "Timestamp8DaysOld", body: ev(`"timestamp":"` + now.Add(-8*24*time.Hour).UTC().Format(time.RFC3339) + `"`), field: "timestamp"},
		{name: "TimestampMs8DaysOld", body: ev(`"timestamp":` + fmt.Sprint(now.Add(-8*24*time.Hour).UnixMilli())), field: "timestamp"},
		{name: "Timestamp10MinAhead", body: ev(`"timestamp":"` + now.Add(10*time.Minute).UTC().Format(time.RFC3339) + `"`), field: "timestamp"},
		{name: "TimestampGarbage", body: ev(`"timestamp":"yesterday"`), field: "timestamp"},
		{name: "TimestampSeconds", body: ev(`"timestamp":` + fmt.Sprint(now.Unix())), field: "timestamp"},
		{name: "UserIDTooLong", body: ev(`"user_id":"` + strings.Repeat("u", 257) + `"`), field: "user_id"},
		{name: "SessionIDTooLong", body: ev(`"session_id":"` + strings.Repeat("s", 257) + `"`), field: "session_id"},
		{name: "BadSource", body: ev(`"source":"carrier-pigeon"`), field: "source"},
		{name: "InvalidJSON", body: `{"tool_name":"x",`, field: ""},
		{name: "TrailingGarbage", body: `{"tool_name":"x","status":"success"} {}`, field: ""},
		{name: "ArrayBody", body: `[` + okEvent("x") + `]`, field: ""},
		{name: "EmptyBody", body: ``, field: ""},
		{name: "NullBody", body: `null`, field: ""},
		{name: "StringBody", body: `"hello"`, field: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := streamMsgs(t, js)
			w := post(h, "/api/track", tt.body)
			if got, want := w.Code, http.StatusBadRequest; got != want {
				t.Fatalf("status=%d, want %d; body %s", got, want, w.Body)
			}
			var body map[string]any
			decode(t, w, &body)
			if got, want := body["success"], false; got != want {
				t.Errorf("success=%v, want %v", got, want)
			}
			if msg, _ := body["error"].(string); msg == "" {
				t.Errorf("error is empty: %s", w.Body)
			}
			field, hasField := body["field"]
			switch {
			case tt.field == "" && hasField:
				t.Errorf("field=%v, want none", field)
			case tt.field != "" && field != tt.field:
				t.Errorf("field=%v, want %q; body %s", field, tt.field, w.Body)
			}
			if got := streamMsgs(t, js); got != before {
				t.Errorf("stream has %d messages, want %d: a rejected event was published", got, before)
			}
		})
	}

	// Ensure the limits themselves are accepted (the rules are inclusive).
	t.Run("AtTheLimits", func(t *testing.T) {
		body := `{"tool_name":"` + strings.Repeat("é", 128) + `","status":"success",
			"tool_category":"` + strings.Repeat("c", 64) + `","duration_ms":86400000,
			"event_id":"` + strings.Repeat("i", 64) + `","user_id":"` + strings.Repeat("u", 256) + `",
			"metadata":{"blob":"` + strings.Repeat("m", trackskills.MaxMetadata-len(`{"blob":""}`)) + `"},
			"timestamp":"` + now.Add(-7*24*time.Hour+time.Minute).UTC().Format(time.RFC3339) + `"}`
		if w := post(h, "/api/track", body); w.Code != http.StatusOK {
			t.Fatalf("status=%d, want 200; body %s", w.Code, w.Body)
		}
	})
}

// Ensure only JSON-like content types are taken.
func TestServer_ContentType(t *testing.T) {
	t.Parallel()
	srv, js := MustServer(t, testConfig())
	h := srv.Handler()

	tests := []struct {
		name        string
		path        string
		contentType string // "-" for no header
		body        string
		want        int
	}{
		{name: "TrackJSON", path: "/api/track", contentType: "application/json", body: okEvent("a"), want: 200},
		{name: "TrackJSONCharset", path: "/api/track", contentType: "application/json; charset=utf-8", body: okEvent("a"), want: 200},
		{name: "TrackUpperCase", path: "/api/track", contentType: "Application/JSON", body: okEvent("a"), want: 200},
		{name: "TrackTextPlain", path: "/api/track", contentType: "text/plain", body: okEvent("a"), want: 200},
		{name: "TrackTextPlainCharset", path: "/api/track", contentType: "text/plain;charset=UTF-8", body: okEvent("a"), want: 200},
		{name: "TrackNoContentType", path: "/api/track", contentType: "-", body: okEvent("a"), want: 200},
		{name: "TrackForm", path: "/api/track", contentType: "application/x-www-form-urlencoded", body: "tool_name=a&status=success", want: 415},
		{name: "TrackMultipart", path: "/api/track", contentType: "multipart/form-data; boundary=xyz", body: "--xyz\r\n\r\n--xyz--", want: 415},
		{name: "TrackXML", path: "/api/track", contentType: "application/xml", body: okEvent("a"), want: 415},
		{name: "TrackNDJSON", path: "/api/track", contentType: "application/x-ndjson", body: okEvent("a"), want: 415},
		{name: "BatchJSON", path: "/api/track/batch", contentType: "application/json", body: "[" + okEvent("b") + "]", want: 200},
		{name: "BatchNDJSON", path: "/api/track/batch", contentType: "application/x-ndjson", body: okEvent("b"), want: 200},
		{name: "BatchNoContentType", path: "/api/track/batch", contentType: "-", body: "[" + okEvent("b") + "]", want: 200},
		{name: "BatchForm", path: "/api/track/batch", contentType: "application/x-www-form-urlencoded", body: "a=b", want: 415},
		{name: "BatchMultipart", path: "/api/track/batch", contentType: "multipart/form-data; boundary=xyz", body: "--xyz--", want: 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := streamMsgs(t, js)
			r := newPost(tt.path, tt.body)
			if tt.contentType == "-" {
				r.Header.Del("Content-Type")
			} else {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := serve(h, r)
			if w.Code != tt.want {
				t.Fatalf("status=%d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			var body trackResp
			decode(t, w, &body)
			wantMsgs := before
			if tt.want == http.StatusOK {
				wantMsgs++
			} else if body.Success || body.Error == "" {
				t.Errorf("error body %s, want success false and an error", w.Body)
			}
			if got := streamMsgs(t, js); got != wantMsgs {
				t.Errorf("stream has %d messages, want %d", got, wantMsgs)
			}
		})
	}
}

// unsized hides the length of a body, as a chunked upload does.
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

// Ensure bodies and batches over the limits are refused with 413, whether
// or not the client announced the length, and that the limits themselves
// are accepted.
func TestServer_BodyLimits(t *testing.T) {
	t.Parallel()
	srv, js := MustServer(t, testConfig())
	h := srv.Handler()

	// sized returns an event of exactly n bytes.
	sized := func(n int) string {
		head, tail := `{"tool_name":"big","status":"success","pad":"`, `"}`
		return head + strings.Repeat("p", n-len(head)-len(tail)) + tail
	}
	events := func(n int, sep string, each func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = each(i)
		}
		return strings.Join(parts, sep)
	}
	small := func(i int) string { return okEvent(fmt.Sprintf("t%d", i)) }
	padded := func(int) string { return sized(2048) } // 600 of them pass 1 MiB

	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		want        int
		wantEvents  int // events published when accepted
	}{
		{name: "EventAtLimit", path: "/api/track", body: sized(ingest.MaxEventBytes), want: 200, wantEvents: 1},
		{name: "EventOverLimit", path: "/api/track", body: sized(ingest.MaxEventBytes + 1), want: 413},
		{name: "EventFarOverLimit", path: "/api/track", body: sized(1 << 20), want: 413},
		{name: "BatchOverMiB", path: "/api/track/batch", body: "[" + events(600, ",", padded) + "]", want: 413},
		{name: "NDJSONOverMiB", path: "/api/track/batch", contentType: "application/x-ndjson", body: events(600, "\n", padded), want: 413},
		{name: "Batch1000", path: "/api/track/batch", body: "[" + events(1000, ",", small) + "]", want: 200, wantEvents: 1000},
		{name: "Batch1001", path: "/api/track/batch", body: "[" + events(1001, ",", small) + "]", want: 413},
		{name: "NDJSON1000", path: "/api/track/batch", contentType: "application/x-ndjson", body: events(1000, "\n", small), want: 200, wantEvents: 1000},
		{name: "NDJSON1001", path: "/api/track/batch", contentType: "application/x-ndjson", body: events(1001, "\n", small), want: 413},
	}
	for _, tt := range tests {
		for _, known := range []bool{true, false} {
			name := tt.name + "/KnownLength"
			if !known {
				name = tt.name + "/Chunked"
			}
			t.Run(name, func(t *testing.T) {
				before := lastSeq(t, js)
				var body io.Reader = strings.NewReader(tt.body)
				if !known {
					body = unsized{body}
				}
				r := httptest.NewRequest(http.MethodPost, tt.path, body)
				if known != (r.ContentLength == int64(len(tt.body))) {
					t.Fatalf("ContentLength=%d with known=%v", r.ContentLength, known)
				}
				ct := tt.contentType
				if ct == "" {
					ct = "application/json"
				}
				r.Header.Set("Content-Type", ct)
				w := serve(h, r)
				if w.Code != tt.want {
					t.Fatalf("status=%d, want %d; body %.300s", w.Code, tt.want, w.Body)
				}
				var resp trackResp
				decode(t, w, &resp)
				if tt.want != http.StatusOK && (resp.Success || resp.Error == "") {
					t.Errorf("error body %s, want success false and an error", w.Body)
				}
				if got, want := len(eventsAfter(t, js, before)), tt.wantEvents; got != want {
					t.Errorf("published %d events, want %d", got, want)
				}
			})
		}
	}
}

// Ensure a batch takes its valid events and reports the others by index.
func TestServer_Batch(t *testing.T) {
	t.Parallel()
	srv, js := MustServer(t, testConfig())
	h := srv.Handler()

	formats := []struct {
		name        string
		contentType string
		join        func([]string) string
	}{
		{name: "JSONArray", contentType: "application/json", join: func(s []string) string { return "[\n" + strings.Join(s, ",\n") + "\n]" }},
		{name: "NDJSON", contentType: "application/x-ndjson", join: func(s []string) string { return strings.Join(s, "\n") + "\n" }},
		{name: "NDJSONCRLF", contentType: "application/x-ndjson", join: func(s []string) string { return strings.Join(s, "\r\n") }},
	}
	for _, f := range formats {
		t.Run(f.name+"/Partial", func(t *testing.T) {
			lines := []string{
				okEvent(f.name + "-0"),
				`{"tool_name":"` + f.name + `-1","status":"bad"}`,
				okEvent(f.name + "-2"),
				`{"status":"success"}`,
				okEvent(f.name + "-4"),
			}
			before := lastSeq(t, js)
			r := newPost("/api/track/batch", f.join(lines))
			r.Header.Set("Content-Type", f.contentType)
			w := serve(h, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status=%d, want 200; body %s", w.Code, w.Body)
			}
			var resp batchResp
			decode(t, w, &resp)
			if !resp.Success || resp.Accepted != 3 || len(resp.EventIDs) != 3 {
				t.Fatalf("body %s, want success, accepted 3 and 3 event_ids", w.Body)
			}
			if got, want := len(resp.Rejected), 2; got != want {
				t.Fatalf("rejected %d, want %d: %s", got, want, w.Body)
			}
			for i, want := range []struct {
				index int
				field string
			}{{1, "status"}, {3, "tool_name"}} {
				got := resp.Rejected[i]
				if got.Index != want.index || got.Field != want.field || got.Error == "" {
					t.Errorf("rejected[%d]=%+v, want index %d, field %s and an error", i, got, want.index, want.field)
				}
			}

			added := eventsAfter(t, js, before)
			if got, want := len(added), 3; got != want {
				t.Fatalf("stream gained %d events, want %d", got, want)
			}
			for i, ev := range added {
				if got, want := ev.EventID, resp.EventIDs[i]; got != want {
					t.Errorf("event %d has id %s, want %s", i, got, want)
				}
				if got, want := ev.ToolName, fmt.Sprintf("%s-%d", f.name, 2*i); got != want {
					t.Errorf("event %d is %s, want %s", i, got, want)
				}
			}
			// One request's events travel in one message.
			if got, want := len(readMsgsAfter(t, js, before)), 1; got != want {
				t.Errorf("batch took %d messages, want %d", got, want)
			}
		})
	}

	tests := []struct {
		name         string
		contentType  string
		body         string
		wantRejected int
	}{
		{name: "AllInvalidJSON", contentType: "application/json", body: `[{"status":"success"},{"tool_name":"x"}]`, wantRejected: 2},
		{name: "AllInvalidNDJSON", contentType: "application/x-ndjson", body: "{\"status\":\"success\"}\nnot json\n", wantRejected: 2},
		{name: "AllNotObjects", contentType: "application/json", body: `[1,"a",null,[]]`, wantRejected: 4},
		{name: "EmptyArray", contentType: "application/json", body: `[]`},
		{name: "EmptyBody", contentType: "application/json", body: ``},
		{name: "EmptyNDJSON", contentType: "application/x-ndjson", body: "\n \r\n\n"},
		{name: "ObjectNotArray", contentType: "application/json", body: okEvent("x")},
		{name: "BrokenArray", contentType: "application/json", body: "[" + okEvent("x") + ","},
		{name: "BrokenNDJSONArray", contentType: "application/x-ndjson", body: "[" + okEvent("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := streamMsgs(t, js)
			r := newPost("/api/track/batch", tt.body)
			r.Header.Set("Content-Type", tt.contentType)
			w := serve(h, r)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status=%d, want 400; body %s", w.Code, w.Body)
			}
			var resp batchResp
			decode(t, w, &resp)
			if resp.Success || resp.Error == "" || resp.Accepted != 0 {
				t.Errorf("body %s, want success false, an error and nothing accepted", w.Body)
			}
			if got, want := len(resp.Rejected), tt.wantRejected; got != want {
				t.Errorf("rejected %d, want %d: %s", got, want, w.Body)
			}
			if got := streamMsgs(t, js); got != before {
				t.Errorf("stream has %d messages, want %d", got, before)
			}
		})
	}
}

// Ensure ingest keys are required when configured, in either header, and
// never echoed back.
func TestServer_Keys(t *testing.T) {
	t.Parallel()
	keys := []string{"key-one-s3cret", "key-two-s3cret"}
	cfg := testConfig()
	cfg.Keys = keys
	srv, js := MustServer(t, cfg)
	h := srv.Handler()

	tests := []struct {
		name   string
		path   string
		header map[string]string
		want   int
	}{
		{name: "NoKey", want: 401},
		{name: "WrongBearer", header: map[string]string{"Authorization": "Bearer nope"}, want: 401},
		{name: "EmptyBearer", header: map[string]string{"Authorization": "Bearer "}, want: 401},
		{name: "PrefixOfKey", header: map[string]string{"Authorization": "Bearer key-one"}, want: 401},
		{name: "KeyWithSuffix", header: map[string]string{"Authorization": "Bearer key-one-s3cretX"}, want: 401},
		{name: "BasicScheme", header: map[string]string{"Authorization": "Basic key-one-s3cret"}, want: 401},
		{name: "WrongAPIKey", header: map[string]string{"X-Api-Key": "nope"}, want: 401},
		{name: "BearerK2", header: map[string]string{"Authorization": "Bearer key-two-s3cret"}, want: 200},
		{name: "LowerCaseScheme", header: map[string]string{"Authorization": "bearer key-two-s3cret"}, want: 200},
		{name: "APIKeyK1", header: map[string]string{"X-Api-Key": "key-one-s3cret"}, want: 200},
		{name: "APIKeyLowerCaseHeader", header: map[string]string{"x-api-key": "key-two-s3cret"}, want: 200},
		{name: "BatchNoKey", path: "/api/track/batch", want: 401},
		{name: "BatchBearerK1", path: "/api/track/batch", header: map[string]string{"Authorization": "Bearer key-one-s3cret"}, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := streamMsgs(t, js)
			path, body := tt.path, okEvent("keyed")
			if path == "" {
				path = "/api/track"
			} else {
				body = "[" + body + "]"
			}
			r := newPost(path, body)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := serve(h, r)
			if w.Code != tt.want {
				t.Fatalf("status=%d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			var resp trackResp
			decode(t, w, &resp)
			wantMsgs := before + 1
			if tt.want == http.StatusUnauthorized {
				wantMsgs = before
				if resp.Success || !strings.Contains(resp.Error, "key") {
					t.Errorf("body %s, want success false and a message about the key", w.Body)
				}
				for _, k := range keys {
					if strings.Contains(w.Body.String(), k) || strings.Contains(fmt.Sprint(w.Header()), k) {
						t.Errorf("401 response reveals the key %q", k)
					}
				}
			}
			if got := streamMsgs(t, js); got != wantMsgs {
				t.Errorf("stream has %d messages, want %d", got, wantMsgs)
			}
		})
	}

	t.Run("HealthWithoutKey", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			w := serve(h, httptest.NewRequest(http.MethodGet, path, nil))
			if w.Code != http.StatusOK {
				t.Errorf("GET %s status=%d, want 200; body %s", path, w.Code, w.Body)
			}
		}
	})
}

// Ensure the same event_id sent twice is acknowledged twice and stored once.
func TestServer_Duplicate(t *testing.T) {
	t.Parallel()
	srv, js := MustServer(t, testConfig())
	h := srv.Handler()

	const id = "dup-0001"
	tests := []struct {
		name string
		path string
		body string
	}{
		{name: "First", path: "/api/track", body: okEventID("dup", id)},
		{name: "Retry", path: "/api/track", body: okEventID("dup", id)},
		{name: "RetryAsBatchOfOne", path: "/api/track/batch", body: "[" + okEventID("dup", id) + "]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := post(h, tt.path, tt.body)
			if w.Code != http.StatusOK {
				t.Fatalf("status=%d, want 200; body %s", w.Code, w.Body)
			}
			if !strings.Contains(w.Body.String(), `"`+id+`"`) {
				t.Errorf("body %s does not name the event_id %s", w.Body, id)
			}
			msgs := readMsgs(t, js)
			if got, want := len(msgs), 1; got != want {
				t.Fatalf("stream has %d messages, want %d", got, want)
			}
			if got := msgs[0].Header.Get(jetstream.MsgIDHeader); got != id {
				t.Errorf("Nats-Msg-Id=%q, want %q", got, id)
			}
			if got, want := eventIDs(decodeMsg(t, msgs[0]))[id], 1; got != want {
				t.Errorf("event %s is %d times in the stream, want %d", id, got, want)
			}
		})
	}
}

// Ensure one client over the rate limit gets 429 with Retry-After, and
// that other clients and the health check are not limited.
func TestServer_RateLimit(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.RateLimit = 2
	srv, js := MustServer(t, cfg)
	h := srv.Handler()

	burst := func(remote string, n int) (ok, limited int) {
		t.Helper()
		for range n {
			r := newPost("/api/track", okEvent("limited"))
			r.RemoteAddr = remote
			w := serve(h, r)
			switch w.Code {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				limited++
				if w.Header().Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				var resp trackResp
				decode(t, w, &resp)
				if resp.Success || resp.Error == "" {
					t.Errorf("429 body %s, want success false and an error", w.Body)
				}
			default:
				t.Fatalf("status=%d, want 200 or 429; body %s", w.Code, w.Body)
			}
		}
		return ok, limited
	}

	ok, limited := burst("198.51.100.1:1000", 10)
	t.Logf("burst of 10: %d accepted, %d limited", ok, limited)
	if ok == 0 || limited == 0 {
		t.Fatalf("accepted %d and limited %d of 10, want some of each", ok, limited)
	}
	if got := len(readStream(t, js)); got != ok {
		t.Errorf("stream has %d events, want the %d accepted", got, ok)
	}
	if ok2, _ := burst("198.51.100.2:1000", 1); ok2 != 1 {
		t.Errorf("another client was limited")
	}
	for range 5 {
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		r.RemoteAddr = "198.51.100.1:1000"
		if w := serve(h, r); w.Code != http.StatusOK {
			t.Fatalf("GET /healthz status=%d, want 200", w.Code)
		}
	}
}

// Ensure ingest serves its routes on an echo it does not own, logging
// their requests to its own logger, and leaves health to the owner.
func TestServer_Register(t *testing.T) {
	t.Parallel()
	var logs testkit.LockedBuffer
	srv, js := mustServerLogger(t, testConfig(), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "ingest"))
	e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
	srv.Register(e)

	if w := post(e, "/api/track", okEvent("registered")); w.Code != http.StatusOK {
		t.Fatalf("POST /api/track status=%d, want 200; body %s", w.Code, w.Body)
	}
	if got := len(readStream(t, js)); got != 1 {
		t.Errorf("stream has %d events, want 1", got)
	}
	if !strings.Contains(logs.String(), "component=ingest") || !strings.Contains(logs.String(), "path=/api/track") {
		t.Errorf("the request is not logged by ingest's logger:\n%s", logs.String())
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if w := serve(e, httptest.NewRequest(http.MethodGet, path, nil)); w.Code != http.StatusNotFound {
			t.Errorf("GET %s status=%d, want 404: the echo's owner adds health", path, w.Code)
		}
	}
}

// Ensure the stream check passes while the stream exists, and fails once
// it is gone; the store check comes after it.
func TestServer_Checks(t *testing.T) {
	t.Parallel()
	srv, js := MustServer(t, testConfig())
	checks := srv.Checks()
	if len(checks) != 2 || checks[0].Name != "stream" || checks[1].Name != "store" {
		t.Fatalf("Checks()=%v, want the stream and the store checks", checks)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := checks[0].Fn(ctx); err != nil {
		t.Errorf("stream check with the stream: %v", err)
	}
	if err := js.DeleteStream(ctx, trackskills.StreamName); err != nil {
		t.Fatal(err)
	}
	if err := checks[0].Fn(ctx); err == nil {
		t.Errorf("stream check passed without the stream")
	}
}
