package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackskills/trackskills/sql"
)

// Config is one load run of the ingest API (docs/CONTRACT.md, Ingest API);
// its fields are the flags of `trackskills loadgen`.
type Config struct {
	URL         string        // base URL of the ingest API
	Mode        string        // single, batch or hook
	BatchSize   int           // events per request in batch mode (1-1000)
	Connections int           // concurrent workers, one keep-alive connection each
	Rate        float64       // target events per second over all workers; 0 = as fast as possible
	Count       int64         // stop after this many events; 0 = no bound
	Duration    time.Duration // stop sending after this time; 0 = no bound
	Users       int           // size of the user pool
	Tools       int           // number of distinct tool names
	ErrorRate   float64       // share of events with status error (another 1% are timeouts)
	Seed        uint64        // seed of the event generator
	Key         string        // ingest key, sent as Authorization: Bearer <key>
	Timeout     time.Duration // timeout of one request, response body included
	DB          string        // the SQLite file the consumer writes: when set, report the ack -> row lag
}

// DefaultConfig returns the defaults of `trackskills loadgen`: single
// events to http://127.0.0.1:8080 from 64 connections, as fast as
// possible, for 10 s once the caller leaves Count and Duration at 0.
func DefaultConfig() Config {
	return Config{
		URL:         "http://127.0.0.1:8080",
		Mode:        "single",
		BatchSize:   100,
		Connections: 64,
		Users:       200,
		Tools:       50,
		ErrorRate:   0.05,
		Seed:        1,
		Timeout:     10 * time.Second,
	}
}

// Run sends realistic events from cfg.Connections keep-alive workers until
// cfg.Count or cfg.Duration is reached or ctx is done, counts what the
// server acknowledged, and returns the report: request latency
// percentiles and, with cfg.DB, the end-to-end lag from the HTTP ack to the
// row in SQLite. Progress lines go to progress every 2 s. It returns an
// error only when the run cannot be set up; failed events are in the
// report.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	runID, err := newRunID()
	if err != nil {
		return nil, err
	}
	lg := &runner{
		cfg:      cfg,
		runID:    runID,
		prefix:   "lg-" + runID + "-",
		progress: progress,
		codes:    make(map[string]int64),
	}
	if cfg.DB != "" {
		db, rowid, err := openLagDB(ctx, cfg.DB)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		lg.db, lg.startRowid = db, rowid
	}
	return lg.run(ctx), nil
}

// Validate reports the first value out of its range.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return fmt.Errorf("parse --url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("--url must be an http(s) URL, got %q", c.URL)
	case c.Mode != "single" && c.Mode != "batch" && c.Mode != "hook":
		return fmt.Errorf("--mode must be single, batch or hook, got %q", c.Mode)
	case c.BatchSize < 1 || c.BatchSize > 1000:
		return fmt.Errorf("--batch-size must be 1-1000, got %d", c.BatchSize)
	case c.Connections < 1:
		return fmt.Errorf("--connections must be at least 1, got %d", c.Connections)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("--rate must be >= 0, got %v", c.Rate)
	case c.Count < 0:
		return fmt.Errorf("--count must be >= 0, got %d", c.Count)
	case c.Duration < 0:
		return fmt.Errorf("--duration must be >= 0, got %v", c.Duration)
	case c.Users < 1:
		return fmt.Errorf("--users must be at least 1, got %d", c.Users)
	case c.Tools < 1:
		return fmt.Errorf("--tools must be at least 1, got %d", c.Tools)
	case !(c.ErrorRate >= 0 && c.ErrorRate <= 0.99):
		return fmt.Errorf("--error-rate must be 0-0.99, got %v", c.ErrorRate)
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout must be > 0, got %v", c.Timeout)
	}
	return nil
}

// newRunID returns 8 random bytes in hex. Event ids are lg-<runid>-<n>, so
// two runs never send the same event_id (the idempotency key:
// docs/CONTRACT.md, The event), even with the same Seed.
func newRunID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// runner is one run: the configuration, the shared counters and, with a
// DB, the samples that give the ack -> row lag.
type runner struct {
	cfg      Config
	runID    string
	prefix   string // lg-<runid>-, the prefix of every event_id of this run
	progress io.Writer

	db         *sql.DB
	startRowid int64 // the largest rowid of the events before the run

	next     atomic.Int64 // index of the next event to claim; also the id counter
	sent     atomic.Int64 // events put on the wire
	acked    atomic.Int64 // events in a 2xx response (batch: "accepted")
	failed   atomic.Int64 // events in a non-2xx response or a transport error
	rejected atomic.Int64 // batch events in a 2xx response but not accepted
	requests atomic.Int64
	rows     atomic.Int64 // latest row count seen by the lag poller

	mu            sync.Mutex // guards the fields below, merged from workers
	codes         map[string]int64
	latencies     []time.Duration
	ackSamples    []countSample
	firstErr      string
	transportErrs int64
}

// countSample is a running count observed at a time: acknowledged events, or
// rows of this run visible in SQLite.
type countSample struct {
	at time.Time
	n  int64
}

// run sends until Count or Duration is reached or ctx is done, then, with
// a DB, waits for the rows, and returns the report.
func (lg *runner) run(ctx context.Context) *Report {
	cfg := lg.cfg
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Connections,
		MaxIdleConnsPerHost: cfg.Connections,
		MaxConnsPerHost:     cfg.Connections,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: cfg.Timeout}

	endpoint := strings.TrimRight(cfg.URL, "/") + "/api/track"
	switch cfg.Mode {
	case "batch":
		endpoint += "/batch"
	case "hook":
		endpoint = strings.TrimRight(cfg.URL, "/") + "/api/hooks/claude-code"
	}

	// sendCtx ends the sending phase. Requests already in flight are not
	// cancelled with it (they use reqCtx, bounded by --timeout), so that
	// every event on the wire is counted as acked or failed, not guessed.
	sendCtx, cancelSend := context.WithCancel(ctx)
	defer cancelSend()
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithTimeout(sendCtx, cfg.Duration)
		defer cancel()
	}
	reqCtx := context.WithoutCancel(ctx)

	var pollWG sync.WaitGroup
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	var pollErrs atomic.Int64
	var rowSamples []countSample
	if lg.db != nil {
		pollWG.Go(func() { rowSamples = lg.pollRows(pollCtx, &pollErrs) })
	}

	start := time.Now()
	var wg sync.WaitGroup
	for w := range cfg.Connections {
		wg.Go(func() { lg.worker(sendCtx, reqCtx, client, endpoint, w, start) })
	}
	sendDone := make(chan struct{})
	go func() { wg.Wait(); close(sendDone) }()
	lg.printProgress(sendDone, start)
	elapsed := time.Since(start)
	interrupted := ctx.Err() != nil

	var lag *LagReport
	if lg.db != nil {
		waitStart := time.Now()
		lg.waitRows(ctx, lg.acked.Load(), 30*time.Second)
		stopPoll()
		pollWG.Wait()
		lag = newLagReport(lg.ackSamples, rowSamples)
		lag.Acked = lg.acked.Load()
		lag.Waited = roundMS(time.Since(waitStart))
		lag.PollErrors = pollErrs.Load()
	}

	return lg.report(elapsed, interrupted, lag)
}

// worker sends requests until sendCtx is done or the Count budget is used
// up. It claims event indexes from lg.next, which numbers the event ids and,
// with a Rate, gives each event its due time on a shared schedule:
// event i is due at start + i/rate, whatever worker sends it.
func (lg *runner) worker(sendCtx, reqCtx context.Context, client *http.Client, endpoint string, w int, start time.Time) {
	cfg := lg.cfg
	gen := NewGenerator(GeneratorConfig{Seed: cfg.Seed, Stream: uint64(w), Prefix: lg.prefix, Users: cfg.Users, Tools: cfg.Tools, ErrorRate: cfg.ErrorRate})
	per := int64(1)
	if cfg.Mode == "batch" {
		per = int64(cfg.BatchSize)
	}
	var (
		latencies     []time.Duration
		acks          []countSample
		codes         = make(map[string]int64)
		firstErr      string
		transportErrs int64
		batch         = make([]Event, 0, per)
		body          bytes.Buffer
		resp          bytes.Buffer
		timer         *time.Timer
	)
	defer func() {
		lg.mu.Lock()
		defer lg.mu.Unlock()
		lg.latencies = append(lg.latencies, latencies...)
		lg.ackSamples = append(lg.ackSamples, acks...)
		for c, n := range codes {
			lg.codes[c] += n
		}
		if lg.firstErr == "" {
			lg.firstErr = firstErr
		}
		lg.transportErrs += transportErrs
	}()

	for sendCtx.Err() == nil {
		first := lg.next.Add(per) - per
		n := per
		if cfg.Count > 0 {
			if first >= cfg.Count {
				return
			}
			n = min(per, cfg.Count-first)
		}
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(first) / cfg.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-sendCtx.Done():
					return
				case <-timer.C:
				}
			}
		}

		body.Reset()
		enc := json.NewEncoder(&body)
		var err error
		if cfg.Mode == "batch" {
			batch = batch[:0]
			for i := range n {
				batch = append(batch, gen.Event(uint64(first+i)))
			}
			err = enc.Encode(batch)
		} else if cfg.Mode == "hook" {
			err = enc.Encode(HookPayload(gen.Event(uint64(first))))
		} else {
			err = enc.Encode(gen.Event(uint64(first)))
		}
		if err != nil { // cannot happen with these types; count it, never panic
			lg.failed.Add(n)
			codes["encode_error"]++
			continue
		}

		lg.sent.Add(n)
		t0 := time.Now()
		code, accepted, err := lg.post(reqCtx, client, endpoint, &body, &resp, n)
		t1 := time.Now()
		lg.requests.Add(1)
		latencies = append(latencies, t1.Sub(t0))
		switch {
		case err != nil:
			lg.failed.Add(n)
			transportErrs++
			if firstErr == "" {
				firstErr = err.Error()
			}
		case code < 200 || code > 299:
			lg.failed.Add(n)
			codes[strconv.Itoa(code)]++
		default:
			codes[strconv.Itoa(code)]++
			lg.rejected.Add(n - accepted)
			total := lg.acked.Add(accepted)
			if lg.db != nil && accepted > 0 {
				acks = append(acks, countSample{at: t1, n: total})
			}
		}
	}
}

// post sends one request and reads the response fully, so that the
// connection goes back to the pool. accepted is the number of events the
// server took: all n for a 2xx in single mode, the "accepted" field in batch
// mode. A 2xx batch answer that cannot be decoded is an error.
func (lg *runner) post(ctx context.Context, client *http.Client, endpoint string, body, resp *bytes.Buffer, n int64) (code int, accepted int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body.Bytes()))
	if err != nil {
		return 0, 0, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if lg.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+lg.cfg.Key)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	resp.Reset()
	if _, err := resp.ReadFrom(res.Body); err != nil {
		return 0, 0, fmt.Errorf("read response: %w", err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, 0, nil
	}
	if lg.cfg.Mode == "hook" && res.Header.Get("X-Trackskills-Ignored") != "" {
		return res.StatusCode, 0, nil // 200 {} for a payload it did not store
	}
	if lg.cfg.Mode != "batch" {
		return res.StatusCode, n, nil
	}
	var answer struct {
		Accepted *int64 `json:"accepted"`
	}
	if err := json.Unmarshal(resp.Bytes(), &answer); err != nil {
		return 0, 0, fmt.Errorf("decode batch response: %w", err)
	} else if answer.Accepted == nil || *answer.Accepted < 0 || *answer.Accepted > n {
		return 0, 0, fmt.Errorf("batch response: bad accepted count in %.100q", resp.String())
	}
	return res.StatusCode, *answer.Accepted, nil
}

// printProgress prints a line to lg.progress every 2 s until done is closed.
func (lg *runner) printProgress(done <-chan struct{}, start time.Time) {
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	last, lastAt := int64(0), start
	for {
		select {
		case <-done:
			return
		case now := <-ticker.C:
			acked := lg.acked.Load()
			rate := float64(acked-last) / now.Sub(lastAt).Seconds()
			fmt.Fprintf(lg.progress, "loadgen: %5.1fs  %10.0f events/s  sent=%d acked=%d failed=%d\n",
				now.Sub(start).Seconds(), rate, lg.sent.Load(), acked, lg.failed.Load())
			last, lastAt = acked, now
		}
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method, or 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// LatencyReport is the distribution of a set of durations, in milliseconds.
type LatencyReport struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// newLatencyReport sorts d in place and summarises it.
func newLatencyReport(d []time.Duration) LatencyReport {
	slices.Sort(d)
	return LatencyReport{
		Count: len(d),
		P50:   roundMS(percentile(d, 50)),
		P95:   roundMS(percentile(d, 95)),
		P99:   roundMS(percentile(d, 99)),
		Max:   roundMS(percentile(d, 100)),
	}
}

// roundMS returns d in milliseconds with 2 decimals.
func roundMS(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*100) / 100
}

// Report is the final report of a run.
type Report struct {
	RunID          string           `json:"run_id"`
	URL            string           `json:"url"`
	Mode           string           `json:"mode"`
	BatchSize      int              `json:"batch_size,omitempty"`
	Connections    int              `json:"connections"`
	TargetRate     float64          `json:"target_rate"`
	Duration       float64          `json:"duration_s"`
	Interrupted    bool             `json:"interrupted"`
	Requests       int64            `json:"requests"`
	Sent           int64            `json:"sent"`
	Acked          int64            `json:"acked"`
	Failed         int64            `json:"failed"`
	Rejected       int64            `json:"rejected"`
	StatusCodes    map[string]int64 `json:"status_codes"`
	TransportErrs  int64            `json:"transport_errors"`
	FirstError     string           `json:"first_error,omitempty"`
	EventsPerSec   float64          `json:"acked_events_per_s"`
	RequestsPerSec float64          `json:"requests_per_s"`
	Latency        LatencyReport    `json:"latency_ms"`
	Lag            *LagReport       `json:"lag_ms,omitempty"`
}

// report gathers the counters after the workers have stopped.
func (lg *runner) report(elapsed time.Duration, interrupted bool, lag *LagReport) *Report {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	r := &Report{
		RunID:         lg.runID,
		URL:           lg.cfg.URL,
		Mode:          lg.cfg.Mode,
		Connections:   lg.cfg.Connections,
		TargetRate:    lg.cfg.Rate,
		Duration:      math.Round(elapsed.Seconds()*1000) / 1000,
		Interrupted:   interrupted,
		Requests:      lg.requests.Load(),
		Sent:          lg.sent.Load(),
		Acked:         lg.acked.Load(),
		Failed:        lg.failed.Load(),
		Rejected:      lg.rejected.Load(),
		StatusCodes:   lg.codes,
		TransportErrs: lg.transportErrs,
		FirstError:    lg.firstErr,
		Latency:       newLatencyReport(lg.latencies),
		Lag:           lag,
	}
	if lg.cfg.Mode == "batch" {
		r.BatchSize = lg.cfg.BatchSize
	}
	if s := elapsed.Seconds(); s > 0 {
		r.EventsPerSec = math.Round(float64(r.Acked)/s*100) / 100
		r.RequestsPerSec = math.Round(float64(r.Requests)/s*100) / 100
	}
	return r
}

// Write prints the report as text or as one JSON object.
func (r *Report) Write(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	var b strings.Builder
	mode := r.Mode
	if r.BatchSize > 0 {
		mode += fmt.Sprintf(" (batch size %d)", r.BatchSize)
	}
	fmt.Fprintf(&b, "run          %s\n", r.RunID)
	fmt.Fprintf(&b, "url          %s\n", r.URL)
	fmt.Fprintf(&b, "mode         %s\n", mode)
	fmt.Fprintf(&b, "connections  %d\n", r.Connections)
	if r.TargetRate > 0 {
		fmt.Fprintf(&b, "target rate  %.2f events/s\n", r.TargetRate)
	}
	fmt.Fprintf(&b, "duration     %.3fs", r.Duration)
	if r.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "requests     %d\n", r.Requests)
	fmt.Fprintf(&b, "sent         %d events\n", r.Sent)
	fmt.Fprintf(&b, "acked        %d\n", r.Acked)
	fmt.Fprintf(&b, "failed       %d\n", r.Failed)
	if r.Rejected > 0 {
		fmt.Fprintf(&b, "rejected     %d (in 2xx batch answers)\n", r.Rejected)
	}
	codes := make([]string, 0, len(r.StatusCodes))
	for c := range r.StatusCodes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	b.WriteString("status codes")
	for _, c := range codes {
		fmt.Fprintf(&b, " %s=%d", c, r.StatusCodes[c])
	}
	if r.TransportErrs > 0 {
		fmt.Fprintf(&b, " transport_error=%d", r.TransportErrs)
	}
	b.WriteString("\n")
	if r.FirstError != "" {
		fmt.Fprintf(&b, "first error  %s\n", r.FirstError)
	}
	fmt.Fprintf(&b, "throughput   %.2f acked events/s, %.2f requests/s\n", r.EventsPerSec, r.RequestsPerSec)
	fmt.Fprintf(&b, "latency ms   p50=%.2f p95=%.2f p99=%.2f max=%.2f (%d requests)\n",
		r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.Latency.Count)
	if l := r.Lag; l != nil {
		fmt.Fprintf(&b, "lag ms       ack -> row in SQLite: p50=%.2f p95=%.2f p99=%.2f max=%.2f (%d samples)\n",
			l.P50, l.P95, l.P99, l.Max, l.Count)
		fmt.Fprintf(&b, "rows         %d of %d acked visible after waiting %.2f ms", l.Rows, l.Acked, l.Waited)
		if l.Missing > 0 {
			fmt.Fprintf(&b, ", %d ack samples never matched", l.Missing)
		}
		if l.PollErrors > 0 {
			fmt.Fprintf(&b, ", %d poll errors", l.PollErrors)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
