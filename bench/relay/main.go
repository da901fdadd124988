// Command relay measures the local relay for bench/relay.sh.
//
//	go run ./bench/relay latency --relay URL --server URL --hook-bin PATH
//	go run ./bench/relay load --relay URL --rate 1000 --duration 60s --prefix run1
//	go run ./bench/relay count --db trackskills.db --prefix run1 --want N
//
// latency times one Claude Code hook call, as Claude Code pays it, three
// ways in the same run: an HTTP hook to the relay, the command hook (the
// trackskills-hook process, start to exit), and an HTTP hook straight to
// the server; HTTP both on a kept-alive connection and on a new one per
// call. load sends hook calls to the relay at a fixed rate (open loop) and
// prints how many were answered 200 and the answer times. count checks
// that the server stored each answered call exactly once.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackskills/trackskills/sql"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: relay latency|load|count [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "latency":
		err = latency(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "count":
		err = count(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

// call is the PostToolUse hook body of call i of a run.
func call(prefix string, i int) []byte {
	return fmt.Appendf(nil, `{"session_id":"bench-relay","hook_event_name":"PostToolUse","tool_name":"Bash",`+
		`"cwd":"/home/dev/acme","permission_mode":"default","tool_input":{"command":"go test ./...","description":"Run the tests"},`+
		`"tool_response":{"stdout":"ok  \tacme/pkg\t0.412s\n","stderr":"","interrupted":false},`+
		`"tool_use_id":"toolu_%s_%07d","duration_ms":1874}`, prefix, i)
}

func post(c *http.Client, url string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, url+"/api/hooks/claude-code", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Trackskills-User", "bench")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// percentiles formats the p50, p99 and max of ds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	slices.Sort(ds)
	p := func(q float64) float64 { return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))]) / 1e6 }
	return fmt.Sprintf("p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  (n=%d)", p(0.50), p(0.99), float64(ds[len(ds)-1])/1e6, len(ds))
}

func latency(args []string) error {
	f := flag.NewFlagSet("latency", flag.ExitOnError)
	relay := f.String("relay", "", "the relay's base URL")
	server := f.String("server", "", "the server's base URL")
	hookBin := f.String("hook-bin", "", "the trackskills-hook binary")
	n := f.Int("n", 2000, "calls per HTTP line")
	procs := f.Int("procs", 300, "calls of the command hook")
	_ = f.Parse(args)
	// The floor: a loopback HTTP server that answers {} and does nothing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	floor := "http://" + ln.Addr().String()
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = w.Write([]byte("{}"))
		}))
	}()
	keep := &http.Client{Timeout: 5 * time.Second}
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	lines := []struct {
		name string
		run  func(i int) error
		n    int
	}{
		{"floor: loopback HTTP, empty handler (kept-alive)", func(i int) error { return post(keep, floor, call("floor", i)) }, *n},
		{"floor: loopback HTTP, empty handler (new conn.)", func(i int) error { return post(fresh, floor, call("floor", i)) }, *n},
		{"HTTP hook -> relay (kept-alive connection)", func(i int) error { return post(keep, *relay, call("lat-rk", i)) }, *n},
		{"HTTP hook -> relay (new connection a call)", func(i int) error { return post(fresh, *relay, call("lat-rf", i)) }, *n},
		{"command hook: trackskills-hook process", func(i int) error {
			cmd := exec.Command(*hookBin)
			cmd.Env = append(os.Environ(), "TRACKSKILLS_URL="+*server)
			cmd.Stdin = bytes.NewReader(call("lat-cmd", i))
			return cmd.Run()
		}, *procs},
		{"HTTP hook -> server (kept-alive connection)", func(i int) error { return post(keep, *server, call("lat-sk", i)) }, *n},
		{"HTTP hook -> server (new connection a call)", func(i int) error { return post(fresh, *server, call("lat-sf", i)) }, *n},
	}
	for _, l := range lines {
		for i := range 20 { // warm up
			_ = l.run(1_000_000 + i)
		}
		ds := make([]time.Duration, 0, l.n)
		for i := range l.n {
			start := time.Now()
			if err := l.run(i); err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			ds = append(ds, time.Since(start))
		}
		fmt.Printf("%-50s %s\n", l.name, percentiles(ds))
	}
	return nil
}

func load(args []string) error {
	f := flag.NewFlagSet("load", flag.ExitOnError)
	relay := f.String("relay", "", "the relay's base URL")
	rate := f.Int("rate", 1000, "hook calls a second")
	duration := f.Duration("duration", 60*time.Second, "how long")
	prefix := f.String("prefix", "load", "the run's tag, in every tool_use_id")
	_ = f.Parse(args)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var ds []time.Duration
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	interval := time.Second / time.Duration(*rate)
	start := time.Now()
	for i := 0; ctx.Err() == nil; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t := time.Now()
			err := post(client, *relay, call(*prefix, i))
			d := time.Since(t)
			if err != nil {
				failed.Add(1)
				return
			}
			ok.Add(1)
			mu.Lock()
			ds = append(ds, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("sent %d calls in %s (%.0f/s): %d answered 200, %d failed\n", ok.Load()+failed.Load(),
		elapsed.Round(time.Millisecond), float64(ok.Load()+failed.Load())/elapsed.Seconds(), ok.Load(), failed.Load())
	fmt.Printf("answer times: %s\n", percentiles(ds))
	fmt.Printf("answered=%d\n", ok.Load())
	return nil
}

func count(args []string) error {
	f := flag.NewFlagSet("count", flag.ExitOnError)
	path := f.String("db", "", "the server's database")
	prefix := f.String("prefix", "load", "the run's tag")
	want := f.Int("want", -1, "how many calls were answered")
	_ = f.Parse(args)
	db, err := sql.OpenReadOnly(context.Background(), *path)
	if err != nil {
		return err
	}
	defer db.Close()
	evs, err := db.Events(context.Background())
	if err != nil {
		return err
	}
	seen := map[string]int{}
	for _, ev := range evs {
		if strings.HasPrefix(ev.EventID, "toolu_"+*prefix+"_") {
			seen[ev.EventID]++
		}
	}
	twice := 0
	for _, n := range seen {
		if n > 1 {
			twice++
		}
	}
	fmt.Printf("stored %d distinct calls of run %s, %d more than once; %d answered\n", len(seen), *prefix, twice, *want)
	if twice > 0 || *want >= 0 && len(seen) != *want {
		return fmt.Errorf("stored %d (%d twice), want %d each once", len(seen), twice, *want)
	}
	return nil
}
