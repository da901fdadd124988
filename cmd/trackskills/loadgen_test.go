package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackskills/trackskills/claudecode"
)

func TestLoadgen_Percentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		d := make([]time.Duration, len(n))
		for i, v := range n {
			d[i] = time.Duration(v) * time.Millisecond
		}
		return d
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tt := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"Empty", nil, 50, 0},
		{"One", ms(7), 50, 7 * time.Millisecond},
		{"OneMax", ms(7), 100, 7 * time.Millisecond},
		{"P50", hundred, 50, 50 * time.Millisecond},
		{"P95", hundred, 95, 95 * time.Millisecond},
		{"P99", hundred, 99, 99 * time.Millisecond},
		{"Max", hundred, 100, 100 * time.Millisecond},
		{"P50Odd", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"P99Small", ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{"TinyP", ms(1, 2, 3, 4), 0.1, 1 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := percentile(tt.sorted, tt.p), tt.want; got != want {
				t.Fatalf("percentile(%v)=%v, want %v", tt.p, got, want)
			}
		})
	}

	t.Run("Report", func(t *testing.T) {
		d := ms(5, 1, 4, 2, 3) // unsorted: newLatencyReport sorts
		r := newLatencyReport(d)
		if got, want := r, (latencyReport{Count: 5, P50: 3, P95: 5, P99: 5, Max: 5}); got != want {
			t.Fatalf("report=%+v, want %+v", got, want)
		}
		if got, want := roundMS(1234567*time.Nanosecond), 1.23; got != want {
			t.Fatalf("roundMS=%v, want %v", got, want)
		}
	})
}

func TestLoadgen_ComputeLag(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, tt := range []struct {
		name        string
		acks, rows  []countSample
		want        []time.Duration
		wantMissing int
	}{
		{name: "Empty"},
		{
			name: "NoRows",
			acks: []countSample{{at(0), 1}, {at(5), 2}},
			// Both acks never reached the database.
			wantMissing: 2,
		},
		{
			name: "OneToOne",
			acks: []countSample{{at(0), 10}, {at(10), 20}},
			rows: []countSample{{at(40), 10}, {at(60), 20}},
			want: []time.Duration{40 * time.Millisecond, 50 * time.Millisecond},
		},
		{
			name: "FirstRowSampleAtOrAbove",
			// The row sample with 15 rows does not cover 20 acked events;
			// the one with 25 does, and it is the first that does.
			acks: []countSample{{at(0), 20}},
			rows: []countSample{{at(10), 15}, {at(30), 25}, {at(50), 40}},
			want: []time.Duration{30 * time.Millisecond},
		},
		{
			name: "OneRowSampleCoversMany",
			acks: []countSample{{at(0), 1}, {at(2), 2}, {at(4), 3}},
			rows: []countSample{{at(20), 3}},
			want: []time.Duration{20 * time.Millisecond, 18 * time.Millisecond, 16 * time.Millisecond},
		},
		{
			name: "RowsBeforeAckIsZero",
			// The consumer committed before the HTTP answer arrived.
			acks: []countSample{{at(50), 5}},
			rows: []countSample{{at(40), 5}},
			want: []time.Duration{0},
		},
		{
			name:        "TailMissing",
			acks:        []countSample{{at(0), 5}, {at(10), 10}},
			rows:        []countSample{{at(20), 7}},
			want:        []time.Duration{20 * time.Millisecond},
			wantMissing: 1,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, missing := computeLag(tt.acks, tt.rows)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("lags=%v, want %v", got, tt.want)
			}
			if got, want := missing, tt.wantMissing; got != want {
				t.Fatalf("missing=%d, want %d", got, want)
			}
		})
	}

	t.Run("ReportSortsAcks", func(t *testing.T) {
		// Workers append their samples in their own order.
		acks := []countSample{{at(10), 20}, {at(0), 10}}
		rows := []countSample{{at(40), 10}, {at(60), 20}}
		r := newLagReport(acks, rows)
		if got, want := r.latencyReport, (latencyReport{Count: 2, P50: 40, P95: 50, P99: 50, Max: 50}); got != want {
			t.Fatalf("report=%+v, want %+v", got, want)
		}
		if got, want := r.Rows, int64(20); got != want {
			t.Fatalf("rows=%d, want %d", got, want)
		}
	})
}

func TestLoadgen_Generator(t *testing.T) {
	const n = 10_000
	gen := func(seed, stream uint64, tools int, errorRate float64) []loadEvent {
		g := newEventGen(seed, stream, "lg-abc-", 200, tools, errorRate)
		events := make([]loadEvent, n)
		for i := range events {
			events[i] = g.event(uint64(i))
		}
		return events
	}

	t.Run("Deterministic", func(t *testing.T) {
		a, b := gen(42, 3, 50, 0.05), gen(42, 3, 50, 0.05)
		if !reflect.DeepEqual(a, b) {
			t.Fatal("same seed and stream gave different events")
		}
		if c := gen(43, 3, 50, 0.05); reflect.DeepEqual(a, c) {
			t.Fatal("another seed gave the same events")
		}
		if c := gen(42, 4, 50, 0.05); reflect.DeepEqual(a, c) {
			t.Fatal("another stream gave the same events")
		}
	})

	for _, tt := range []struct {
		name      string
		errorRate float64
	}{
		{"ErrorRate0", 0},
		{"ErrorRate5", 0.05},
		{"ErrorRate30", 0.30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var errs, timeouts int
			for _, e := range gen(1, 0, 50, tt.errorRate) {
				switch e.Status {
				case "error":
					errs++
					if e.ErrorType == "" || e.ErrorMessage == "" {
						t.Fatalf("error event without error_type or message: %+v", e)
					}
				case "timeout":
					timeouts++
				}
			}
			// Binomial: 4 standard deviations, at least 0.5 points.
			tol := max(4*math.Sqrt(tt.errorRate*(1-tt.errorRate)/n), 0.005)
			if got := float64(errs) / n; math.Abs(got-tt.errorRate) > tol {
				t.Fatalf("error share=%.4f, want %.2f±%.4f", got, tt.errorRate, tol)
			}
			if got := float64(timeouts) / n; got < 0.005 || got > 0.015 {
				t.Fatalf("timeout share=%.4f, want about 0.01", got)
			}
		})
	}

	t.Run("Fields", func(t *testing.T) {
		ids := make(map[string]bool, n)
		tools := make(map[string]bool)
		categories := make(map[string]bool)
		for _, e := range gen(7, 0, 50, 0.05) {
			if e.ToolName == "" || e.Status == "" || e.EventID == "" || e.UserID == "" || e.SessionID == "" {
				t.Fatalf("event misses a field: %+v", e)
			}
			if e.Status != "success" && e.Status != "error" && e.Status != "timeout" {
				t.Fatalf("status=%q", e.Status)
			}
			if e.DurationMS < 0 || e.DurationMS > 600_000 {
				t.Fatalf("duration_ms=%d", e.DurationMS)
			}
			if !strings.HasPrefix(e.EventID, "lg-abc-") || len(e.EventID) > 64 {
				t.Fatalf("event_id=%q", e.EventID)
			}
			if ids[e.EventID] {
				t.Fatalf("duplicate event_id %q", e.EventID)
			}
			ids[e.EventID] = true
			tools[e.ToolName] = true
			categories[e.ToolCategory] = true
		}
		if got, want := len(tools), 50; got != want {
			t.Fatalf("distinct tools=%d, want %d", got, want)
		}
		for _, c := range []string{"builtin", "mcp", "skill"} {
			if !categories[c] {
				t.Fatalf("no event of category %q", c)
			}
		}
	})

	t.Run("MoreToolsThanNames", func(t *testing.T) {
		tools := make(map[string]bool)
		for _, e := range gen(1, 0, 60, 0.05) {
			tools[e.ToolName] = true
		}
		if !tools["tool_060"] {
			t.Fatal("no event of tool_060")
		}
		if len(tools) > 60 {
			t.Fatalf("distinct tools=%d, want at most 60", len(tools))
		}
	})

	t.Run("MedianDuration", func(t *testing.T) {
		var below int
		for _, e := range gen(1, 0, 50, 0) {
			if e.DurationMS < 120 {
				below++
			}
		}
		if got := float64(below) / n; got < 0.45 || got > 0.55 {
			t.Fatalf("share under 120 ms=%.3f, want about 0.5", got)
		}
	})
}

func TestLoadgen_Flags(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}

	t.Run("EnvDefault", func(t *testing.T) {
		cfg, err := parseLoadgenFlags([]string{"--connections", "3"}, env(map[string]string{
			"TRACKSKILLS_CONNECTIONS": "9",
			"TRACKSKILLS_BATCH_SIZE":  "250",
			"TRACKSKILLS_ERROR_RATE":  "0.2",
			"TRACKSKILLS_JSON":        "true",
			"TRACKSKILLS_KEY":         "secret",
		}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.connections, 3; got != want { // the command line wins
			t.Fatalf("connections=%d, want %d", got, want)
		}
		if got, want := cfg.batchSize, 250; got != want {
			t.Fatalf("batch size=%d, want %d", got, want)
		}
		if got, want := cfg.errorRate, 0.2; got != want {
			t.Fatalf("error rate=%v, want %v", got, want)
		}
		if got, want := cfg.key, "secret"; got != want || !cfg.json {
			t.Fatalf("key=%q json=%v, want %q true", got, cfg.json, want)
		}
		if got, want := cfg.duration, 10*time.Second; got != want {
			t.Fatalf("duration=%v, want %v", got, want)
		}
	})

	t.Run("CountWithoutDuration", func(t *testing.T) {
		cfg, err := parseLoadgenFlags([]string{"--count", "5"}, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.duration, time.Duration(0); got != want {
			t.Fatalf("duration=%v, want %v", got, want)
		}
	})

	t.Run("Help", func(t *testing.T) {
		var stderr bytes.Buffer
		err := runLoadgen(context.Background(), []string{"--help"}, env(nil), io.Discard, &stderr)
		if err != nil {
			t.Fatalf("err=%v, want nil", err)
		}
		for _, s := range []string{"-batch-size", "TRACKSKILLS_BATCH_SIZE", "-error-rate", "-db"} {
			if !strings.Contains(stderr.String(), s) {
				t.Fatalf("usage misses %q:\n%s", s, stderr.String())
			}
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"ErrMode", []string{"--mode", "stream"}, nil},
		{"ErrBatchSize", []string{"--batch-size", "1001"}, nil},
		{"ErrURL", []string{"--url", "localhost:8080"}, nil},
		{"ErrErrorRate", []string{"--error-rate", "1.5"}, nil},
		{"ErrEnvValue", nil, map[string]string{"TRACKSKILLS_COUNT": "many"}},
		{"ErrUnknownFlag", []string{"--nope"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseLoadgenFlags(tt.args, env(tt.env), io.Discard); err == nil {
				t.Fatal("err=nil, want an error")
			}
		})
	}
}

// fakeIngest answers like the ingest API (SPEC §3) and remembers the event
// ids it received. With insert set, it also calls insert for each event
// after the answer, as the consumer would.
type fakeIngest struct {
	t      *testing.T
	key    string
	status int // answer this status instead when not 0

	mu  sync.Mutex
	ids map[string]int
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.key != "" && r.Header.Get("Authorization") != "Bearer "+f.key {
		http.Error(w, `{"success":false,"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		http.Error(w, `{"success":false,"error":"content type"}`, http.StatusUnsupportedMediaType)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, `{"success":false,"error":"stream unavailable"}`) // a write error shows in the client
		return
	}
	var events []loadEvent
	switch r.URL.Path {
	case "/api/track":
		var e loadEvent
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		events = []loadEvent{e}
	case "/api/track/batch":
		if err := json.NewDecoder(r.Body).Decode(&events); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	for _, e := range events {
		if e.ToolName == "" || e.Status == "" || e.EventID == "" {
			f.t.Errorf("bad event: %+v", e)
		}
		f.ids[e.EventID]++
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/api/track" {
		fmt.Fprintf(w, `{"success":true,"message":"Event tracked","event_id":%q}`, events[0].EventID)
		return
	}
	fmt.Fprintf(w, `{"success":true,"accepted":%d,"rejected":[]}`, len(events))
}

func runLoadgenJSON(t *testing.T, ctx context.Context, args []string, env map[string]string) (*loadReport, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runLoadgen(ctx, append(args, "--json"), func(k string) string { return env[k] }, &stdout, &stderr)
	if stdout.Len() == 0 {
		return nil, err
	}
	var r loadReport
	if derr := json.Unmarshal(stdout.Bytes(), &r); derr != nil {
		t.Fatalf("decode report: %v\n%s", derr, stdout.String())
	}
	return &r, err
}

func TestLoadgen_Run(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string
		requests int64
	}{
		{"Single", []string{"--mode", "single"}, 300},
		{"Batch", []string{"--mode", "batch", "--batch-size", "32"}, 10}, // 9 of 32, 1 of 12
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIngest{t: t, key: "k1", ids: make(map[string]int)}
			srv := httptest.NewServer(f)
			defer srv.Close()

			args := append([]string{"--url", srv.URL + "/", "--connections", "8"}, tt.args...)
			r, err := runLoadgenJSON(t, context.Background(), args, map[string]string{
				"TRACKSKILLS_COUNT": "300",
				"TRACKSKILLS_KEY":   "k1",
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := r.Sent, int64(300); got != want {
				t.Fatalf("sent=%d, want %d", got, want)
			}
			if got, want := r.Acked, int64(300); got != want {
				t.Fatalf("acked=%d, want %d", got, want)
			}
			if got, want := r.Failed, int64(0); got != want {
				t.Fatalf("failed=%d, want %d", got, want)
			}
			if got, want := r.Requests, tt.requests; got != want {
				t.Fatalf("requests=%d, want %d", got, want)
			}
			if got, want := r.StatusCodes["200"], tt.requests; got != want {
				t.Fatalf("status 200=%d, want %d", got, want)
			}
			if got, want := r.Latency.Count, int(tt.requests); got != want {
				t.Fatalf("latency samples=%d, want %d", got, want)
			}
			if r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
				t.Fatalf("latency not ordered: %+v", r.Latency)
			}
			// Ensure the server saw 300 distinct ids, each once.
			if got, want := len(f.ids), 300; got != want {
				t.Fatalf("distinct ids=%d, want %d", got, want)
			}
			for id, n := range f.ids {
				if n != 1 || !strings.HasPrefix(id, "lg-"+r.RunID+"-") {
					t.Fatalf("id %q seen %d times", id, n)
				}
			}
		})
	}

	t.Run("Text", func(t *testing.T) {
		srv := httptest.NewServer(&fakeIngest{t: t, ids: make(map[string]int)})
		defer srv.Close()
		var stdout bytes.Buffer
		err := runLoadgen(context.Background(), []string{"--url", srv.URL, "--count", "20"},
			func(string) string { return "" }, &stdout, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"acked        20\n", "status codes 200=20", "latency ms   p50="} {
			if !strings.Contains(stdout.String(), s) {
				t.Fatalf("report misses %q:\n%s", s, stdout.String())
			}
		}
	})

	t.Run("ErrNoAck", func(t *testing.T) {
		srv := httptest.NewServer(&fakeIngest{t: t, status: http.StatusServiceUnavailable, ids: make(map[string]int)})
		defer srv.Close()
		r, err := runLoadgenJSON(t, context.Background(), []string{"--url", srv.URL, "--count", "10"}, nil)
		if err == nil || err.Error() != "no event was acknowledged" {
			t.Fatalf("err=%v, want no event was acknowledged", err)
		}
		if got, want := r.Failed, int64(10); got != want {
			t.Fatalf("failed=%d, want %d", got, want)
		}
		if got, want := r.StatusCodes["503"], int64(10); got != want {
			t.Fatalf("status 503=%d, want %d", got, want)
		}
	})

	t.Run("Rate", func(t *testing.T) {
		srv := httptest.NewServer(&fakeIngest{t: t, ids: make(map[string]int)})
		defer srv.Close()
		// Event i is due at i/rate: the 200th at 199/1000 s.
		r, err := runLoadgenJSON(t, context.Background(),
			[]string{"--url", srv.URL, "--count", "200", "--rate", "1000", "--connections", "4"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Duration < 0.19 {
			t.Fatalf("duration=%vs, want at least 0.19s at 1000 events/s", r.Duration)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		srv := httptest.NewServer(&fakeIngest{t: t, ids: make(map[string]int)})
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		r, err := runLoadgenJSON(t, ctx, []string{"--url", srv.URL, "--duration", "1m", "--connections", "2"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("run took %v after cancel", d)
		}
		if !r.Interrupted || r.Acked == 0 || r.Acked != r.Sent {
			t.Fatalf("interrupted=%v acked=%d sent=%d, want true and acked=sent>0", r.Interrupted, r.Acked, r.Sent)
		}
	})
}

// TestLoadgen_Lag runs against a fake ingest whose "consumer" inserts each
// acknowledged event into SQLite 30 ms after the answer.
func TestLoadgen_Lag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trackskills.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE skill_usage_events (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	// A row of another run must not count.
	if _, err := db.Exec(`INSERT INTO skill_usage_events (event_id) VALUES ('lg-0000000000000000-1')`); err != nil {
		t.Fatal(err)
	}

	var inserts sync.WaitGroup
	f := &fakeIngest{t: t, ids: make(map[string]int)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inserts.Add(1) // before the answer, so that inserts.Wait covers it
		var buf bytes.Buffer
		r.Body = io.NopCloser(io.TeeReader(r.Body, &buf))
		f.ServeHTTP(w, r)
		var events []loadEvent
		if err := json.Unmarshal(buf.Bytes(), &events); err != nil {
			inserts.Done()
			t.Errorf("decode batch: %v", err)
			return
		}
		time.AfterFunc(30*time.Millisecond, func() {
			defer inserts.Done()
			// Rows of other writers, after the start, must not count either.
			if _, err := db.Exec(`INSERT INTO skill_usage_events (event_id) VALUES (?)`, "other-"+events[0].EventID); err != nil {
				t.Errorf("insert: %v", err)
			}
			for _, e := range events {
				if _, err := db.Exec(`INSERT INTO skill_usage_events (event_id) VALUES (?)`, e.EventID); err != nil {
					t.Errorf("insert: %v", err)
				}
			}
		})
	}))
	defer srv.Close()
	defer inserts.Wait()

	r, err := runLoadgenJSON(t, context.Background(), []string{
		"--url", srv.URL, "--mode", "batch", "--batch-size", "10", "--count", "200",
		"--connections", "4", "--db", path,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Lag == nil {
		t.Fatal("no lag in the report")
	}
	if got, want := r.Lag.Rows, int64(200); got != want {
		t.Fatalf("rows=%d, want %d", got, want)
	}
	if got, want := r.Lag.Acked, int64(200); got != want {
		t.Fatalf("lag acked=%d, want %d", got, want)
	}
	if got, want := r.Lag.Count, 20; got != want {
		t.Fatalf("lag samples=%d, want %d (one per request)", got, want)
	}
	if got, want := r.Lag.Missing, 0; got != want {
		t.Fatalf("missing=%d, want %d", got, want)
	}
	if r.Lag.Max < 25 || r.Lag.Max > 5000 {
		t.Fatalf("lag max=%v ms, want about 30-100 ms", r.Lag.Max)
	}

	t.Run("ErrNoTable", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.db")
		if _, _, err := openLagDB(context.Background(), empty); err == nil {
			t.Fatal("err=nil, want an error for a missing file")
		}
		err := runLoadgen(context.Background(), []string{"--db", empty}, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || errors.Is(err, errUsage) {
			t.Fatalf("err=%v, want an open db error", err)
		}
	})
}

// loadgen --mode hook sends payloads that the hook mapping turns back into
// the generated events.
func TestLoadgen_HookPayload(t *testing.T) {
	gen := newEventGen(1, 0, "hk-", 50, 50, 0.2)
	for i := range uint64(200) {
		e := gen.event(i)
		b, err := json.Marshal(hookPayload(e))
		if err != nil {
			t.Fatal(err)
		}
		p, err := claudecode.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		m := claudecode.Map(p, claudecode.Options{})
		if m.Action != claudecode.Track || m.Input.ToolName != e.ToolName || m.Input.Status != e.Status ||
			string(m.Input.DurationMs) != strconv.FormatInt(e.DurationMS, 10) || m.Input.EventID != e.EventID {
			t.Fatalf("%+v maps to %+v", e, m.Input)
		}
	}
}
