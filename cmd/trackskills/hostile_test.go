package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/testkit"
)

// hostileKey and hostileReadKey are the keys of the keyed server of
// TestServe_HostileInput.
const (
	hostileKey     = "hostile-ingest-key"
	hostileReadKey = "hostile-read-key"
)

// hostileServer is one serve of TestServe_HostileInput, with the database
// it writes.
type hostileServer struct {
	addr   string // host:port
	db     string // the SQLite file
	header []string
	marks  int // markers sent so far
}

// hostileCase is one request an attacker, a broken client or an unlucky
// operator sends, and what serve must answer.
type hostileCase struct {
	name   string
	keyed  bool   // sent to the server with ingest and read keys, without them
	method string // POST when empty
	path   string
	host   string   // the Host header; empty: the server's address
	ctype  string   // the Content-Type; application/json when empty, "none" for no header
	header []string // name, value pairs
	body   []byte
	// chunked sends the body without a Content-Length, so that the
	// server finds its size by reading it.
	chunked bool
	// slow dribbles the request's header lines one by one (slowloris); the
	// server must close the connection without an answer (want 0).
	slow   bool
	want   int
	hint   string // a fragment of the answer that says what to fix
	stored int    // events the request stores
	// check runs once the request's events are stored, with its answer.
	check func(t *testing.T, s *hostileServer, answer []byte)
}

// hostileEvent returns a valid event with tool name tool, and extra
// fields (name, raw JSON value pairs) added or replaced.
func hostileEvent(tool string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"tool_name":%q,"status":"success"`, tool)
	for i := 0; i+1 < len(extra); i += 2 {
		fmt.Fprintf(&b, ",%q:%s", extra[i], extra[i+1])
	}
	b.WriteString("}")
	return []byte(b.String())
}

// hostileBatch returns a JSON array of n valid events.
func hostileBatch(n int) []byte {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = `{"tool_name":"batch_flood","status":"success"}`
	}
	return []byte("[" + strings.Join(evs, ",") + "]")
}

// hostilePad returns a valid event padded with an unknown field to size
// bytes.
func hostilePad(size int) []byte {
	head := `{"tool_name":"padded","status":"success","pad":"`
	return []byte(head + strings.Repeat("a", size-len(head)-2) + `"}`)
}

// hostileHook returns a Claude Code PostToolUse hook payload for tool
// whose input and output hold secret, padded to about pad bytes.
func hostileHook(tool, useID, secret string, pad int) []byte {
	return fmt.Appendf(nil, `{"session_id":"s-1","hook_event_name":"PostToolUse","tool_name":%q,`+
		`"tool_input":{"command":"echo %s","pad":"%s"},"tool_response":{"stdout":"%s"},"tool_use_id":%q,"duration_ms":12}`,
		tool, secret, strings.Repeat("x", pad), secret, useID)
}

// hostileCases are the hostile requests, in the order they are sent.
func hostileCases() []hostileCase {
	const track, batch, hook = "/api/track", "/api/track/batch", "/api/hooks/claude-code"
	deepArray := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	return []hostileCase{
		// Sizes.
		{name: "ErrBodyOverLimit", path: track, body: hostilePad(64<<10 + 1), want: http.StatusRequestEntityTooLarge, hint: "the limit is 65536"},
		{name: "ErrChunkedBodyOverLimit", path: track, body: hostilePad(64<<10 + 1), chunked: true, want: http.StatusRequestEntityTooLarge, hint: "larger than 65536"},
		{name: "BodyAtLimit", path: track, body: hostilePad(64 << 10), want: http.StatusOK, stored: 1},
		{name: "ErrBatchOverBytes", path: batch, body: hostilePad(1<<20 + 1), chunked: true, want: http.StatusRequestEntityTooLarge, hint: "larger than 1048576"},
		{name: "ErrBatchOverEvents", path: batch, body: hostileBatch(1001), want: http.StatusRequestEntityTooLarge, hint: "the limit is 1000"},
		{name: "ErrHugeArrayOfNumbers", path: batch, body: []byte("[" + strings.TrimSuffix(strings.Repeat("1,", 400000), ",") + "]"), want: http.StatusRequestEntityTooLarge, hint: "the limit is 1000"},
		{name: "ErrHookOverLimit", path: hook, body: hostileHook("Bash", "toolu_big", "s3cr3t", 8<<20), chunked: true, want: http.StatusRequestEntityTooLarge, hint: "larger than 8388608"},

		// Syntax and types.
		{name: "ErrNotJSON", path: track, body: []byte("tool_name=x&status=success"), want: http.StatusBadRequest, hint: "JSON"},
		{name: "ErrTruncatedJSON", path: track, body: []byte(`{"tool_name":"x","status":"succ`), want: http.StatusBadRequest, hint: "JSON"},
		{name: "ErrEmptyBody", path: track, body: nil, want: http.StatusBadRequest, hint: "JSON"},
		{name: "ErrArrayOnTrack", path: track, body: hostileBatch(2), want: http.StatusBadRequest, hint: "must be a JSON object"},
		{name: "ErrToolNameNumber", path: track, body: []byte(`{"tool_name":42,"status":"success"}`), want: http.StatusBadRequest, hint: "tool_name"},
		{name: "ErrStatusBool", path: track, body: []byte(`{"tool_name":"x","status":true}`), want: http.StatusBadRequest, hint: "status"},
		{name: "ErrDurationString", path: track, body: hostileEvent("x", "duration_ms", `"12"`), want: http.StatusBadRequest, hint: "must be a number"},
		{name: "ErrDurationNegative", path: track, body: hostileEvent("x", "duration_ms", `-1`), want: http.StatusBadRequest, hint: "between 0 and"},
		{name: "ErrDurationHuge", path: track, body: hostileEvent("x", "duration_ms", `1e400`), want: http.StatusBadRequest, hint: "duration_ms"},
		{name: "ErrMetadataArray", path: track, body: hostileEvent("x", "metadata", `[1,2]`), want: http.StatusBadRequest, hint: "must be a JSON object"},
		{name: "ErrToolNameTooLong", path: track, body: hostileEvent(strings.Repeat("t", 129)), want: http.StatusBadRequest, hint: "the limit is 128"},
		{name: "ErrMetadataOverLimit", path: track, body: hostileEvent("x", "metadata", `{"k":"`+strings.Repeat("m", 9000)+`"}`), want: http.StatusBadRequest, hint: "the limit is 8192"},
		{name: "ErrTimestampFuture", path: track, body: hostileEvent("x", "timestamp", `"2999-01-01T00:00:00Z"`), want: http.StatusBadRequest, hint: "timestamp"},
		{name: "NDJSONBadLine", path: batch, ctype: "application/x-ndjson", body: []byte("{\"tool_name\":\"ndjson_ok\",\"status\":\"success\"}\n{\"tool_name\":\n"), want: http.StatusOK, hint: `"index":1`, stored: 1},
		{name: "ErrEventIDPath", path: track, body: hostileEvent("x", "event_id", `"../../etc/passwd"`), want: http.StatusBadRequest, hint: "event_id"},
		{name: "ErrBatchNotArray", path: batch, body: hostileEvent("x"), want: http.StatusBadRequest, hint: "JSON array"},
		{name: "ErrBatchAllInvalid", path: batch, body: []byte(`[{"tool_name":""},{"status":"success"}]`), want: http.StatusBadRequest, hint: "see rejected"},
		{name: "BatchPartlyInvalid", path: batch, body: []byte(`[{"tool_name":"half_good","status":"success"},{"tool_name":"x","status":"nope"}]`), want: http.StatusOK, hint: `"field":"status"`, stored: 1},
		{name: "ErrHookNotJSON", path: hook, body: []byte(`{"hook_event_name":`), want: http.StatusBadRequest, hint: "malformed hook payload"},
		{name: "UnknownFieldsIgnored", path: track, body: hostileEvent("unknown_fields", "password", `"hunter2unknown"`, "__proto__", `{"admin":true}`), want: http.StatusOK, stored: 1,
			check: checkNotStored("hunter2unknown")},
		{name: "HookInputNeverStored", path: hook, body: hostileHook("Bash", "toolu_hostile1", "hunter2hook", 1000), want: http.StatusOK, stored: 1,
			check: checkNotStored("hunter2hook")},

		// Nesting.
		{name: "ErrDeepMetadata", path: track, body: hostileEvent("x", "metadata", deepArray), want: http.StatusBadRequest, hint: "exceeded max depth"},
		{name: "ErrDeepObjectMetadata", path: track, body: hostileEvent("x", "metadata", strings.Repeat(`{"a":`, 10001)+"1"+strings.Repeat("}", 10001)), want: http.StatusBadRequest, hint: "exceeded max depth"},
		{name: "ErrDeepBatch", path: batch, body: []byte(strings.Repeat("[", 500000) + strings.Repeat("]", 500000)), want: http.StatusBadRequest, hint: "JSON array"},

		// Bytes that break text.
		{name: "ErrEscapedNUL", path: track, body: []byte(`{"tool_name":"a\u0000b","status":"success"}`), want: http.StatusBadRequest, hint: "control characters"},
		{name: "ErrRawNUL", path: track, body: []byte("{\"tool_name\":\"a\x00b\",\"status\":\"success\"}"), want: http.StatusBadRequest, hint: "JSON"},
		{name: "ErrNewlineInName", path: track, body: []byte(`{"tool_name":"a\nb","status":"success"}`), want: http.StatusBadRequest, hint: "control characters"},
		{name: "InvalidUTF8Replaced", path: track, body: []byte("{\"tool_name\":\"bad\xff\xfeutf8\",\"status\":\"success\"}"), want: http.StatusOK, stored: 1,
			check: checkToolStored("bad\uFFFD\uFFFDutf8")},

		// Content types.
		{name: "ErrXML", path: track, ctype: "application/xml", body: []byte("<event/>"), want: http.StatusUnsupportedMediaType, hint: "Content-Type: application/json"},
		{name: "ErrForm", path: track, ctype: "application/x-www-form-urlencoded", body: []byte("tool_name=x"), want: http.StatusUnsupportedMediaType, hint: "Content-Type: application/json"},
		{name: "ErrMultipart", path: batch, ctype: "multipart/form-data; boundary=x", body: []byte("--x--"), want: http.StatusUnsupportedMediaType, hint: "application/x-ndjson"},
		{name: "ErrHookHTML", path: hook, ctype: "text/html", body: hostileHook("Bash", "toolu_html", "x", 0), want: http.StatusUnsupportedMediaType, hint: "Content-Type: application/json"},
		{name: "NoContentType", path: track, ctype: "none", body: hostileEvent("no_content_type"), want: http.StatusOK, stored: 1},

		// Keys, origins, hosts.
		{name: "ErrNoKey", keyed: true, path: track, body: hostileEvent("x"), want: http.StatusUnauthorized, hint: "Authorization: Bearer"},
		{name: "ErrWrongKey", keyed: true, path: track, body: hostileEvent("x"), header: []string{"Authorization", "Bearer " + hostileKey + "x"}, want: http.StatusUnauthorized, hint: "ingest key"},
		{name: "ErrKeyAsQuery", keyed: true, path: track + "?key=" + hostileKey, body: hostileEvent("x"), want: http.StatusUnauthorized, hint: "Authorization: Bearer"},
		{name: "ErrReadKeyForIngest", keyed: true, path: track, body: hostileEvent("x"), header: []string{"X-Api-Key", hostileReadKey}, want: http.StatusUnauthorized, hint: "ingest key"},
		{name: "ErrNoReadKey", keyed: true, method: http.MethodGet, path: "/analytics/summary", want: http.StatusUnauthorized, hint: "read key"},
		{name: "ErrIngestKeyForRead", keyed: true, method: http.MethodGet, path: "/analytics/export.ndjson", header: []string{"X-Api-Key", hostileKey}, want: http.StatusUnauthorized, hint: "read key"},
		{name: "ErrCrossSitePage", path: track, ctype: "text/plain", body: hostileEvent("x"), header: []string{"Origin", "https://attacker.example", "Sec-Fetch-Site", "cross-site"}, want: http.StatusForbidden, hint: "--ingest-keys"},
		{name: "ErrCrossSiteHook", path: hook, ctype: "text/plain", body: hostileHook("Bash", "toolu_cross", "x", 0), header: []string{"Origin", "https://attacker.example"}, want: http.StatusForbidden, hint: "--ingest-keys"},
		{name: "ErrForeignHost", path: track, host: "rebind.attacker.example", body: hostileEvent("x"), want: http.StatusForbidden, hint: "--public-host"},
		{name: "ErrForeignHostRead", method: http.MethodGet, path: "/analytics/export.csv", host: "rebind.attacker.example:8080", want: http.StatusForbidden, hint: "--public-host"},

		// The dashboard's files.
		{name: "ErrTraversalDots", method: http.MethodGet, path: "/../../../../etc/passwd", want: http.StatusNotFound, check: checkNoFile},
		{name: "ErrTraversalEncoded", method: http.MethodGet, path: "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", want: http.StatusNotFound, check: checkNoFile},
		{name: "ErrTraversalEncodedSlash", method: http.MethodGet, path: "/..%2f..%2f..%2f..%2fetc%2fpasswd", want: http.StatusNotFound, check: checkNoFile},
		{name: "ErrTraversalBackslash", method: http.MethodGet, path: "/..%5c..%5c..%5cgo.mod", want: http.StatusNotFound, check: checkNoFile},
		{name: "ErrTraversalVendor", method: http.MethodGet, path: "/vendor/../../web.go", want: http.StatusNotFound, check: checkNoFile},

		// Text that is code elsewhere.
		{name: "ScriptToolNameIsText", path: track, body: hostileEvent(`<script>alert(1)</script>`), want: http.StatusOK, stored: 1,
			check: checkToolsEscaped(`<script>alert(1)</script>`)},
		{name: "FormulaToolNameNeutralised", path: track, body: hostileEvent(`=HYPERLINK("http://attacker.example","x")`, "error_type", `"@SUM(A1)"`), want: http.StatusOK, stored: 1,
			check: checkCSVNeutralised(`=HYPERLINK("http://attacker.example","x")`, `@SUM(A1)`)},

		// Time.
		{name: "ErrSlowHeaders", path: track, slow: true, want: 0},
	}
}

// Ensure hostile requests through real HTTP against serve get the 4xx the
// contract names, with a message that says what to fix, and store nothing
// (or, where the contract accepts them, store their event as text and
// serve it back harmless).
func TestServe_HostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	t.Parallel()
	open := serveOptions(t)
	open.publicHosts = []string{"dash.example.com"}
	keyed := serveOptions(t)
	keyed.ingestKeys, keyed.readKeys = hostileKey, hostileReadKey
	servers := map[bool]*hostileServer{}
	for k, o := range map[bool]*options{false: open, true: keyed} {
		app := mustStartServe(t, o)
		s := &hostileServer{addr: strings.TrimPrefix(app.URL(), "http://"), db: o.dbPath()}
		if k {
			s.header = []string{"Authorization", "Bearer " + hostileKey, "X-Api-Key", hostileReadKey}
		}
		servers[k] = s
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := servers[tc.keyed]
			before := s.countEvents(t)
			status, answer := sendHostile(t, client, s, tc)
			if status != tc.want {
				t.Errorf("status=%d, want %d; answer: %.300s", status, tc.want, answer)
			}
			if tc.hint != "" && !bytes.Contains(answer, []byte(tc.hint)) {
				t.Errorf("answer %.300q does not say %q", answer, tc.hint)
			}
			if status >= 400 && !json.Valid(answer) {
				t.Errorf("error answer is not JSON: %.300q", answer)
			}
			s.mark(t, client)
			if got, want := s.countEvents(t)-before, tc.stored+1; got != want {
				t.Errorf("stored %d events (with the marker), want %d", got, want)
			}
			if tc.check != nil {
				tc.check(t, s, answer)
			}
		})
	}
}

// sendHostile sends tc to s and returns the status and the answer's body;
// a slow case returns 0 once the server has closed the connection.
func sendHostile(t *testing.T, client *http.Client, s *hostileServer, tc hostileCase) (int, []byte) {
	t.Helper()
	if tc.slow {
		slowloris(t, s.addr, tc.path)
		return 0, nil
	}
	method := tc.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader = bytes.NewReader(tc.body)
	if tc.chunked {
		body = io.MultiReader(body) // hides the length: the request goes chunked
	}
	req, err := http.NewRequest(method, "http://"+s.addr+tc.path, body)
	if err != nil {
		t.Fatal(err)
	}
	switch tc.ctype {
	case "":
		req.Header.Set("Content-Type", "application/json")
	case "none":
	default:
		req.Header.Set("Content-Type", tc.ctype)
	}
	if tc.host != "" {
		req.Host = tc.host
	}
	for i := 0; i+1 < len(tc.header); i += 2 {
		req.Header.Set(tc.header[i], tc.header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, answer
}

// slowloris opens a connection to addr and sends a POST to path one
// header line at a time, a line every 500 ms, never ending the headers. It
// returns once the server has closed the connection without answering,
// and fails t if the server answers or keeps the connection past three
// times its header timeout.
func slowloris(t *testing.T, addr, path string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", path, addr); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := fmt.Fprintf(conn, "X-Slow-%d: a\r\n", i); err != nil {
				return // the server has closed the connection
			}
		}
	}()
	if err := conn.SetReadDeadline(time.Now().Add(3 * httpapi.ReadHeaderTimeout)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	var ne net.Error
	switch {
	case err == nil:
		t.Fatalf("server answered a request whose headers never end: %q", line)
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("server kept a connection whose headers never end for %s", 3*httpapi.ReadHeaderTimeout)
	}
}

// countEvents returns the number of events in s's database.
func (s *hostileServer) countEvents(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return len(readEvents(ctx, t, s.db))
}

// mark sends a valid event and waits until it is in SQLite: the consumer
// stores events in stream order, so every event acknowledged before it is
// stored too.
func (s *hostileServer) mark(t *testing.T, client *http.Client) {
	t.Helper()
	s.marks++
	tool := fmt.Sprintf("hostile_marker_%d", s.marks)
	header := map[string]string{}
	for i := 0; i+1 < len(s.header); i += 2 {
		header[s.header[i]] = s.header[i+1]
	}
	status, err := testkit.PostJSON(client, "http://"+s.addr+"/api/track", hostileEvent(tool), header, nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("marker: status=%d, err=%v", status, err)
	}
	checkToolStored(tool)(t, s, nil)
	testkit.WaitRolledUp(t, s.db, 10*time.Second) // the analytics count it too
}

// get GETs path from s with its keys and returns the answer's body.
func (s *hostileServer) get(t *testing.T, path string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(s.header); i += 2 {
		req.Header.Set(s.header[i], s.header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status=%d: %.300s", path, resp.StatusCode, b)
	}
	return b
}

// checkToolStored checks that an event named tool is in the database.
func checkToolStored(tool string) func(*testing.T, *hostileServer, []byte) {
	return func(t *testing.T, s *hostileServer, _ []byte) {
		t.Helper()
		testkit.Eventually(t, 10*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, ev := range readEvents(ctx, t, s.db) {
				if ev.ToolName == tool {
					return nil
				}
			}
			return fmt.Errorf("no event %q stored", tool)
		})
	}
}

// checkNotStored checks that no stored event holds secret in any field.
func checkNotStored(secret string) func(*testing.T, *hostileServer, []byte) {
	return func(t *testing.T, s *hostileServer, _ []byte) {
		t.Helper()
		if b := s.get(t, "/analytics/export.ndjson"); bytes.Contains(b, []byte(secret)) {
			t.Errorf("the export holds %q", secret)
		}
	}
}

// checkNoFile checks that an answer holds no file from outside the
// dashboard.
func checkNoFile(t *testing.T, _ *hostileServer, answer []byte) {
	t.Helper()
	for _, leak := range []string{"root:", "module ", "package "} {
		if bytes.Contains(answer, []byte(leak)) {
			t.Errorf("answer holds %q: %.300s", leak, answer)
		}
	}
}

// checkToolsEscaped checks that the tool list gives tool back exactly,
// with its markup escaped in the JSON, so that no page that shows the
// answer as text runs it.
func checkToolsEscaped(tool string) func(*testing.T, *hostileServer, []byte) {
	return func(t *testing.T, s *hostileServer, _ []byte) {
		t.Helper()
		b := s.get(t, "/analytics/tools?days=2")
		if bytes.ContainsAny(b, "<>") {
			t.Errorf("tool list holds markup unescaped: %.300s", b)
		}
		var tools []struct {
			ToolName string `json:"tool_name"`
		}
		if err := json.Unmarshal(b, &tools); err != nil {
			t.Fatal(err)
		}
		for _, tl := range tools {
			if tl.ToolName == tool {
				return
			}
		}
		t.Errorf("tool list has no %q: %.300s", tool, b)
	}
}

// checkCSVNeutralised checks that the CSV export gives the tool name and
// error type cells with a leading quote, and the NDJSON export exactly.
func checkCSVNeutralised(tool, errorType string) func(*testing.T, *hostileServer, []byte) {
	return func(t *testing.T, s *hostileServer, _ []byte) {
		t.Helper()
		rows, err := csv.NewReader(bytes.NewReader(s.get(t, "/analytics/export.csv?days=2"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		found := false
		for _, r := range rows[1:] {
			if r[col["tool_name"]] == "'"+tool {
				found = true
				if got, want := r[col["error_type"]], "'"+errorType; got != want {
					t.Errorf("error_type cell=%q, want %q", got, want)
				}
			}
		}
		if !found {
			t.Errorf("CSV export has no cell %q", "'"+tool)
		}
		var exact bool
		for line := range bytes.Lines(s.get(t, "/analytics/export.ndjson?days=2")) {
			var ev struct {
				ToolName  string `json:"tool_name"`
				ErrorType string `json:"error_type"`
			}
			if err := json.Unmarshal(line, &ev); err != nil {
				t.Fatal(err)
			}
			exact = exact || (ev.ToolName == tool && ev.ErrorType == errorType)
		}
		if !exact {
			t.Errorf("NDJSON export does not hold %q exactly", tool)
		}
	}
}
