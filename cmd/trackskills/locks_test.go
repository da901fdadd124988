package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// refuseTimeout bounds how long a second process may take to refuse.
const refuseTimeout = 10 * time.Second

// mustRefuse waits for p, a second process on state another holds, to exit
// at once with code 1 and the one-line message want on stderr.
func mustRefuse(t *testing.T, p *testkit.Process, want string) {
	t.Helper()
	select {
	case <-p.Exited():
	case <-time.After(refuseTimeout):
		t.Fatalf("second process still runs after %v:\n%s", refuseTimeout, p.Logs())
	}
	err := p.MustStop(t, syscall.SIGTERM, time.Second) // it has exited: its exit error
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second process exit: %v, want exit code 1\n%s", err, p.Logs())
	}
	if !strings.Contains(p.Logs(), "trackskills: "+want+"\n") {
		t.Fatalf("second process said:\n%s\nwant the line\ntrackskills: %s", p.Logs(), want)
	}
}

// postEvents sends the events numbered from..to-1 to the ingest at addr.
func postEvents(t *testing.T, addr string, from, to int) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	for i := from; i < to; i++ {
		body := []byte(fmt.Sprintf(`{"tool_name":"lock","status":"success","event_id":"lock-%04d"}`, i))
		if code, err := testkit.PostJSON(client, "http://"+addr+"/api/track", body, nil, nil); err != nil || code != 200 {
			t.Fatalf("event %d: %d %v", i, code, err)
		}
	}
}

// waitRows waits until the database at path holds want events, each once,
// and their aggregates.
func waitRows(t *testing.T, path string, want int64) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		rows, distinct := countRows(t, path)
		if rows != want || distinct != want {
			return fmt.Errorf("rows=%d distinct=%d, want %d", rows, want, want)
		}
		return nil
	})
	testkit.WaitRolledUp(t, path, 20*time.Second)
}

// Ensure a second serve on a data dir another serve uses refuses at once,
// naming the first's PID and the lock file, and that the first loses
// nothing: every event posted before and after is stored exactly once.
func TestServe_SecondOnDataDirRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	httpAddr := testkit.MustFreeAddr(t)
	first := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", httpAddr,
		"--nats-addr", testkit.MustFreeAddr(t), "--batch-wait", "20ms")
	mustWaitReady(t, first, httpAddr)
	postEvents(t, httpAddr, 0, 50)

	second := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", testkit.MustFreeAddr(t),
		"--nats-addr", testkit.MustFreeAddr(t), "--batch-wait", "20ms")
	lock := filepath.Join(dir, "nats", "trackskills.lock")
	mustRefuse(t, second, fmt.Sprintf("data dir %s is in use by another trackskills process (pid %d, lock file %s): stop it first, or give this one its own --data-dir",
		dir, first.PID(), lock))
	if strings.Contains(second.Logs(), "msg=serving") {
		t.Fatalf("second serve started before refusing:\n%s", second.Logs())
	}

	postEvents(t, httpAddr, 50, 100)
	dbPath := filepath.Join(dir, "trackskills.db")
	waitRows(t, dbPath, 100)
	if err := first.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("first serve exit: %v", err)
	}
	if rows, distinct := countRows(t, dbPath); rows != 100 || distinct != 100 {
		t.Fatalf("after stop: rows=%d distinct=%d, want 100", rows, distinct)
	}
	// The lock files stay behind, locked by nobody.
	for _, p := range []string{lock, dbPath + ".lock"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
}

// Ensure a second consumer on a database another consumer writes refuses
// at once, naming the first's PID and the lock file, while the first keeps
// running.
func TestConsumer_SecondOnDatabaseRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	natsAddr := testkit.MustFreeAddr(t)
	env := []string{"TRACKSKILLS_DATA_DIR=" + dir, "TRACKSKILLS_NATS_ADDR=" + natsAddr, "TRACKSKILLS_NATS_URL=nats://" + natsAddr}
	ns := startBinary(t, env, "nats")
	healthAddr := testkit.MustFreeAddr(t)
	first := startBinary(t, env, "consumer", "--health-addr", healthAddr)
	mustWaitReady(t, first, healthAddr)

	second := startBinary(t, env, "consumer", "--health-addr", testkit.MustFreeAddr(t))
	dbPath := filepath.Join(dir, "trackskills.db")
	mustRefuse(t, second, fmt.Sprintf("database %s is in use by another trackskills process (pid %d, lock file %s): stop it first, or give this one its own --db (or --data-dir)",
		dbPath, first.PID(), dbPath+".lock"))

	mustWaitReady(t, first, healthAddr)
	for _, p := range []*testkit.Process{first, ns} { // the consumer before its server
		if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.Logs())
		}
	}
}

// Ensure a consumer started with --standby beside a running one waits,
// and after a kill -9 of the first takes over within the ack wait: every
// event ingest acknowledged, before, during and after the kill, is stored
// exactly once.
func TestConsumer_StandbyTakesOverAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	natsAddr, ingestAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	env := []string{"TRACKSKILLS_DATA_DIR=" + dir, "TRACKSKILLS_NATS_ADDR=" + natsAddr, "TRACKSKILLS_NATS_URL=nats://" + natsAddr}
	ns := startBinary(t, env, "nats")
	ing := startBinary(t, env, "ingest", "--http-addr", ingestAddr)
	mustWaitReady(t, ing, ingestAddr)
	firstHealth, standbyHealth := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	consumerArgs := []string{"consumer", "--ack-wait", "2s", "--batch-wait", "20ms"}
	first := startBinary(t, env, append(consumerArgs, "--health-addr", firstHealth)...)
	mustWaitReady(t, first, firstHealth)
	postEvents(t, ingestAddr, 0, 100)

	standby := startBinary(t, env, append(consumerArgs, "--standby", "--health-addr", standbyHealth)...)
	testkit.Eventually(t, refuseTimeout, func() error {
		if !strings.Contains(standby.Logs(), "standing by") {
			return errors.New("the standby has not said it stands by")
		}
		return nil
	})
	select {
	case <-standby.Exited():
		t.Fatalf("the standby exited:\n%s", standby.Logs())
	default:
	}

	// Events go in while the first is killed: some are in its hands,
	// committed or not, unacknowledged.
	posted := make(chan int, 1)
	go func() {
		client := &http.Client{Timeout: 10 * time.Second}
		n := 100
		for ; n < 400; n++ {
			body := []byte(fmt.Sprintf(`{"tool_name":"lock","status":"success","event_id":"lock-%04d"}`, n))
			if code, err := testkit.PostJSON(client, "http://"+ingestAddr+"/api/track", body, nil, nil); err != nil || code != 200 {
				break
			}
		}
		posted <- n
	}()
	time.Sleep(200 * time.Millisecond)
	_ = first.MustStop(t, syscall.SIGKILL, stopTimeout) // killed: its exit error says so
	n := <-posted
	if n != 400 {
		t.Fatalf("ingest stopped acknowledging at event %d:\n%s", n, ing.Logs())
	}
	mustWaitReady(t, standby, standbyHealth)
	postEvents(t, ingestAddr, 400, 450)
	waitRows(t, filepath.Join(dir, "trackskills.db"), 450)
	if !strings.Contains(standby.Logs(), "taking over") {
		t.Errorf("the standby did not say it took over:\n%s", standby.Logs())
	}
	for _, p := range []*testkit.Process{standby, ing, ns} {
		if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.Logs())
		}
	}
}
