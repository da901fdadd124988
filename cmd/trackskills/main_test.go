package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
)

// e2eEvent builds the n-th event of the end-to-end test: every field set
// in some events, tool names with quotes and unicode, a pool of users.
func e2eEvent(n int) map[string]any {
	tools := []string{"Bash", "Read", "mcp__github__create_issue", `quote"d \ tool`, "résumé-skill ✓", "pdf-extract"}
	ev := map[string]any{
		"event_id":      fmt.Sprintf("e2e-%06d", n),
		"tool_name":     tools[n%len(tools)],
		"tool_category": []string{"builtin", "mcp", "skill"}[n%3],
		"status":        "success",
		"duration_ms":   n % 5000,
		"user_id":       fmt.Sprintf("user-%02d", n%37),
		"session_id":    fmt.Sprintf("session-%d", n%101),
		"timestamp":     time.Now().Add(-time.Duration(n%3600) * time.Second).UnixMilli(),
	}
	switch {
	case n%20 == 0:
		ev["status"], ev["error_type"], ev["error_message"] = "error", "exit_code_1", fmt.Sprintf("failed <b>%d</b>\n", n)
	case n%50 == 1:
		ev["status"] = "timeout"
	}
	if n%7 == 0 {
		ev["metadata"] = fmt.Sprintf(`{"params_count":%d,"k":"v"}`, n%9) // the seed sends a string
		ev["request_size_bytes"], ev["response_size_bytes"] = n, n*2
	}
	if n%11 == 0 {
		delete(ev, "user_id") // identity from IP and User-Agent
	}
	return ev
}

// Ensure 10,000 events sent through HTTP, one by one and in batches,
// become exactly 10,000 rows with their fields intact and consistent
// identity hashes.
func TestServe_EndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	app := mustStartServe(t, serveOptions(t))
	const total, singles, batchSize = 10000, 5000, 100
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 30 * time.Second}
	sent := make([]map[string]any, total)
	for i := range sent {
		sent[i] = e2eEvent(i)
	}

	var wg sync.WaitGroup
	var failures atomic.Int64
	next := atomic.Int64{}
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= singles {
					return
				}
				body, _ := json.Marshal(sent[i]) // a map of plain values always encodes
				var resp struct {
					Success bool   `json:"success"`
					Message string `json:"message"`
					EventID string `json:"event_id"`
				}
				code, err := testkit.PostJSON(client, app.URL()+"/api/track", body, map[string]string{"User-Agent": "e2e-agent"}, &resp)
				if err != nil || code != 200 || !resp.Success || resp.Message != "Event tracked" || resp.EventID != sent[i]["event_id"] {
					failures.Add(1)
					t.Errorf("event %d: code %d resp %+v err %v", i, code, resp, err)
				}
			}
		}()
	}
	for b := singles; b < total; b += batchSize {
		wg.Add(1)
		go func(b int) {
			defer wg.Done()
			body, _ := json.Marshal(sent[b : b+batchSize]) // plain values always encode
			var resp struct {
				Accepted int   `json:"accepted"`
				Rejected []any `json:"rejected"`
			}
			code, err := testkit.PostJSON(client, app.URL()+"/api/track/batch", body, map[string]string{"User-Agent": "e2e-agent"}, &resp)
			if err != nil || code != 200 || resp.Accepted != batchSize || len(resp.Rejected) != 0 {
				failures.Add(1)
				t.Errorf("batch %d: code %d resp %+v err %v", b, code, resp, err)
			}
		}(b)
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.FailNow()
	}

	ctx := context.Background()
	// Analytics reports every event once the consumer has stored it.
	testkit.Eventually(t, 20*time.Second, func() error { return summaryTotal(app.URL(), total) })
	testkit.Eventually(t, 20*time.Second, func() error {
		n, err := app.writer.DB().CountEvents(ctx)
		if err != nil || n != total {
			return fmt.Errorf("rows=%d, want %d (err %v)", n, total, err)
		}
		return nil
	})
	stored, err := app.writer.DB().Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(stored), total; got != want {
		t.Fatalf("rows=%d, want %d", got, want)
	}
	byID := map[string]trackskills.Event{}
	for _, ev := range stored {
		byID[ev.EventID] = ev
	}
	userHash := map[string]string{} // user_id -> hash
	hashUser := map[string]string{} // hash -> user_id
	for i, in := range sent {
		ev, ok := byID[in["event_id"].(string)]
		if !ok {
			t.Fatalf("event %d missing", i)
		}
		checkStored(t, i, in, ev)
		uid, _ := in["user_id"].(string)
		if uid == "" {
			uid = "ip+ua"
		}
		if h, ok := userHash[uid]; ok && h != ev.UserHash {
			t.Fatalf("user %s has two hashes %s and %s", uid, h, ev.UserHash)
		}
		if u, ok := hashUser[ev.UserHash]; ok && u != uid {
			t.Fatalf("users %s and %s share hash %s", u, uid, ev.UserHash)
		}
		userHash[uid], hashUser[ev.UserHash] = ev.UserHash, uid
	}
	if got, want := len(userHash), 38; got != want {
		t.Fatalf("distinct identities=%d, want %d", got, want)
	}
	st := app.writer.Consumer().Stats()
	t.Logf("consumer: %d batches, %d messages, %d inserted", st.Batches, st.Messages, st.Inserted)
}

// checkStored compares a sent event with its row.
func checkStored(t *testing.T, i int, in map[string]any, ev trackskills.Event) {
	t.Helper()
	str := func(k string) string { s, _ := in[k].(string); return s }
	num := func(k string) int64 {
		switch v := in[k].(type) {
		case int:
			return int64(v)
		case int64:
			return v
		}
		return -1
	}
	ptr := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	cat := str("tool_category")
	checks := []struct {
		name      string
		got, want any
	}{
		{"tool_name", ev.ToolName, str("tool_name")},
		{"tool_category", ev.ToolCategory, cat},
		{"status", ev.Status, str("status")},
		{"error_type", ev.ErrorType, str("error_type")},
		{"error_message", ev.ErrorMessage, str("error_message")},
		{"metadata", string(ev.Metadata), str("metadata")},
		{"duration_ms", ptr(ev.DurationMs), num("duration_ms")},
		{"request_size_bytes", ptr(ev.RequestSizeBytes), num("request_size_bytes")},
		{"response_size_bytes", ptr(ev.ResponseSizeBytes), num("response_size_bytes")},
		{"timestamp", ev.Timestamp, num("timestamp")},
		{"source", ev.Source, "api"},
		{"session_hash set", ev.SessionHash != "", true},
		{"stream_seq set", ev.StreamSeq > 0, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Fatalf("event %d %s=%v, want %v", i, c.name, c.got, c.want)
		}
	}
}

// procfileCommands reads the Procfile into name -> arguments.
func procfileCommands(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("../../Procfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, cmd, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("bad Procfile line %q", line)
		}
		fields := strings.Fields(cmd)
		if len(fields) < 2 || filepath.Base(fields[0]) != "trackskills" {
			t.Fatalf("Procfile line %q does not run trackskills", line)
		}
		out[name] = fields[1:]
	}
	return out
}

// Ensure the Procfile's processes, run as separate OS processes on free
// ports, carry events sent to ingest into SQLite, and stop cleanly.
func TestProcfile_SeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	procs := procfileCommands(t)
	for _, name := range []string{"nats", "ingest", "consumer", "analytics"} {
		if _, ok := procs[name]; !ok {
			t.Fatalf("Procfile has no %s process", name)
		}
	}
	dir := t.TempDir()
	natsAddr, httpAddr, analyticsAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	env := []string{
		"TRACKSKILLS_DATA_DIR=" + dir,
		"TRACKSKILLS_NATS_ADDR=" + natsAddr,
		"TRACKSKILLS_NATS_URL=nats://" + natsAddr,
		"TRACKSKILLS_HTTP_ADDR=" + httpAddr,
		"TRACKSKILLS_BATCH_WAIT=20ms",
	}
	// Start in the reverse order on purpose: consumer and ingest must
	// wait for NATS and the stream.
	running := map[string]*testkit.Process{}
	for _, name := range []string{"analytics", "consumer", "ingest", "nats"} {
		penv := env
		if name == "analytics" {
			penv = append(append([]string(nil), env...), "TRACKSKILLS_HTTP_ADDR="+analyticsAddr)
		}
		running[name] = startBinary(t, penv, procs[name]...)
	}
	mustWaitReady(t, running["ingest"], httpAddr)

	const n = 500
	client := &http.Client{Timeout: 10 * time.Second}
	var batch []map[string]any
	for i := 0; i < n; i++ {
		ev := e2eEvent(i)
		if i < n/2 {
			body, _ := json.Marshal(ev) // plain values always encode
			if code, err := testkit.PostJSON(client, "http://"+httpAddr+"/api/track", body, nil, nil); err != nil || code != 200 {
				t.Fatalf("event %d: %d %v", i, code, err)
			}
		} else {
			batch = append(batch, ev)
		}
	}
	body, _ := json.Marshal(batch) // plain values always encode
	if code, err := testkit.PostJSON(client, "http://"+httpAddr+"/api/track/batch", body, nil, nil); err != nil || code != 200 {
		t.Fatalf("batch: %d %v", code, err)
	}
	dbPath := filepath.Join(dir, "trackskills.db")
	testkit.Eventually(t, 20*time.Second, func() error {
		rows, distinct := countRows(t, dbPath)
		if rows != n || distinct != n {
			return fmt.Errorf("rows=%d distinct=%d, want %d", rows, distinct, n)
		}
		return nil
	})
	mustWaitReady(t, running["analytics"], analyticsAddr)
	testkit.Eventually(t, 10*time.Second, func() error { return summaryTotal("http://"+analyticsAddr, n) })
	for _, name := range []string{"ingest", "consumer", "analytics", "nats"} {
		if err := running[name].MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
			t.Fatalf("%s exit: %v\n%s", name, err, running[name].Logs())
		}
		if !strings.Contains(running[name].Logs(), "msg=stopped") {
			t.Fatalf("%s did not log a clean stop:\n%s", name, running[name].Logs())
		}
	}
}

// Ensure no raw identity (IP, User-Agent, user_id, session_id) is written
// anywhere in the data dir (stream files, SQLite) or in the logs.
func TestServe_Privacy(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	httpAddr := testkit.MustFreeAddr(t)
	p := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", testkit.MustFreeAddr(t),
		"--trusted-proxies", "127.0.0.1", "--log-level", "debug", "--batch-wait", "20ms")
	mustWaitReady(t, p, httpAddr)
	secrets := map[string]string{
		"ip":         "203.0.113.77",
		"user_agent": "PrivacyProbe/9.9 (secret-agent)",
		"user_id":    "alice.secret@example.com",
		"session_id": "session-secret-5678",
	}
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(ev map[string]any, want int) {
		body, _ := json.Marshal(ev) // plain values always encode
		code, err := testkit.PostJSON(client, "http://"+httpAddr+"/api/track", body,
			map[string]string{"User-Agent": secrets["user_agent"], "X-Forwarded-For": secrets["ip"]}, nil)
		if err != nil || code != want {
			t.Fatalf("send: %d %v, want %d", code, err, want)
		}
	}
	send(map[string]any{"tool_name": "privacy_probe_tool", "status": "success", "user_id": secrets["user_id"], "session_id": secrets["session_id"]}, 200)
	send(map[string]any{"tool_name": "privacy_probe_tool", "status": "error", "session_id": secrets["session_id"]}, 200) // IP + UA identity
	send(map[string]any{"tool_name": "bad", "status": "nope", "user_id": secrets["user_id"]}, 400)                       // a 400 is logged too
	testkit.Eventually(t, 10*time.Second, func() error {
		if rows, _ := countRows(t, filepath.Join(dir, "trackskills.db")); rows != 2 {
			return fmt.Errorf("rows=%d, want 2", rows)
		}
		return nil
	})
	if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("serve exit: %v", err)
	}

	// The scan must see the stream and the database: the tool name is
	// stored in the clear, so it must be found.
	sc := newSecretScan(t, "privacy_probe_tool", secrets)
	sc.dir(dir)
	sc.scan("logs", []byte(p.Logs()))
	var sawStream, sawDB bool
	for name := range sc.found {
		sawStream = sawStream || strings.Contains(name, string(filepath.Separator)+"nats"+string(filepath.Separator))
		sawDB = sawDB || strings.Contains(name, "trackskills.db")
	}
	if !sawStream || !sawDB {
		t.Fatalf("scan did not see the events in both the stream and the database: %v", sc.found)
	}
}

// Ensure that whatever way serve stops (SIGKILL mid-load, or SIGTERM),
// every event that got a 200 is in the database after a restart, once,
// and counted once in the aggregates: serve holds the rollups of the last
// 10 s, so the kill leaves events committed without them, which the
// restarted writer rolls up.
func TestServe_StopUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{{"SIGKILL", syscall.SIGKILL}, {"SIGTERM", syscall.SIGTERM}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			httpAddr, natsAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
			args := []string{"serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", natsAddr, "--batch-wait", "20ms",
				"--rollup-delay", "10s"}
			p := startBinary(t, nil, args...)
			mustWaitReady(t, p, httpAddr)

			var mu sync.Mutex
			acked := map[string]bool{}
			var sent atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			client := &http.Client{Timeout: 5 * time.Second}
			for w := 0; w < 16; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						id := fmt.Sprintf("w%02d-%06d", w, i)
						body := []byte(`{"tool_name":"load","status":"success","event_id":"` + id + `"}`)
						sent.Add(1)
						code, err := testkit.PostJSON(client, "http://"+httpAddr+"/api/track", body, nil, nil)
						if err == nil && code == 200 {
							mu.Lock()
							acked[id] = true
							mu.Unlock()
						} else if err != nil {
							return // the server is gone
						}
					}
				}(w)
			}
			testkit.Eventually(t, 10*time.Second, func() error {
				mu.Lock()
				defer mu.Unlock()
				if len(acked) < 2000 {
					return fmt.Errorf("acked %d", len(acked))
				}
				return nil
			})
			err := p.MustStop(t, tc.sig, stopTimeout)
			close(stop)
			wg.Wait()
			if tc.sig == syscall.SIGTERM && err != nil {
				t.Fatalf("serve exit after SIGTERM: %v", err)
			}

			// Restart: the consumer resumes from its durable position.
			p2 := startBinary(t, nil, args...)
			mustWaitReady(t, p2, httpAddr)
			dbPath := filepath.Join(dir, "trackskills.db")
			mu.Lock()
			want := len(acked)
			mu.Unlock()
			testkit.Eventually(t, 30*time.Second, func() error {
				rows, distinct := countRows(t, dbPath)
				if rows != distinct {
					return fmt.Errorf("rows=%d distinct=%d: duplicates", rows, distinct)
				}
				if rows < int64(want) {
					return fmt.Errorf("rows=%d, acked %d", rows, want)
				}
				return nil
			})
			// Events published without their 200 reaching the client (in
			// flight at the stop) are stored too, maybe after the acked
			// ones: the count is read once the stream is drained.
			waitConsumed(t, natsAdminURL(t, dir, "nats://"+natsAddr))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			stored := storedIDs(ctx, t, dbPath)
			for id := range acked {
				if !stored[id] {
					t.Fatalf("acknowledged event %s lost", id)
				}
			}
			t.Logf("sent %d, acked %d, stored %d", sent.Load(), want, len(stored))
			testkit.WaitRolledUp(t, dbPath, 30*time.Second)
			if err := summaryTotal("http://"+httpAddr, len(stored)); err != nil {
				t.Errorf("aggregates after the restart: %v", err)
			}
			if err := p2.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
				t.Fatalf("restarted serve exit: %v", err)
			}
		})
	}
}

func storedIDs(ctx context.Context, t *testing.T, path string) map[string]bool {
	t.Helper()
	evs := readEvents(ctx, t, path)
	out := make(map[string]bool, len(evs))
	for _, ev := range evs {
		out[ev.EventID] = true
	}
	return out
}

// Ensure a server bound beyond loopback refuses to run without keys unless
// told explicitly, and the --help of every subcommand works.
func TestRun_Flags(t *testing.T) {
	env := func(string) string { return "" }
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"OpenWithoutKeys", []string{"serve", "--http-addr", "0.0.0.0:0"}, "no ingest keys"},
		{"OpenNATS", []string{"serve", "--nats-addr", "0.0.0.0:0", "--ingest-keys", "k"}, "allow-remote-nats"},
		{"BadLogLevel", []string{"serve", "--log-level", "loud"}, "log level"},
		{"Unknown", []string{"frobnicate"}, "usage"},
		{"HelpServe", []string{"serve", "--help"}, ""},
		{"HelpNATS", []string{"nats", "--help"}, ""},
		{"HelpIngest", []string{"ingest", "--help"}, ""},
		{"HelpConsumer", []string{"consumer", "--help"}, ""},
		{"HelpAnalytics", []string{"analytics", "--help"}, ""},
		{"OpenWithoutReadKeys", []string{"serve", "--http-addr", "0.0.0.0:0", "--ingest-keys", "k"}, "no read keys"},
		{"HelpLoadgen", []string{"loadgen", "--help"}, ""},
		{"Help", []string{"--help"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string(nil), tc.args...)
			if tc.args[0] == "serve" {
				args = append(args, "--data-dir", t.TempDir())
			}
			err := run(context.Background(), args, env, &out, &out)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err=%v\n%s", err, out.String())
				}
				if out.Len() == 0 {
					t.Fatal("no help printed")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err=%v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// summaryTotal checks that /analytics/summary reports want invocations.
func summaryTotal(base string, want int) error {
	resp, err := http.Get(base + "/analytics/summary?days=7")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var sum struct {
		TotalInvocations int `json:"total_invocations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&sum); err != nil {
		return fmt.Errorf("summary: %d: %w", resp.StatusCode, err)
	}
	if sum.TotalInvocations != want {
		return fmt.Errorf("summary total_invocations=%d, want %d", sum.TotalInvocations, want)
	}
	return nil
}
