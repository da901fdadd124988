package main

import (
	dbsql "database/sql"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// miscount multiplies the daily invocation counts of the database at path
// by factor behind its writer's back, as a bug in an aggregate would.
func miscount(t *testing.T, path string, factor int) {
	t.Helper()
	raw, err := dbsql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE tool_daily SET invocations = invocations * ?`, factor); err != nil {
		t.Fatal(err)
	}
}

// Ensure trackskills rebuild, run beside a serve under load, rebuilds the
// database from the stream and serve switches to it between two batches:
// a miscounted aggregate of the live database is right again, every event
// ingest acknowledged before, during and after is stored exactly once,
// analytics answers from the new file, and the old one is kept.
func TestRebuild_WhileServeRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	httpAddr, natsAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	srv := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", natsAddr, "--batch-wait", "20ms")
	mustWaitReady(t, srv, httpAddr)
	base := "http://" + httpAddr
	postEvents(t, httpAddr, 0, 300)
	dbPath := filepath.Join(dir, "trackskills.db")
	waitRows(t, dbPath, 300)

	// A bug once counted a tool twice: the live aggregates are wrong.
	miscount(t, dbPath, 2)
	if err := summaryTotal(base, 600); err != nil {
		t.Fatalf("before the rebuild, want the miscounted 600: %v", err)
	}

	// Events keep coming while the rebuild runs and serve switches.
	var acked atomic.Int64
	acked.Store(300)
	stop, stopped := make(chan struct{}), make(chan error, 1)
	go func() {
		client := &http.Client{Timeout: 10 * time.Second}
		for n := 300; ; n++ {
			select {
			case <-stop:
				stopped <- nil
				return
			default:
			}
			body := []byte(fmt.Sprintf(`{"tool_name":"lock","status":"success","event_id":"lock-%04d"}`, n))
			if code, err := testkit.PostJSON(client, base+"/api/track", body, nil, nil); err != nil || code != http.StatusOK {
				stopped <- fmt.Errorf("event %d: %d %v", n, code, err)
				return
			}
			acked.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	rb := startBinary(t, nil, "rebuild", "--data-dir", dir, "--nats-url", "nats://"+natsAddr)
	select {
	case <-rb.Exited():
	case <-time.After(time.Minute):
		t.Fatalf("rebuild still runs after a minute:\n%s", rb.Logs())
	}
	if err := rb.MustStop(t, syscall.SIGTERM, time.Second); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, rb.Logs())
	}
	if !strings.Contains(rb.Logs(), "rebuild: switched") {
		t.Errorf("rebuild did not say it switched:\n%s", rb.Logs())
	}
	time.Sleep(300 * time.Millisecond) // a few events after the switch
	close(stop)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	total := acked.Load()
	waitRows(t, dbPath, total)
	testkit.Eventually(t, 20*time.Second, func() error { return summaryTotal(base, int(total)) })
	if !strings.Contains(srv.Logs(), "rebuilt database adopted") {
		t.Errorf("serve did not log the adoption:\n%s", srv.Logs())
	}
	kept, err := filepath.Glob(dbPath + ".pre-rebuild-*Z") // not its -wal and -shm
	if err != nil || len(kept) != 1 {
		t.Fatalf("kept old database: %v %v, want one", kept, err)
	}
	if rows, _ := countRows(t, kept[0]); rows < 300 {
		t.Errorf("kept database has %d events, want at least the 300 before", rows)
	}
	mustWaitReady(t, srv, httpAddr)
	if err := srv.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("serve exit: %v\n%s", err, srv.Logs())
	}
	waitRows(t, dbPath, total) // still so after a clean stop
}

// Ensure rebuild refuses, with exit code 1 and what to do, when the
// database it would rebuild does not exist.
func TestRebuild_NoDatabase(t *testing.T) {
	dir := t.TempDir()
	srv := testkit.MustRunNATS(t)
	js := testkit.MustJetStream(t, srv)
	testkit.MustStream(t, js)
	p := startBinary(t, nil, "rebuild", "--data-dir", dir, "--nats-url", srv.ClientURL())
	<-p.Exited()
	err := p.MustStop(t, syscall.SIGTERM, time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(p.Logs(), "replay into a new file instead") {
		t.Errorf("rebuild without a database: %v\n%s", err, p.Logs())
	}
}

// Ensure the Procfile way rebuilds too: the consumer process adopts the
// rebuild and the analytics process reads the new file by itself; and a
// rebuild with nothing running on the database switches it itself.
func TestRebuild_ProcfileWay(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	natsAddr, ingestAddr, healthAddr, apiAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t), testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	env := []string{"TRACKSKILLS_DATA_DIR=" + dir, "TRACKSKILLS_NATS_ADDR=" + natsAddr, "TRACKSKILLS_NATS_URL=nats://" + natsAddr}
	ns := startBinary(t, env, "nats")
	ing := startBinary(t, env, "ingest", "--http-addr", ingestAddr)
	mustWaitReady(t, ing, ingestAddr)
	cons := startBinary(t, env, "consumer", "--health-addr", healthAddr, "--batch-wait", "20ms")
	mustWaitReady(t, cons, healthAddr)
	postEvents(t, ingestAddr, 0, 100)
	dbPath := filepath.Join(dir, "trackskills.db")
	waitRows(t, dbPath, 100)
	api := startBinary(t, env, "analytics", "--http-addr", apiAddr, "--nats-url", "")
	mustWaitReady(t, api, apiAddr)

	// The live aggregates are wrong; the rebuild makes them right, and
	// the analytics process sees it without a restart.
	miscount(t, dbPath, 3)
	if err := summaryTotal("http://"+apiAddr, 300); err != nil {
		t.Fatalf("before the rebuild, want the miscounted 300: %v", err)
	}
	if _, errOut, err := runCmd(t, "rebuild", "--data-dir", dir, "--nats-url", "nats://"+natsAddr); err != nil || !strings.Contains(errOut, "rebuild: switched") {
		t.Fatalf("rebuild: %v\n%s", err, errOut)
	}
	if !strings.Contains(cons.Logs(), "rebuilt database adopted") {
		t.Errorf("the consumer did not log the adoption:\n%s", cons.Logs())
	}
	postEvents(t, ingestAddr, 100, 120)
	waitRows(t, dbPath, 120)
	testkit.Eventually(t, 20*time.Second, func() error { return summaryTotal("http://"+apiAddr, 120) })

	// Nothing runs on the database: rebuild switches it itself.
	if err := cons.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("consumer exit: %v\n%s", err, cons.Logs())
	}
	_, errOut, err := runCmd(t, "rebuild", "--data-dir", dir, "--nats-url", "nats://"+natsAddr)
	if err != nil || !strings.Contains(errOut, "nothing was running on it") {
		t.Fatalf("rebuild with no consumer: %v\n%s", err, errOut)
	}
	waitRows(t, dbPath, 120)
	if kept, _ := filepath.Glob(dbPath + ".pre-rebuild-*Z"); len(kept) != 2 {
		t.Errorf("kept databases %v, want one per rebuild", kept)
	}
	for _, p := range []*testkit.Process{api, ing, ns} {
		if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.Logs())
		}
	}
}
