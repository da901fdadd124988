package analytics_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// exportEvents are events with every column set or empty, and a message
// that needs CSV quoting.
func exportEvents() []trackskills.Event {
	evs := goldenEvents()
	evs[2].ErrorMessage = "He said \"no\", then, well,\nleft — twice\n"
	evs[2].Metadata = json.RawMessage(`{"k":"v, \"x\"","n":[1,2]}`)
	evs[2].RequestSizeBytes, evs[2].ResponseSizeBytes = i64(120), i64(0)
	evs[2].SessionHash = "sess-1"
	evs[0].Source = "sdk"
	// Two events in the same millisecond keep their insertion order.
	evs[1].Timestamp = evs[0].Timestamp
	// MCP tools: one as ingest splits it, one as an older message holds
	// it, and a server without a tool.
	pr := event("x-mcp1", dayAt(1).Add(time.Hour), "mcp__github__get_pull_request", "mcp", trackskills.StatusSuccess, 12, "user-m")
	pr.MCPServer, pr.MCPTool = "github", "get_pull_request"
	return append(evs, pr,
		event("x-mcp2", dayAt(1).Add(2*time.Hour), "mcp__plugin_a_b__db__q", "mcp", trackskills.StatusError, 3, "user-m"),
		event("x-mcp3", dayAt(2).Add(time.Hour), "mcp__solo", "mcp", trackskills.StatusSuccess, -1, "user-m"))
}

func csvRecord(ev *trackskills.Event) []string {
	opt := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	return []string{ev.EventID, time.UnixMilli(ev.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		ev.ToolName, ev.ToolCategory, ev.Status, opt(ev.DurationMs), ev.ErrorType, ev.ErrorMessage,
		opt(ev.RequestSizeBytes), opt(ev.ResponseSizeBytes), string(ev.Metadata), ev.Source, ev.UserHash, ev.SessionHash,
		ev.MCPServer, ev.MCPTool}
}

func TestServer_Export(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, exportEvents())
	e := newRouter(t, db.Path(), analytics.Config{})
	stored, err := db.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(stored, func(a, b trackskills.Event) int { return cmp.Compare(a.Timestamp, b.Timestamp) })
	// want returns the stored events of the last days days matching keep.
	want := func(days int, keep func(*trackskills.Event) bool) []trackskills.Event {
		from := dayAt(days - 1).UnixMilli()
		var out []trackskills.Event
		for _, ev := range stored {
			if ev.Timestamp >= from && keep(&ev) {
				out = append(out, ev)
			}
		}
		return out
	}
	all := func(*trackskills.Event) bool { return true }
	header := "event_id,timestamp,tool_name,tool_category,status,duration_ms,error_type,error_message," +
		"request_size_bytes,response_size_bytes,metadata,source,user_id_hash,session_hash,mcp_server,mcp_tool"

	t.Run("CSV", func(t *testing.T) {
		for _, tt := range []struct {
			name, query string
			want        []trackskills.Event
		}{
			{"Days7", "days=7", want(7, all)},
			{"Default", "", want(7, all)},
			{"Days30", "days=30", want(30, all)},
			{"Filtered", "days=30&status=error&tool=query_data", want(30, func(ev *trackskills.Event) bool {
				return ev.Status == trackskills.StatusError && ev.ToolName == "query_data"
			})},
			{"Limit", "days=30&limit=3", want(30, all)[:3]},
			{"Category", "days=30&category=fun", want(30, func(ev *trackskills.Event) bool { return ev.ToolCategory == "fun" })},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rec := get(e, "/analytics/export.csv?"+tt.query)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				if got, want := rec.Header().Get("Content-Type"), "text/csv; charset=utf-8"; got != want {
					t.Errorf("content type %q, want %q", got, want)
				}
				if got, want := rec.Header().Get("Content-Disposition"), `attachment; filename="trackskills-events.csv"`; got != want {
					t.Errorf("content disposition %q, want %q", got, want)
				}
				recs, err := csv.NewReader(rec.Body).ReadAll()
				if err != nil {
					t.Fatalf("parse CSV: %v", err)
				}
				if got := strings.Join(recs[0], ","); got != header {
					t.Errorf("header %s, want %s", got, header)
				}
				exp := [][]string{}
				for i := range tt.want {
					exp = append(exp, csvRecord(&tt.want[i]))
				}
				if len(exp) == 0 {
					t.Fatal("the case has no events")
				}
				if !slices.EqualFunc(recs[1:], exp, slices.Equal) {
					t.Errorf("records:\n got  %q\n want %q", recs[1:], exp)
				}
			})
		}
	})

	t.Run("NDJSON", func(t *testing.T) {
		rec := get(e, "/analytics/export.ndjson?days=30")
		if got, want := rec.Header().Get("Content-Type"), "application/x-ndjson"; rec.Code != http.StatusOK || got != want {
			t.Fatalf("status %d content type %q, want 200 %q", rec.Code, got, want)
		}
		if got, want := rec.Header().Get("Content-Disposition"), `attachment; filename="trackskills-events.ndjson"`; got != want {
			t.Errorf("content disposition %q, want %q", got, want)
		}
		exp := want(30, all)
		sc := bufio.NewScanner(rec.Body)
		i := 0
		for ; sc.Scan(); i++ {
			var got struct {
				analytics.ExportEvent
				Metadata json.RawMessage `json:"metadata"`
			}
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("line %d: %v: %s", i+1, err, sc.Bytes())
			}
			if i >= len(exp) {
				t.Fatalf("more lines than the %d events", len(exp))
			}
			ev := &exp[i]
			str := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			gotRec := []string{got.EventID, got.Timestamp, got.ToolName, got.ToolCategory, got.Status, opt64(got.DurationMs),
				str(got.ErrorType), str(got.ErrorMessage), opt64(got.RequestSizeBytes), opt64(got.ResponseSizeBytes), "",
				got.Source, got.UserIDHash, str(got.SessionHash), str(got.MCPServer), str(got.MCPTool)}
			if string(got.Metadata) != "null" {
				gotRec[10] = string(got.Metadata)
			}
			if w := csvRecord(ev); !slices.Equal(gotRec, w) {
				t.Errorf("line %d:\n got  %q\n want %q", i+1, gotRec, w)
			}
			if (ev.ErrorType == "") != (got.ErrorType == nil) || (ev.DurationMs == nil) != (got.DurationMs == nil) ||
				(ev.MCPServer == "") != (got.MCPServer == nil) || (ev.MCPTool == "") != (got.MCPTool == nil) {
				t.Errorf("line %d: absent values must be null: %s", i+1, sc.Bytes())
			}
		}
		if err := sc.Err(); err != nil || i != len(exp) {
			t.Errorf("%d lines (%v), want %d", i, err, len(exp))
		}
	})

	t.Run("Empty", func(t *testing.T) {
		for target, want := range map[string]string{
			"/analytics/export.csv?days=7&tool=nope":                                     header + "\n",
			"/analytics/export.ndjson?days=7&tool=nope":                                  "",
			"/analytics/export.csv?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z":    header + "\n",
			"/analytics/export.ndjson?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z": "",
			"/analytics/export.ndjson?hours=1&status=timeout&category=comm":              "",
		} {
			rec := get(e, target)
			body, _ := io.ReadAll(rec.Body) // a recorder's body does not fail
			if rec.Code != http.StatusOK || string(body) != want {
				t.Errorf("GET %s: %d %q, want 200 %q", target, rec.Code, body, want)
			}
		}
	})

	t.Run("BadParams", func(t *testing.T) {
		for q, field := range map[string]string{
			"limit=0": "limit", "limit=1000001": "limit", "limit=x": "limit", "status=ok": "status", "days=366": "days",
		} {
			checkBad(t, e, "/analytics/export.csv?"+q, field)
			checkBad(t, e, "/analytics/export.ndjson?"+q, field)
		}
	})
}

func opt64(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

// Ensure the CSV export turns every text cell that a spreadsheet would run
// as a formula into text with a leading quote (OWASP's advice), leaves
// numbers alone, and that NDJSON keeps the stored values exactly.
func TestServer_ExportNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	db := testkit.MustOpenDB(t)
	at := testNow.Add(-time.Hour)
	tests := []struct {
		name, tool, errMsg string
		wantTool, wantMsg  string
	}{
		{"Equals", `=HYPERLINK("https://attacker.example","x")`, "ok", `'=HYPERLINK("https://attacker.example","x")`, "ok"},
		{"Plus", "+1+cmd|' /C calc'!A0", "fine", "'+1+cmd|' /C calc'!A0", "fine"},
		{"Minus", "-2+3", "-", "'-2+3", "'-"},
		{"At", "@SUM(A1:A2)", "@x", "'@SUM(A1:A2)", "'@x"},
		{"Tab", "\t=1", "x", "'\t=1", "x"},
		{"CarriageReturn", "\r=1", "x", "'\r=1", "x"},
		{"ErrorMessage", "plain_tool", "=1+1", "plain_tool", "'=1+1"},
		{"Inside", "a=b+c-d@e", "x = 1", "a=b+c-d@e", "x = 1"},
		{"AlreadyQuoted", "'=1", "x", "'=1", "x"},
	}
	var evs []trackskills.Event
	for i, tt := range tests {
		ev := event(fmt.Sprintf("f%02d", i), at.Add(time.Duration(i)*time.Second), tt.tool, "cat", trackskills.StatusError, 5, "user-f")
		ev.ErrorType, ev.ErrorMessage = "=TYPE()", tt.errMsg
		evs = append(evs, ev)
	}
	testkit.MustWriteBatch(t, db, evs)
	hs := httptest.NewServer(newRouter(t, db.Path(), analytics.Config{}))
	t.Cleanup(hs.Close)
	fetch := func(path string) []byte {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return b
	}
	recs, err := csv.NewReader(bytes.NewReader(fetch("/analytics/export.csv?days=1"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(recs), len(tests)+1; got != want {
		t.Fatalf("%d CSV records, want %d", got, want)
	}
	var lines []analytics.ExportEvent
	sc := bufio.NewScanner(bytes.NewReader(fetch("/analytics/export.ndjson?days=1")))
	for sc.Scan() {
		var ev analytics.ExportEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, ev)
	}
	if len(lines) != len(tests) {
		t.Fatalf("%d NDJSON lines, want %d", len(lines), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := recs[i+1]
			if rec[2] != tt.wantTool || rec[7] != tt.wantMsg || rec[6] != "'=TYPE()" {
				t.Errorf("CSV tool_name %q, error_type %q, error_message %q; want %q, %q, %q",
					rec[2], rec[6], rec[7], tt.wantTool, "'=TYPE()", tt.wantMsg)
			}
			if rec[5] != "5" {
				t.Errorf("CSV duration_ms %q, want 5", rec[5])
			}
			if got := lines[i]; got.ToolName != tt.tool || got.ErrorMessage == nil || *got.ErrorMessage != tt.errMsg {
				t.Errorf("NDJSON tool_name %q, error_message %v; want them exact: %q, %q", got.ToolName, got.ErrorMessage, tt.tool, tt.errMsg)
			}
		})
	}
}

// exportServer serves the analytics API of a fresh database that holds
// enough export to fill any socket buffer, over real HTTP; it returns the
// writer, the API and its log.
func exportServer(t *testing.T, cfg analytics.Config) (*sql.DB, *analytics.Server, *httptest.Server, *testkit.LockedBuffer) {
	t.Helper()
	db := testkit.MustOpenDB(t)
	pad := strings.Repeat("x", trackskills.MaxMetadata-64)
	at := testNow.Add(-time.Hour)
	for b := range 4 {
		evs := make([]trackskills.Event, 1000)
		for i := range evs {
			n := b*len(evs) + i
			evs[i] = event(fmt.Sprintf("stall-%05d", n), at.Add(time.Duration(n)*time.Millisecond), "big_tool", "cat",
				trackskills.StatusSuccess, 5, "user-s")
			evs[i].Metadata = json.RawMessage(`{"pad":"` + pad + `"}`)
		}
		testkit.MustWriteBatch(t, db, evs)
	}
	logs := &testkit.LockedBuffer{}
	srv := analytics.New(cfg, testkit.MustOpenReadOnly(t, db.Path()), slog.New(slog.NewTextHandler(logs, nil)))
	srv.Now = func() time.Time { return testNow }
	e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
	if err := srv.Register(e); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	t.Cleanup(hs.Close)
	return db, srv, hs, logs
}

// stallExport starts an export that its client never reads beyond the
// status line.
func stallExport(t *testing.T, hs *httptest.Server) {
	t.Helper()
	if line := testkit.MustStallGET(t, hs.Listener.Addr().String(), "/analytics/export.ndjson?days=1"); !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("stalled export: %q, want a 200", line)
	}
}

// getExport GETs a short export over real HTTP and returns its status and
// Retry-After.
func getExport(t *testing.T, hs *httptest.Server) (int, string) {
	t.Helper()
	resp, err := http.Get(hs.URL + "/analytics/export.csv?days=1&limit=10")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// Ensure an export whose client stops reading holds no read snapshot (the
// writer still truncates its log), takes the only export slot until Close
// cuts it (a 503 with Retry-After meanwhile), and that Close logs the cut
// and refuses later exports.
func TestServer_ExportStalledClient(t *testing.T) {
	db, srv, hs, logs := exportServer(t, analytics.Config{MaxExports: 1, ExportWriteTimeout: time.Hour})
	stallExport(t, hs)

	if code, retry := getExport(t, hs); code != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("second export: %d Retry-After %q, want 503 with Retry-After", code, retry)
	}
	ctx := context.Background()
	for i := range 3 {
		testkit.MustWriteBatch(t, db, []trackskills.Event{event(fmt.Sprintf("during-%d", i), testNow.Add(-time.Minute), "t", "c",
			trackskills.StatusSuccess, 1, "u")})
		if err := db.Checkpoint(ctx); err != nil {
			t.Fatalf("checkpoint with a stalled export open: %v", err)
		}
	}
	if code, _ := getExport(t, hs); code != http.StatusServiceUnavailable {
		t.Fatalf("export after the checkpoints: %d, want 503 (the stalled one still runs)", code)
	}

	srv.Close()
	testkit.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), "export cut by shutdown") {
			return fmt.Errorf("no cut logged yet: %s", logs)
		}
		return nil
	})
	if !strings.Contains(logs.String(), "exports in flight cut") {
		t.Errorf("Close logged no cut: %s", logs)
	}
	if code, _ := getExport(t, hs); code != http.StatusServiceUnavailable {
		t.Errorf("export after Close: %d, want 503", code)
	}
}

// Ensure a client that stops reading is cut off at the write deadline,
// which frees its export slot.
func TestServer_ExportWriteDeadline(t *testing.T) {
	_, _, hs, logs := exportServer(t, analytics.Config{MaxExports: 1, ExportWriteTimeout: 2 * time.Second})
	stallExport(t, hs)
	testkit.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), "the client stopped reading") {
			return fmt.Errorf("no cut logged yet: %s", logs)
		}
		return nil
	})
	if code, _ := getExport(t, hs); code != http.StatusOK {
		t.Errorf("export after the cut: %d, want 200", code)
	}
}
