package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trackskills/trackskills/testkit"
)

// heldPatience bounds how long the events a killed consumer held may take
// to reach SQLite through the consumer started after it. It is generous
// beside the default ack wait (4 s), and well below the 30 s it once was.
const heldPatience = 15 * time.Second

// Ensure that after a kill -9 of the consumer under load, with the default
// ack wait, a consumer started after it stores every event ingest
// acknowledged, each once, within seconds: the messages the first held come
// back after the short ack wait, not half a minute later.
func TestConsumer_KilledUnderLoadRedeliveredSoon(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	natsAddr, ingestAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	env := []string{"TRACKSKILLS_DATA_DIR=" + dir, "TRACKSKILLS_NATS_ADDR=" + natsAddr, "TRACKSKILLS_NATS_URL=nats://" + natsAddr}
	ns := startBinary(t, env, "nats")
	ing := startBinary(t, env, "ingest", "--http-addr", ingestAddr)
	mustWaitReady(t, ing, ingestAddr)
	// A long batch wait: whenever it is killed, the first consumer holds
	// the last second of events, read and not acknowledged.
	firstHealth := testkit.MustFreeAddr(t)
	first := startBinary(t, env, "consumer", "--batch-wait", "1s", "--health-addr", firstHealth)
	mustWaitReady(t, first, firstHealth)

	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := []byte(fmt.Sprintf(`{"tool_name":"held","status":"success","event_id":"held-%d-%06d"}`, w, i))
				code, err := testkit.PostJSON(client, "http://"+ingestAddr+"/api/track", body, nil, nil)
				if err != nil || code != http.StatusOK {
					t.Errorf("event %d of worker %d: %d %v", i, w, code, err)
					return
				}
				acked.Add(1)
			}
		})
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if n := acked.Load(); n < 300 {
			return fmt.Errorf("%d events acknowledged", n)
		}
		return nil
	})
	_ = first.MustStop(t, syscall.SIGKILL, stopTimeout) // killed: its exit error says so

	secondHealth := testkit.MustFreeAddr(t)
	second := startBinary(t, env, "consumer", "--batch-wait", "20ms", "--health-addr", secondHealth)
	mustWaitReady(t, second, secondHealth)
	restarted := time.Now()
	time.Sleep(500 * time.Millisecond) // load goes on for a while under the second consumer
	close(stop)
	wg.Wait()
	want := acked.Load()
	testkit.Eventually(t, heldPatience, func() error {
		rows, distinct := countRows(t, filepath.Join(dir, "trackskills.db"))
		if rows != want || distinct != want {
			return fmt.Errorf("rows=%d distinct=%d, want %d", rows, distinct, want)
		}
		return nil
	})
	t.Logf("%d acknowledged events stored once, %s after the second consumer was ready", want, time.Since(restarted).Round(100*time.Millisecond))
	for _, p := range []*testkit.Process{second, ing, ns} {
		if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.Logs())
		}
	}
}
