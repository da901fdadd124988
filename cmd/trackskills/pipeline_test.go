package main

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure the pipeline thresholds take seconds or durations, from the
// command line or the environment, and that red below amber is refused.
func TestOptions_PipelineThresholds(t *testing.T) {
	for _, tt := range []struct {
		name       string
		args       []string
		env        map[string]string
		amber, red time.Duration
		err        string
	}{
		{name: "Defaults", amber: 10 * time.Second, red: time.Minute},
		{name: "Seconds", args: []string{"--pipeline-lag-amber", "2.5", "--pipeline-lag-red", "30"}, amber: 2500 * time.Millisecond, red: 30 * time.Second},
		{name: "Durations", args: []string{"--pipeline-lag-amber", "500ms", "--pipeline-lag-red", "2m"}, amber: 500 * time.Millisecond, red: 2 * time.Minute},
		{name: "Env", env: map[string]string{"TRACKSKILLS_PIPELINE_LAG_RED": "90"}, amber: 10 * time.Second, red: 90 * time.Second},
		{name: "ErrRedBelowAmber", args: []string{"--pipeline-lag-amber", "30", "--pipeline-lag-red", "10"}, err: "below the amber"},
		{name: "ErrZero", args: []string{"--pipeline-lag-amber", "0"}, err: "positive"},
		{name: "ErrWord", args: []string{"--pipeline-lag-red", "soon"}, err: "usage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOptions()
			f := newCmdFlags("analytics", "", func(k string) string { return tt.env[k] }, io.Discard)
			o.registerAnalytics(f)
			_, err := o.parse(f, tt.args, io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one naming %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := o.analyticsConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Pipeline.LagAmber != tt.amber || cfg.Pipeline.LagRed != tt.red {
				t.Fatalf("thresholds %v/%v, want %v/%v", cfg.Pipeline.LagAmber, cfg.Pipeline.LagRed, tt.amber, tt.red)
			}
		})
	}
}

// pipelineStrip is what the dashboard's pipeline strip shows.
type pipelineStrip struct {
	State   string   `json:"state"`
	Lag     string   `json:"lag"`
	Last    string   `json:"last"`
	Actions []string `json:"actions"`
	Text    string   `json:"text"`
}

const readStrip = `(() => {
  const s = document.getElementById("pipeline");
  return { state: s.hidden ? "hidden" : s.dataset.state, lag: document.getElementById("pipe-lag").dataset.state || "",
    last: document.querySelector("#pipe-last .pipe-value").textContent,
    actions: [...document.querySelectorAll("#pipe-actions li")].map((li) => li.textContent), text: s.innerText };
})()`

// waitStrip waits until the strip is in state, and returns it.
func waitStrip(t *testing.T, tb *tab, timeout time.Duration, state string) pipelineStrip {
	t.Helper()
	var s pipelineStrip
	testkit.Eventually(t, timeout, func() error {
		s = evalAs[pipelineStrip](t, tb, readStrip)
		if s.State != state {
			return fmt.Errorf("pipeline strip %q, want %s: %+v", s.State, state, s)
		}
		return nil
	})
	return s
}

// Ensure the dashboard's pipeline strip, over the Procfile's processes,
// is ok while the consumer writes, turns red with the line of what to do
// once events wait in the stream past the red threshold with the consumer
// stopped, and is ok again when a consumer has written them.
func TestDashboard_PipelineStrip(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	b := newBrowser(t)
	dir := t.TempDir()
	natsAddr, ingestAddr, analyticsAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	env := []string{"TRACKSKILLS_DATA_DIR=" + dir, "TRACKSKILLS_NATS_ADDR=" + natsAddr, "TRACKSKILLS_NATS_URL=nats://" + natsAddr}
	ns := startBinary(t, env, "nats")
	startConsumer := func() *testkit.Process {
		t.Helper()
		health := testkit.MustFreeAddr(t)
		p := startBinary(t, env, "consumer", "--batch-wait", "20ms", "--health-addr", health)
		mustWaitReady(t, p, health)
		return p
	}
	cons := startConsumer()
	ing := startBinary(t, env, "ingest", "--http-addr", ingestAddr)
	mustWaitReady(t, ing, ingestAddr)
	an := startBinary(t, env, "analytics", "--http-addr", analyticsAddr, "--pipeline-lag-amber", "0.5", "--pipeline-lag-red", "1")
	mustWaitReady(t, an, analyticsAddr)
	send := func(n int) {
		t.Helper()
		for i := range n {
			postEvent(t, "http://"+ingestAddr, map[string]any{"tool_name": fmt.Sprintf("strip_%d", i%3), "status": "success", "duration_ms": 12})
		}
	}

	start := time.Now()
	phase := func(name string) { t.Logf("%s after %v", name, time.Since(start).Round(100*time.Millisecond)) }
	send(3)
	tb := b.newTab(t)
	tb.do(t, 20*time.Second, chromedp.Navigate("http://"+analyticsAddr+"/#tools"))
	s := waitStrip(t, tb, 20*time.Second, "ok")
	testkit.Eventually(t, 20*time.Second, func() error {
		if s = evalAs[pipelineStrip](t, tb, readStrip); s.State != "ok" || !strings.HasSuffix(s.Last, "ago") {
			return fmt.Errorf("strip %+v, want ok with the last event's age", s)
		}
		return nil
	})

	phase("ok")
	if err := cons.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("consumer: %v", err)
	}
	phase("consumer stopped")
	send(5)
	s = waitStrip(t, tb, 20*time.Second, "red")
	if s.Lag != "red" || len(s.Actions) != 1 || !strings.Contains(s.Actions[0], "the consumer is not writing") ||
		!strings.Contains(s.Actions[0], "trackskills status") || !strings.Contains(s.Text, "waiting") {
		t.Errorf("stopped consumer: strip %+v, want the lag red with the line of what to do", s)
	}
	screenshot(t, tb, "pipeline-red.png")
	phase("red")

	cons = startConsumer()
	s = waitStrip(t, tb, 20*time.Second, "ok")
	if s.Lag != "ok" || len(s.Actions) != 0 {
		t.Errorf("consumer running again: strip %+v, want ok without actions", s)
	}
	phase("ok again")
	tb.checkClean(t)
	for _, p := range []*testkit.Process{an, ing, cons, ns} {
		if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
			t.Errorf("exit: %v\n%s", err, p.Logs())
		}
	}
}

// Ensure serve's pipeline reads the lag from its stream, through the
// analytics user's in-process connection, and is ok once the consumer has
// written what was sent.
func TestServe_Pipeline(t *testing.T) {
	t.Parallel()
	app := mustStartServe(t, serveOptions(t))
	postEvent(t, app.URL(), map[string]any{"tool_name": "pipeline_probe", "status": "success"})
	testkit.Eventually(t, 10*time.Second, func() error {
		var p analytics.PipelineResponse
		apiGet(t, app.URL(), "/analytics/pipeline", &p)
		if p.State != analytics.StateOK || p.Lag.Source != analytics.LagFromStream || p.Lag.Events == nil || *p.Lag.Events != 0 ||
			p.Lag.Consumer == "" || p.LastEvent.ReceivedAtMs == nil {
			return fmt.Errorf("pipeline %+v, want ok from the stream with the event written", p)
		}
		return nil
	})
}
