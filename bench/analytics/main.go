// Command analytics measures the analytics API against the seed's way of
// answering the same question (a query over the raw table), for
// bench/analytics.sh. Each mode appends one JSON object a line to --out.
//
//	analytics http   --name summary --url 'http://127.0.0.1:8080/analytics/summary?days=30' --out r.jsonl
//	analytics raw    --name summary --db data/trackskills.db --days 30 --out r.jsonl
//	analytics report r.jsonl
//
// http: warm-up requests, then up to --n sequential GETs (or --duration),
// then up to --n GETs from --concurrency workers; latency percentiles of
// each phase. raw: the seed's query on the SQLite file, once to warm the
// cache, then --runs timed runs. report: the table of both, per endpoint.
package main

import (
	"bufio"
	"context"
	dbsql "database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // driver "sqlite3"
)

// result is one line of the results file.
type result struct {
	Mode string `json:"mode"` // http or raw
	Name string `json:"name"`

	// http
	URL         string  `json:"url,omitempty"`
	SeqN        int     `json:"seq_n,omitempty"`
	SeqP50      float64 `json:"seq_p50_ms,omitempty"`
	SeqP95      float64 `json:"seq_p95_ms,omitempty"`
	SeqP99      float64 `json:"seq_p99_ms,omitempty"`
	SeqMax      float64 `json:"seq_max_ms,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	ConcN       int     `json:"conc_n,omitempty"`
	ConcRPS     float64 `json:"conc_rps,omitempty"`
	ConcP50     float64 `json:"conc_p50_ms,omitempty"`
	ConcP95     float64 `json:"conc_p95_ms,omitempty"`
	ConcP99     float64 `json:"conc_p99_ms,omitempty"`
	Errors      int64   `json:"errors,omitempty"`
	Bytes       int     `json:"response_bytes,omitempty"`

	// raw
	Query    string    `json:"query,omitempty"`
	RunsMs   []float64 `json:"runs_ms,omitempty"`
	MedianMs float64   `json:"median_ms,omitempty"`
	MinMs    float64   `json:"min_ms,omitempty"`
	Rows     int       `json:"rows,omitempty"`
	First    []string  `json:"first_row,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: analytics http|raw|report [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "http":
		err = runHTTP(os.Args[2:])
	case "raw":
		err = runRaw(os.Args[2:])
	case "report":
		err = runReport(os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("unknown mode %q: want http, raw or report", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "analytics: %v\n", err)
		os.Exit(1)
	}
}

func appendResult(path string, r result) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(f).Encode(r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// pctl returns the q-quantile (nearest rank) of sorted durations.
func pctl(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func runHTTP(args []string) error {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	name := fs.String("name", "", "endpoint name for the report")
	url := fs.String("url", "", "URL to GET")
	n := fs.Int("n", 2000, "requests per phase at most")
	dur := fs.Duration("duration", 20*time.Second, "time per phase at most")
	conc := fs.Int("concurrency", 4, "workers of the concurrent phase")
	warm := fs.Int("warmup", 20, "warm-up requests, not measured")
	out := fs.String("out", "", "results file (JSON lines)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conc, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	get := func() (int, error) {
		resp, err := client.Get(*url)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.Copy(io.Discard, resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", *url, resp.Status)
		}
		return int(b), err
	}
	r := result{Mode: "http", Name: *name, URL: *url, Concurrency: *conc}
	for range *warm {
		b, err := get()
		if err != nil {
			return err
		}
		r.Bytes = b
	}

	var errs atomic.Int64
	var seq []time.Duration
	deadline := time.Now().Add(*dur)
	for len(seq) < *n && time.Now().Before(deadline) {
		t0 := time.Now()
		if _, err := get(); err != nil {
			errs.Add(1)
		}
		seq = append(seq, time.Since(t0))
	}
	slices.Sort(seq)
	r.SeqN, r.SeqP50, r.SeqP95, r.SeqP99, r.SeqMax = len(seq), ms(pctl(seq, .5)), ms(pctl(seq, .95)), ms(pctl(seq, .99)), ms(seq[len(seq)-1])

	var mu sync.Mutex
	var all []time.Duration
	var claimed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline = start.Add(*dur)
	for range *conc {
		wg.Go(func() {
			var mine []time.Duration
			for claimed.Add(1) <= int64(*n) && time.Now().Before(deadline) {
				t0 := time.Now()
				if _, err := get(); err != nil {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	r.ConcN, r.ConcRPS = len(all), math.Round(float64(len(all))/elapsed.Seconds())
	r.ConcP50, r.ConcP95, r.ConcP99 = ms(pctl(all, .5)), ms(pctl(all, .95)), ms(pctl(all, .99))
	r.Errors = errs.Load()
	fmt.Printf("%-12s sequential: n=%d p50=%.2fms p95=%.2fms p99=%.2fms max=%.2fms | %d workers: n=%d %.0f req/s p50=%.2fms p99=%.2fms | errors=%d, %d bytes\n",
		r.Name, r.SeqN, r.SeqP50, r.SeqP95, r.SeqP99, r.SeqMax, r.Concurrency, r.ConcN, r.ConcRPS, r.ConcP50, r.ConcP99, r.Errors, r.Bytes)
	if *out != "" {
		return appendResult(*out, r)
	}
	return nil
}

// rawQueries are the seed's way to answer each endpoint: one query (or
// two) over skill_usage_events. ?1 is the window's start, ?2 its end
// (Unix ms), ?3 the start of the last 7 days, ?4 a tool name.
var rawQueries = map[string][]string{
	"summary": {`SELECT COUNT(*), COUNT(DISTINCT user_id_hash), AVG(duration_ms), SUM(status = 'success'), SUM(status = 'error')
		FROM skill_usage_events WHERE timestamp >= ?1 AND timestamp < ?2`},
	"tools": {`SELECT tool_name, COUNT(*) AS count, AVG(duration_ms), SUM(status = 'success'), SUM(status = 'error')
		FROM skill_usage_events WHERE timestamp >= ?1 AND timestamp < ?2 GROUP BY tool_name ORDER BY count DESC`},
	"retention": {
		`SELECT date(timestamp / 1000, 'unixepoch') AS day, COUNT(DISTINCT user_id_hash)
		FROM skill_usage_events WHERE timestamp >= ?1 AND timestamp < ?2 GROUP BY day ORDER BY day DESC`,
		`SELECT COUNT(DISTINCT user_id_hash) FROM skill_usage_events WHERE timestamp >= ?3 AND timestamp < ?2`,
	},
	"errors": {`SELECT timestamp, tool_name, error_type, error_message, duration_ms, status
		FROM skill_usage_events WHERE status <> 'success' AND timestamp >= ?1 AND timestamp < ?2
		ORDER BY timestamp DESC LIMIT 50`},
	"timeseries": {`SELECT date(timestamp / 1000, 'unixepoch') AS day, COUNT(*), SUM(status = 'error'), AVG(duration_ms)
		FROM skill_usage_events WHERE timestamp >= ?1 AND timestamp < ?2 GROUP BY day ORDER BY day`},
	"categories": {`SELECT tool_category, COUNT(*) AS count, COUNT(DISTINCT user_id_hash), AVG(duration_ms),
		SUM(status = 'success'), SUM(status = 'error')
		FROM skill_usage_events WHERE timestamp >= ?1 AND timestamp < ?2 GROUP BY tool_category ORDER BY count DESC`},
	"cohorts": {`WITH active AS (
			SELECT user_id_hash AS u, timestamp / 604800000 AS week FROM skill_usage_events
			WHERE timestamp >= ?1 AND timestamp < ?2 GROUP BY u, week),
		first AS (SELECT u, MIN(week) AS w0 FROM active GROUP BY u)
		SELECT w0, week - w0, COUNT(*) FROM active JOIN first USING (u) GROUP BY w0, week - w0 ORDER BY 1, 2`},
	"tool": {
		`SELECT COUNT(*), COUNT(DISTINCT user_id_hash), AVG(duration_ms), SUM(status = 'success'), SUM(status = 'error')
		FROM skill_usage_events WHERE tool_name = ?4 AND timestamp >= ?1 AND timestamp < ?2`,
		`SELECT error_type, COUNT(*) FROM skill_usage_events
		WHERE tool_name = ?4 AND status <> 'success' AND timestamp >= ?1 AND timestamp < ?2 GROUP BY error_type`,
		`SELECT date(timestamp / 1000, 'unixepoch') AS day, COUNT(*) FROM skill_usage_events
		WHERE tool_name = ?4 AND timestamp >= ?1 AND timestamp < ?2 GROUP BY day`,
	},
}

func runRaw(args []string) error {
	fs := flag.NewFlagSet("raw", flag.ContinueOnError)
	name := fs.String("name", "", "endpoint whose answer to compute: "+strings.Join(slices.Sorted(maps.Keys(rawQueries)), ", "))
	path := fs.String("db", "", "SQLite file")
	days := fs.Int("days", 30, "window in UTC days ending today, as the API's days=N")
	runs := fs.Int("runs", 5, "timed runs after one warm-up run")
	tool := fs.String("tool", "", "tool name, for --name tool")
	out := fs.String("out", "", "results file (JSON lines)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	queries, ok := rawQueries[*name]
	if !ok {
		return fmt.Errorf("no raw query for %q", *name)
	}
	db, err := dbsql.Open("sqlite3", "file:"+*path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	now := time.Now().UTC()
	from := now.Truncate(24*time.Hour).AddDate(0, 0, -(*days - 1)).UnixMilli()
	week := now.Truncate(24*time.Hour).AddDate(0, 0, -6).UnixMilli()
	params := []any{from, now.UnixMilli() + 1, week, *tool}

	r := result{Mode: "raw", Name: *name, Query: strings.Join(queries, ";\n")}
	var times []float64
	for i := range *runs + 1 {
		t0 := time.Now()
		rows, first := 0, []string(nil)
		for _, q := range queries {
			n, f, err := runQuery(db, q, params)
			if err != nil {
				return fmt.Errorf("%s: %w", *name, err)
			}
			rows += n
			if first == nil {
				first = f
			}
		}
		d := ms(time.Since(t0))
		fmt.Fprintf(os.Stderr, "raw %s run %d: %.1f ms, %d rows\n", *name, i, d, rows)
		if i > 0 {
			times = append(times, d)
		}
		r.Rows, r.First = rows, first
	}
	r.RunsMs = times
	sorted := slices.Sorted(slices.Values(times))
	r.MedianMs, r.MinMs = sorted[len(sorted)/2], sorted[0]
	fmt.Printf("%-12s raw query: median %.1f ms, min %.1f ms over %d runs, first row %v\n", r.Name, r.MedianMs, r.MinMs, len(times), r.First)
	if *out != "" {
		return appendResult(*out, r)
	}
	return nil
}

// runQuery reads every row; it returns the count and the first row.
func runQuery(db *dbsql.DB, q string, params []any) (int, []string, error) {
	// SQLite counts parameters up to the largest ?N a query names; pass
	// exactly that many.
	var args []any
	for i := range params {
		if strings.Contains(q, fmt.Sprintf("?%d", i+1)) {
			args = params[:i+1]
		}
	}
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, nil, err
	}
	vals := make([]dbsql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	var first []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, nil, err
		}
		if n == 0 {
			for _, v := range vals {
				first = append(first, v.String)
			}
		}
		n++
	}
	return n, first, rows.Err()
}

func runReport(args []string, w io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: analytics report <results.jsonl>")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	var order []string
	httpR, rawR := map[string]result{}, map[string]result{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return err
		}
		if r.Mode == "http" {
			if _, ok := httpR[r.Name]; !ok {
				order = append(order, r.Name)
			}
			httpR[r.Name] = r
		} else {
			rawR[r.Name] = r
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintln(w, "| endpoint (days=30) | HTTP p50 | p95 | p99 | max | concurrent: req/s (p99) | seed's raw query (median) | speed-up at p50 | at p99 | p99 < 50 ms | >= 50x at p99 |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, name := range order {
		h := httpR[name]
		raw, ok := rawR[name]
		rawS, s50, s99, met50x := "-", "-", "-", "-"
		if ok {
			rawS = fmt.Sprintf("%.1f ms", raw.MedianMs)
			s50 = fmt.Sprintf("%.1fx", raw.MedianMs/h.SeqP50)
			s99 = fmt.Sprintf("%.1fx", raw.MedianMs/h.SeqP99)
			met50x = yesNo(raw.MedianMs/h.SeqP99 >= 50)
		}
		fmt.Fprintf(w, "| %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.0f (%.2f ms) | %s | %s | %s | %s | %s |\n",
			name, h.SeqP50, h.SeqP95, h.SeqP99, h.SeqMax, h.ConcRPS, h.ConcP99, rawS, s50, s99, yesNo(h.SeqP99 < 50), met50x)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}
