package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// browserCase is one request of a browser, or of a client that is none,
// and the status it must get.
type browserCase struct {
	name   string
	method string
	path   string
	host   string   // the Host header; empty: the server's address
	header []string // name, value pairs
	want   int
	hint   string // what a refusal must name
}

// runBrowserCases sends every case to the server at addr over HTTP.
func runBrowserCases(t *testing.T, addr string, cases []browserCase) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.method == http.MethodPost {
				body = strings.NewReader(`{"tool_name":"browser_probe","status":"success"}`)
			} else {
				body = strings.NewReader("")
			}
			req, err := http.NewRequest(tc.method, "http://"+addr+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			req.Header.Set("Content-Type", "text/plain")
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Error string `json:"error"`
			}
			if resp.StatusCode >= 400 {
				_ = json.NewDecoder(resp.Body).Decode(&out) // an empty error fails below
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s (Host %q): status=%d, want %d (%s)", tc.method, tc.path, tc.host, resp.StatusCode, tc.want, out.Error)
			}
			if tc.hint != "" && !strings.Contains(out.Error, tc.hint) {
				t.Errorf("refusal %q does not name %q", out.Error, tc.hint)
			}
		})
	}
}

// hostCases are the Host checks of a server on loopback with the public
// host dash.example.com, on one path of each kind.
func hostCases(paths map[string]string) []browserCase {
	var cases []browserCase
	for name, path := range paths {
		method := http.MethodGet
		if strings.HasPrefix(path, "/api/") {
			method = http.MethodPost
		}
		cases = append(cases,
			browserCase{name: name + "/Loopback", method: method, path: path, want: http.StatusOK},
			browserCase{name: name + "/Localhost", method: method, path: path, host: "localhost:8080", want: http.StatusOK},
			browserCase{name: name + "/IPv6Loopback", method: method, path: path, host: "[::1]:8080", want: http.StatusOK},
			browserCase{name: name + "/PublicHost", method: method, path: path, host: "Dash.Example.com", want: http.StatusOK},
			browserCase{name: name + "/ErrRebound", method: method, path: path, host: "rebind.attacker.example:8080", want: http.StatusForbidden, hint: "--public-host"},
		)
	}
	return cases
}

// crossOriginCases are the Origin checks of the ingest routes of a server
// without ingest keys.
func crossOriginCases() []browserCase {
	const attacker = "https://attacker.example"
	return []browserCase{
		{name: "Curl", method: http.MethodPost, path: "/api/track", want: http.StatusOK},
		{name: "SameOriginPage", method: http.MethodPost, path: "/api/track", header: []string{"Sec-Fetch-Site", "same-origin"}, want: http.StatusOK},
		{name: "ErrCrossSitePage", method: http.MethodPost, path: "/api/track", header: []string{"Sec-Fetch-Site", "cross-site", "Origin", attacker}, want: http.StatusForbidden, hint: "--ingest-keys"},
		{name: "ErrCrossSiteBatch", method: http.MethodPost, path: "/api/track/batch", header: []string{"Sec-Fetch-Site", "cross-site", "Origin", attacker}, want: http.StatusForbidden, hint: "--ingest-keys"},
		{name: "ErrOldBrowser", method: http.MethodPost, path: "/api/track", header: []string{"Origin", attacker}, want: http.StatusForbidden, hint: "--ingest-keys"},
	}
}

// Ensure serve on loopback answers its loopback names and --public-host
// on every route (ingest, analytics, the dashboard, health), refuses any
// other Host, and refuses cross-origin browser posts while it has no
// ingest keys.
func TestServe_BrowsersAndHosts(t *testing.T) {
	t.Parallel()
	o := serveOptions(t)
	o.publicHosts = []string{"dash.example.com"}
	app := mustStartServe(t, o)
	addr := strings.TrimPrefix(app.URL(), "http://")
	runBrowserCases(t, addr, hostCases(map[string]string{
		"Track": "/api/track", "Summary": "/analytics/summary", "Dashboard": "/", "Healthz": "/healthz",
	}))
	runBrowserCases(t, addr, append(crossOriginCases(),
		browserCase{name: "DashboardFetch", method: http.MethodGet, path: "/analytics/summary", header: []string{"Sec-Fetch-Site", "same-origin"}, want: http.StatusOK},
	))
}

// Ensure serve bound beyond loopback checks no Host unless --public-host
// is given.
func TestServe_HostsBeyondLoopback(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		public []string
		want   int
	}{{"NoPublicHost", nil, http.StatusOK}, {"PublicHost", []string{"dash.example.com"}, http.StatusForbidden}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := serveOptions(t)
			o.httpAddr, o.ingestKeys, o.readKeys, o.publicHosts = "0.0.0.0:0", "an-ingest-key", "a-read-key", tt.public
			app := mustStartServe(t, o)
			port := app.URL()[strings.LastIndex(app.URL(), ":")+1:]
			runBrowserCases(t, "127.0.0.1:"+port, []browserCase{
				{name: "OtherHost", method: http.MethodGet, path: "/healthz", host: "other.example", want: tt.want},
				{name: "Loopback", method: http.MethodGet, path: "/healthz", want: http.StatusOK},
			})
		})
	}
}

// startInProcess runs the subcommand args in this process until the test
// ends, and waits until it answers /healthz at addr.
func startInProcess(t *testing.T, addr string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs testkit.LockedBuffer
	go func() { done <- run(ctx, args, func(string) string { return "" }, &logs, &logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v\n%s", args[0], err, logs.String())
		}
	})
	testkit.WaitHTTP(t, "http://"+addr+"/healthz", 30*time.Second)
}

// Ensure ingest and analytics run alone make the same checks as serve.
func TestProcfile_BrowsersAndHosts(t *testing.T) {
	t.Parallel()
	t.Run("Ingest", func(t *testing.T) {
		t.Parallel()
		ns := testkit.MustRunNATS(t)
		addr := testkit.MustFreeAddr(t)
		startInProcess(t, addr, "ingest", "--data-dir", t.TempDir(), "--http-addr", addr, "--nats-url", ns.ClientURL(),
			"--public-host", "dash.example.com", "--log-level", "error")
		runBrowserCases(t, addr, hostCases(map[string]string{"Track": "/api/track", "Readyz": "/readyz"}))
		runBrowserCases(t, addr, crossOriginCases())
	})
	t.Run("Analytics", func(t *testing.T) {
		t.Parallel()
		path := testkit.MustOpenDB(t).Path()
		addr := testkit.MustFreeAddr(t)
		startInProcess(t, addr, "analytics", "--db", path, "--http-addr", addr, "--nats-url=",
			"--public-host", "dash.example.com", "--log-level", "error")
		runBrowserCases(t, addr, hostCases(map[string]string{"Summary": "/analytics/summary", "Dashboard": "/", "Healthz": "/healthz"}))
	})
}

// Ensure serve reads its @file keys again on SIGHUP: the new ingest and
// read keys work, the old ones are refused, a file left empty changes
// nothing, and serve keeps running throughout.
func TestServe_KeyRotationOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	t.Parallel()
	dir := t.TempDir()
	ingestFile, readFile := filepath.Join(dir, "ingest.keys"), filepath.Join(dir, "read.keys")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(ingestFile, "old-ingest-key\n")
	write(readFile, "old-read-key\n")
	httpAddr := testkit.MustFreeAddr(t)
	p := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", testkit.MustFreeAddr(t),
		"--ingest-keys", "@"+ingestFile, "--read-keys", "@"+readFile)
	mustWaitReady(t, p, httpAddr)
	client := &http.Client{Timeout: 10 * time.Second}
	status := func(ingestKey, readKey string) (post, get int) {
		t.Helper()
		code, err := testkit.PostJSON(client, "http://"+httpAddr+"/api/track", []byte(`{"tool_name":"rotated","status":"success"}`),
			map[string]string{"Authorization": "Bearer " + ingestKey}, nil)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/analytics/summary", nil)
		req.Header.Set("X-Api-Key", readKey)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return code, resp.StatusCode
	}
	hangup := func() {
		t.Helper()
		if err := syscall.Kill(p.PID(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	if post, get := status("old-ingest-key", "old-read-key"); post != http.StatusOK || get != http.StatusOK {
		t.Fatalf("old keys before the rotation: %d %d, want 200 200", post, get)
	}

	write(ingestFile, "new-ingest-key\n")
	write(readFile, "new-read-key\n")
	hangup()
	testkit.Eventually(t, 10*time.Second, func() error {
		if post, get := status("new-ingest-key", "new-read-key"); post != http.StatusOK || get != http.StatusOK {
			return fmt.Errorf("new keys after SIGHUP: %d %d, want 200 200", post, get)
		}
		return nil
	})
	if post, get := status("old-ingest-key", "old-read-key"); post != http.StatusUnauthorized || get != http.StatusUnauthorized {
		t.Errorf("old keys after the rotation: %d %d, want 401 401", post, get)
	}

	write(ingestFile, "\n")
	hangup()
	testkit.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(p.Logs(), "keys in use stay") {
			return fmt.Errorf("no log line about the empty key file")
		}
		return nil
	})
	if post, get := status("new-ingest-key", "new-read-key"); post != http.StatusOK || get != http.StatusOK {
		t.Errorf("after an empty key file: %d %d, want the keys in use kept (200 200)", post, get)
	}
	if post, _ := status("", "new-read-key"); post != http.StatusUnauthorized {
		t.Errorf("no key after an empty key file: %d, want 401", post)
	}
	select {
	case <-p.Exited():
		t.Fatalf("serve exited on SIGHUP:\n%s", p.Logs())
	default:
	}
	if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Errorf("serve: %v", err)
	}
}
