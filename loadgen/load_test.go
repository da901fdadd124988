package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/loadgen"
	"github.com/trackskills/trackskills/testkit"
)

// fakeIngest answers like the ingest API (docs/CONTRACT.md, Ingest API) and remembers the event
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
	var events []loadgen.Event
	switch r.URL.Path {
	case "/api/track":
		var e loadgen.Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		events = []loadgen.Event{e}
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

// config is loadgen's default run against url.
func config(url string, mod func(*loadgen.Config)) loadgen.Config {
	cfg := loadgen.DefaultConfig()
	cfg.URL = url
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

// runJSON runs cfg and returns its report as the JSON form decodes it.
func runJSON(t *testing.T, ctx context.Context, cfg loadgen.Config) *loadgen.Report {
	t.Helper()
	r, err := loadgen.Run(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf, true); err != nil {
		t.Fatal(err)
	}
	var got loadgen.Report
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("decode report: %v\n%s", err, buf.String())
	}
	return &got
}

func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name      string
		mode      string
		batchSize int
		requests  int64
	}{
		{"Single", "single", 100, 300},
		{"Batch", "batch", 32, 10}, // 9 of 32, 1 of 12
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIngest{t: t, key: "k1", ids: make(map[string]int)}
			srv := httptest.NewServer(f)
			defer srv.Close()

			r := runJSON(t, context.Background(), config(srv.URL+"/", func(c *loadgen.Config) {
				c.Connections, c.Mode, c.BatchSize, c.Count, c.Key = 8, tt.mode, tt.batchSize, 300, "k1"
			}))
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

	t.Run("NoAck", func(t *testing.T) {
		srv := httptest.NewServer(&fakeIngest{t: t, status: http.StatusServiceUnavailable, ids: make(map[string]int)})
		defer srv.Close()
		// Run reports the failures; the subcommand turns "none acked" into an error.
		r := runJSON(t, context.Background(), config(srv.URL, func(c *loadgen.Config) { c.Count = 10 }))
		if got, want := r.Acked, int64(0); got != want {
			t.Fatalf("acked=%d, want %d", got, want)
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
		r := runJSON(t, context.Background(), config(srv.URL, func(c *loadgen.Config) { c.Count, c.Rate, c.Connections = 200, 1000, 4 }))
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
		r := runJSON(t, ctx, config(srv.URL, func(c *loadgen.Config) { c.Duration, c.Connections = time.Minute, 2 }))
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("run took %v after cancel", d)
		}
		if !r.Interrupted || r.Acked == 0 || r.Acked != r.Sent {
			t.Fatalf("interrupted=%v acked=%d sent=%d, want true and acked=sent>0", r.Interrupted, r.Acked, r.Sent)
		}
	})
}

// TestRun_Lag runs against a fake ingest whose "consumer" inserts each
// acknowledged event into SQLite 30 ms after the answer.
func TestRun_Lag(t *testing.T) {
	db := testkit.MustOpenDB(t)
	insert := func(ids ...string) error {
		evs := make([]trackskills.Event, len(ids))
		now := time.Now().UnixMilli()
		for i, id := range ids {
			d := int64(10)
			evs[i] = trackskills.Event{EventID: id, ToolName: "Read", ToolCategory: "builtin", Status: trackskills.StatusSuccess,
				Timestamp: now, ReceivedAt: now, UserHash: "user-0001", Source: "api", DurationMs: &d}
		}
		_, err := db.WriteBatch(context.Background(), evs, nil)
		return err
	}
	// A row of another run must not count.
	if err := insert("lg-0000000000000000-1"); err != nil {
		t.Fatal(err)
	}

	var inserts sync.WaitGroup
	f := &fakeIngest{t: t, ids: make(map[string]int)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inserts.Add(1) // before the answer, so that inserts.Wait covers it
		var buf bytes.Buffer
		r.Body = io.NopCloser(io.TeeReader(r.Body, &buf))
		f.ServeHTTP(w, r)
		var events []loadgen.Event
		if err := json.Unmarshal(buf.Bytes(), &events); err != nil {
			inserts.Done()
			t.Errorf("decode batch: %v", err)
			return
		}
		time.AfterFunc(30*time.Millisecond, func() {
			defer inserts.Done()
			// Rows of other writers, after the start, must not count either.
			ids := []string{"other-" + events[0].EventID}
			for _, e := range events {
				ids = append(ids, e.EventID)
			}
			if err := insert(ids...); err != nil {
				t.Errorf("insert: %v", err)
			}
		})
	}))
	defer srv.Close()
	defer inserts.Wait()

	r := runJSON(t, context.Background(), config(srv.URL, func(c *loadgen.Config) {
		c.Mode, c.BatchSize, c.Count, c.Connections, c.DB = "batch", 10, 200, 4, db.Path()
	}))
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

	t.Run("ErrNoFile", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.db")
		start := time.Now()
		if _, err := loadgen.Run(context.Background(), config(srv.URL, func(c *loadgen.Config) { c.DB = empty }), io.Discard); err == nil {
			t.Fatal("err=nil, want an error for a missing file")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("a missing file took %v to refuse", d)
		}
	})
}
