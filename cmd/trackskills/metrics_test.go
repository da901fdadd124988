package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills/metrics"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure /metrics of serve asks for the read key, and that its counters
// move with the traffic: events accepted and written, rejected with their
// reason, HTTP requests by route pattern; every metric of the catalog is
// exposed.
func TestServe_Metrics(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	o := serveOptions(t)
	o.ingestKeys, o.readKeys = "ingest-key", "read-key"
	app := mustStartServe(t, o)
	url := app.URL() + metricsPath
	for _, header := range [][]string{nil, {"X-Api-Key", "wrong"}} {
		if _, err := testkit.Scrape(url, header...); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
			t.Fatalf("scrape with %q: err=%v, want HTTP 401", header, err)
		}
	}
	scrape := func() testkit.Metrics {
		t.Helper()
		m, err := testkit.Scrape(url, "Authorization", "Bearer read-key")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	value := func(m testkit.Metrics, name string, labels ...string) float64 {
		v, _ := m.Value(name, labels...)
		return v
	}
	before := scrape()

	client := &http.Client{Timeout: 10 * time.Second}
	key := map[string]string{"Authorization": "Bearer ingest-key"}
	batch := []map[string]any{e2eEvent(1), e2eEvent(2), {"tool_name": ""}, e2eEvent(3)}
	body, _ := json.Marshal(batch) // plain values always encode
	if code, err := testkit.PostJSON(client, app.URL()+"/api/track/batch", body, key, nil); err != nil || code != http.StatusOK {
		t.Fatalf("batch: %d %v", code, err)
	}
	body, _ = json.Marshal(e2eEvent(4)) // plain values always encode
	if code, err := testkit.PostJSON(client, app.URL()+"/api/track", body, key, nil); err != nil || code != http.StatusOK {
		t.Fatalf("event: %d %v", code, err)
	}
	if code, err := testkit.PostJSON(client, app.URL()+"/api/track", body, nil, nil); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("event without key: %d %v, want 401", code, err)
	}
	// Two tools by name: one route pattern, never the raw paths.
	for _, tool := range []string{"Bash", "Read"} {
		req, _ := http.NewRequest(http.MethodGet, app.URL()+"/analytics/tools/"+tool, nil) // a valid URL
		req.Header.Set("X-Api-Key", "read-key")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close() // only the metrics matter
	}

	var after testkit.Metrics
	testkit.Eventually(t, 10*time.Second, func() error {
		after = scrape()
		if got := value(after, "trackskills_consumer_events_written_total") - value(before, "trackskills_consumer_events_written_total"); got != 4 {
			return fmt.Errorf("events written moved by %v, want 4", got)
		}
		if got := value(after, "trackskills_consumer_lag_messages"); got != 0 {
			return fmt.Errorf("lag=%v messages, want 0", got)
		}
		return nil
	})
	moved := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"trackskills_ingest_events_accepted_total", nil, 4},
		{"trackskills_ingest_events_rejected_total", []string{"reason", "invalid"}, 1},
		{"trackskills_ingest_events_rejected_total", []string{"reason", "unauthorized"}, 1},
		{"trackskills_ingest_events_rejected_total", []string{"reason", "unavailable"}, 0},
		{"trackskills_consumer_events_ignored_total", nil, 0},
		{"trackskills_consumer_dead_letters_total", nil, 0},
		{"trackskills_http_requests_total", []string{"part", "ingest", "route", "/api/track/batch", "code", "200"}, 1},
		{"trackskills_http_requests_total", []string{"part", "ingest", "route", "/api/track", "code", "401"}, 1},
		{"trackskills_http_requests_total", []string{"part", "analytics", "route", "/analytics/tools/:name"}, 2},
		{"trackskills_http_request_duration_seconds", []string{"part", "ingest", "route", "/api/track/batch"}, 1},
		{"trackskills_ingest_publish_group_events", nil, 2}, // one message a request here
	}
	for _, m := range moved {
		if got := value(after, m.name, m.labels...) - value(before, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v moved by %v, want %v", m.name, m.labels, got, m.want)
		}
	}
	if got := value(after, "trackskills_http_requests_total", "part", "serve", "route", metricsPath, "code", "401"); got != 2 {
		t.Errorf("401 scrapes=%v, want 2", got)
	}
	for _, s := range after["trackskills_http_requests_total"].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == "route" && strings.HasPrefix(l.GetValue(), "/analytics/tools/") && l.GetValue() != "/analytics/tools/:name" {
				t.Errorf("route label %q: a raw path", l.GetValue())
			}
		}
	}
	gauges := []struct {
		name string
		ok   func(float64) bool
	}{
		{"trackskills_consumer_ready", func(v float64) bool { return v == 1 }},
		{"trackskills_stream_up", func(v float64) bool { return v == 1 }},
		{"trackskills_stream_messages", func(v float64) bool { return v >= 2 }},
		{"trackskills_consumer_lag_seconds", func(v float64) bool { return v == 0 }},
		{"trackskills_database_bytes", func(v float64) bool { return v > 0 }},
		{"trackskills_analytics_live_clients", func(v float64) bool { return v == 0 }},
		{"trackskills_consumer_batch_events", func(v float64) bool { return v >= 1 }},
		{"trackskills_consumer_commit_duration_seconds", func(v float64) bool { return v >= 1 }},
		{"go_goroutines", func(v float64) bool { return v > 0 }},
	}
	for _, g := range gauges {
		if v, found := after.Value(g.name); !found || !g.ok(v) {
			t.Errorf("%s=%v (found %v)", g.name, v, found)
		}
	}
	for _, m := range metrics.Catalog() {
		if _, ok := after[m.Name]; !ok {
			t.Errorf("%s: in the catalog, not exposed by serve", m.Name)
		}
	}
}

// Ensure --metrics-addr takes /metrics to a listener of its own, without
// a key, and off the HTTP port.
func TestServe_MetricsAddr(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	o := serveOptions(t)
	o.readKeys = "read-key"
	o.metrics.addr = testkit.MustFreeAddr(t)
	app := mustStartServe(t, o)
	m, err := testkit.Scrape("http://" + o.metrics.addr + metricsPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m["trackskills_consumer_ready"]; !ok {
		t.Fatal("no consumer metrics on --metrics-addr")
	}
	if _, err := testkit.Scrape(app.URL()+metricsPath, "X-Api-Key", "read-key"); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("metrics on the HTTP port: err=%v, want HTTP 404", err)
	}
}

// Ensure --metrics-addr is loopback unless --allow-remote-metrics, and
// that a bare port binds loopback.
func TestMetricsOptions_Addr(t *testing.T) {
	tests := []struct {
		name    string
		opts    metricsOptions
		want    string
		wantErr string
	}{
		{"Empty", metricsOptions{}, "", ""},
		{"Loopback", metricsOptions{addr: "127.0.0.1:9100"}, "127.0.0.1:9100", ""},
		{"BarePort", metricsOptions{addr: ":9100"}, "127.0.0.1:9100", ""},
		{"Remote", metricsOptions{addr: "0.0.0.0:9100"}, "", "--allow-remote-metrics"},
		{"RemoteAllowed", metricsOptions{addr: "0.0.0.0:9100", allowRemote: true}, "0.0.0.0:9100", ""},
		{"NoPort", metricsOptions{addr: "localhost"}, "", "want host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.opts.metricsAddr()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err=%v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("addr=%q err=%v, want %q", got, err, tt.want)
			}
		})
	}
}

// Ensure the Procfile parts serve /metrics on --metrics-addr: ingest
// counts what it accepts, the consumer what it writes and its lag, nats
// the stream.
func TestProcfile_Metrics(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	procs := procfileCommands(t)
	dir := t.TempDir()
	natsAddr, httpAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	env := []string{
		"TRACKSKILLS_DATA_DIR=" + dir,
		"TRACKSKILLS_NATS_ADDR=" + natsAddr,
		"TRACKSKILLS_NATS_URL=nats://" + natsAddr,
		"TRACKSKILLS_HTTP_ADDR=" + httpAddr,
		"TRACKSKILLS_BATCH_WAIT=20ms",
	}
	metricsAddr := map[string]string{}
	running := map[string]*testkit.Process{}
	for _, name := range []string{"nats", "consumer", "ingest"} {
		metricsAddr[name] = testkit.MustFreeAddr(t)
		penv := append(append([]string(nil), env...), "TRACKSKILLS_METRICS_ADDR="+metricsAddr[name])
		running[name] = startBinary(t, penv, procs[name]...)
	}
	mustWaitReady(t, running["ingest"], httpAddr)
	client := &http.Client{Timeout: 10 * time.Second}
	body, _ := json.Marshal([]map[string]any{e2eEvent(1), e2eEvent(2), e2eEvent(3)}) // plain values always encode
	if code, err := testkit.PostJSON(client, "http://"+httpAddr+"/api/track/batch", body, nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("batch: %d %v", code, err)
	}
	want := []struct {
		part, name string
		value      float64
	}{
		{"ingest", "trackskills_ingest_events_accepted_total", 3},
		{"ingest", "trackskills_stream_up", 1},
		{"consumer", "trackskills_consumer_events_written_total", 3},
		{"consumer", "trackskills_consumer_lag_messages", 0},
		{"consumer", "trackskills_consumer_ready", 1},
		{"nats", "trackskills_stream_messages", 1},
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		for _, w := range want {
			m, err := testkit.Scrape("http://" + metricsAddr[w.part] + metricsPath)
			if err != nil {
				return err
			}
			if got, _ := m.Value(w.name); got != w.value {
				return fmt.Errorf("%s: %s=%v, want %v", w.part, w.name, got, w.value)
			}
		}
		return nil
	})
	for _, name := range []string{"ingest", "consumer", "nats"} {
		if err := running[name].MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
			t.Fatalf("%s exit: %v\n%s", name, err, running[name].Logs())
		}
	}
}
