package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/testkit"
)

// readyChecks returns the status and the checks of GET base/readyz.
func readyChecks(tb testing.TB, client *http.Client, base string) (int, map[string]string) {
	tb.Helper()
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, body.Checks
}

// postE2E posts e2eEvent(n) to base/api/track and returns the response.
func postE2E(tb testing.TB, client *http.Client, base string, n int) (int, string, httpapi.ErrorBody) {
	tb.Helper()
	body, _ := json.Marshal(e2eEvent(n)) // plain values always encode
	resp, err := client.Post(base+"/api/track", "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var eb httpapi.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&eb) // a 200's body has no error
	return resp.StatusCode, resp.Header.Get("Retry-After"), eb
}

// Ensure serve, its stream capped (--stream-max-bytes) or its JetStream
// store capped (--nats-max-store), loses no event it answered 200 while
// the consumer cannot write (a full disk under SQLite): ingest refuses new
// events with a 503 that says the store is full, /readyz says "cannot
// write" and "cannot store"; once SQLite has room again everything
// recovers by itself (the consumer writes, consumed history is trimmed,
// ingest takes events), no restart, and every 200'd event is in SQLite
// once.
func TestServe_FullStoreLosesNothing(t *testing.T) {
	tests := []struct {
		name  string
		limit int64 // bytes
		set   func(o *options, limit int64)
	}{
		{"stream max bytes", 128 << 10, func(o *options, limit int64) {
			o.stream.MaxBytes, o.stream.Given.MaxBytes = limit, true
		}},
		{"nats max store", 256 << 10, func(o *options, limit int64) {
			o.natsMaxStore, o.trim.MaxStore = limit, limit
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			o := serveOptions(t)
			o.stream.Owner = true
			o.trim.Every = 100 * time.Millisecond
			tt.set(o, tt.limit)
			app := mustStartServe(t, o)
			js := testkit.MustJetStreamAt(t, natsAdminURL(t, o.dataDir, app.nats.ClientURL()))
			base := app.URL()
			client := &http.Client{Timeout: 10 * time.Second}
			var accepted []string
			next := 0
			post := func() (int, string, httpapi.ErrorBody) {
				code, retry, eb := postE2E(t, client, base, next)
				if code == http.StatusOK {
					accepted = append(accepted, fmt.Sprintf("e2e-%06d", next))
				}
				next++
				return code, retry, eb
			}
			for range 10 {
				if code, _, eb := post(); code != http.StatusOK {
					t.Fatalf("warm-up event: %d %s", code, eb.Error)
				}
			}
			testkit.Eventually(t, 20*time.Second, func() error {
				if rows, _ := countRows(t, o.dbPath()); rows != int64(len(accepted)) {
					return fmt.Errorf("%d rows, want %d", rows, len(accepted))
				}
				return nil
			})

			// The disk under SQLite fills: the consumer cannot write, and
			// the stream fills with events not yet stored.
			db := app.writer.DB()
			st, err := os.Stat(db.Path())
			if err != nil {
				t.Fatal(err)
			}
			if err := db.LimitSize(ctx, st.Size()+16<<10); err != nil {
				t.Fatal(err)
			}
			for {
				code, retry, eb := post()
				if code == http.StatusOK {
					if next > 20000 {
						t.Fatal("ingest never refused an event")
					}
					continue
				}
				if code != http.StatusServiceUnavailable || eb.Error != ingest.StoreFullMessage || retry != "5" {
					t.Fatalf("event %d: %d %q, Retry-After %q; want 503 with the store-full message and 5", next-1, code, eb.Error, retry)
				}
				break
			}
			testkit.Eventually(t, 20*time.Second, func() error {
				code, checks := readyChecks(t, client, base)
				if code != http.StatusServiceUnavailable || !strings.HasPrefix(checks["consumer"], "cannot write: ") || !strings.HasPrefix(checks["store"], "cannot store: ") {
					return fmt.Errorf("/readyz %d %v; want 503, consumer: cannot write, store: cannot store", code, checks)
				}
				return nil
			})

			// Space comes back: no restart.
			if err := db.LimitSize(ctx, 0); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, 20*time.Second, func() error {
				if code, _, eb := post(); code != http.StatusOK {
					return fmt.Errorf("ingest still answers %d %s", code, eb.Error)
				}
				return nil
			})
			testkit.Eventually(t, 20*time.Second, func() error {
				if rows, _ := countRows(t, o.dbPath()); rows != int64(len(accepted)) {
					return fmt.Errorf("%d rows, want %d", rows, len(accepted))
				}
				return nil
			})
			testkit.Eventually(t, 20*time.Second, func() error {
				if code, checks := readyChecks(t, client, base); code != http.StatusOK {
					return fmt.Errorf("/readyz %d %v", code, checks)
				}
				return nil
			})
			// Caught up: the consumed history gives way, down to the low-water
			// mark, and ingest takes events steadily.
			testkit.Eventually(t, 20*time.Second, func() error {
				ai, err := js.AccountInfo(ctx)
				if err != nil {
					return err
				}
				// About the low-water mark: trimming cuts whole messages.
				if near := uint64((o.trim.Low + o.trim.High) / 2 * float64(tt.limit)); ai.Store > near {
					return fmt.Errorf("the store holds %d bytes, want about the low-water mark (%d of %d)", ai.Store, uint64(o.trim.Low*float64(tt.limit)), tt.limit)
				}
				return nil
			})
			for range 20 {
				if code, _, eb := post(); code != http.StatusOK {
					t.Fatalf("after recovery: %d %s", code, eb.Error)
				}
			}
			testkit.Eventually(t, 20*time.Second, func() error {
				rows, distinct := countRows(t, o.dbPath())
				if rows != int64(len(accepted)) || distinct != rows {
					return fmt.Errorf("%d rows (%d distinct), want the %d events answered 200", rows, distinct, len(accepted))
				}
				return nil
			})
			stored := map[string]bool{}
			for _, ev := range readEvents(ctx, t, o.dbPath()) {
				stored[ev.EventID] = true
			}
			for _, id := range accepted {
				if !stored[id] {
					t.Fatalf("event %s answered 200 and not in SQLite", id)
				}
			}
		})
	}
}

// Ensure the Procfile way keeps the stream's limits whichever part starts
// first: nats owns them, and ingest, which also declares the stream, only
// tightens them, never undoes them with its defaults or a looser value.
func TestProcfile_StreamLimitsKept(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const mb = 1 << 20
	tests := []struct {
		name          string
		natsBytes     string // TRACKSKILLS_STREAM_MAX_BYTES of nats; empty: none
		ingestBytes   string // of ingest
		ingestFirst   bool
		wantMaxBytes  int64
		wantIngestLog string // a line ingest logs, if any
	}{
		{name: "nats first", natsBytes: "1048576", wantMaxBytes: mb},
		{name: "ingest first", natsBytes: "1048576", ingestFirst: true, wantMaxBytes: mb},
		{name: "ingest looser", natsBytes: "1048576", ingestBytes: "4194304", wantMaxBytes: mb, wantIngestLog: "stream max bytes left as they are"},
		{name: "ingest tighter", natsBytes: "4194304", ingestBytes: "1048576", wantMaxBytes: mb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			natsAddr, httpAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
			env := []string{
				"TRACKSKILLS_DATA_DIR=" + dir,
				"TRACKSKILLS_NATS_ADDR=" + natsAddr,
				"TRACKSKILLS_NATS_URL=nats://" + natsAddr,
				"TRACKSKILLS_HTTP_ADDR=" + httpAddr,
			}
			with := func(v string) []string {
				if v == "" {
					return env
				}
				return append(append([]string(nil), env...), "TRACKSKILLS_STREAM_MAX_BYTES="+v)
			}
			var ingestProc *testkit.Process
			if tt.ingestFirst {
				ingestProc = startBinary(t, with(tt.ingestBytes), "ingest")
			}
			natsProc := startBinary(t, with(tt.natsBytes), "nats")
			// nats logs "nats ready" once it has declared the stream with
			// its limits; an ingest started first may have created it
			// with its own defaults before then.
			natsReady := func() {
				testkit.Eventually(t, 30*time.Second, func() error {
					if !strings.Contains(natsProc.Logs(), "nats ready") {
						return fmt.Errorf("nats not ready:\n%s", natsProc.Logs())
					}
					return nil
				})
			}
			if !tt.ingestFirst {
				natsReady()
				ingestProc = startBinary(t, with(tt.ingestBytes), "ingest")
			}
			mustWaitReady(t, ingestProc, httpAddr)
			natsReady()
			js := testkit.MustJetStreamAt(t, natsAdminURL(t, dir, "nats://"+natsAddr))
			s := testkit.MustEventsStream(t, js)
			if got := s.CachedInfo().Config; got.MaxBytes != tt.wantMaxBytes || got.Discard.String() != "DiscardNew" {
				t.Fatalf("stream max bytes %d, discard %s; want %d, new\nnats:\n%s\ningest:\n%s", got.MaxBytes, got.Discard, tt.wantMaxBytes, natsProc.Logs(), ingestProc.Logs())
			}
			if tt.wantIngestLog != "" && !strings.Contains(ingestProc.Logs(), tt.wantIngestLog) {
				t.Fatalf("ingest did not log %q:\n%s", tt.wantIngestLog, ingestProc.Logs())
			}
		})
	}
}
