package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
)

// part is a subcommand run in this process, as its own process would run
// it.
type part struct {
	name   string
	cancel context.CancelFunc
	done   chan error
	logs   *testkit.LockedBuffer
	once   sync.Once
	err    error
}

// runPart runs the subcommand args[0] in this process; Cleanup stops it.
func runPart(t *testing.T, args ...string) *part {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &part{name: args[0], cancel: cancel, done: make(chan error, 1), logs: &testkit.LockedBuffer{}}
	go func() { p.done <- run(ctx, args, func(string) string { return "" }, p.logs, p.logs) }()
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("%s: %v\n%s", p.name, err, p.logs.String())
		} else if t.Failed() {
			t.Logf("%s:\n%s", strings.Join(args, " "), p.logs.String())
		}
	})
	return p
}

// stop ends the part as a signal would and returns its error.
func (p *part) stop() error {
	p.once.Do(func() {
		p.cancel()
		select {
		case p.err = <-p.done:
		case <-time.After(30 * time.Second):
			p.err = errors.New("still running 30s after it was stopped")
		}
	})
	return p.err
}

// sender posts events, one a request, with ids of its own, and keeps what
// each answer was.
type sender struct {
	client  *http.Client
	mu      sync.Mutex
	acked   []string       // event ids answered 200
	codes   map[int]int    // answers by status
	other   []string       // answers that are neither 200 nor 503, or errors
	sent    atomic.Int64   // requests made
	ok      atomic.Int64   // 200s
	refused atomic.Int64   // 503s
	byNode  map[string]int // 200s by ingest
}

func newSender() *sender {
	return &sender{client: &http.Client{Timeout: 15 * time.Second}, codes: map[int]int{}, byNode: map[string]int{}}
}

// run posts to addr as worker until stop closes.
func (s *sender) run(addr, worker string, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		id := fmt.Sprintf("%s-%06d", worker, i)
		body := fmt.Appendf(nil, `{"tool_name":"clustered","status":"success","event_id":%q}`, id)
		s.sent.Add(1)
		code, err := testkit.PostJSON(s.client, "http://"+addr+"/api/track", body, nil, nil)
		s.mu.Lock()
		s.codes[code]++
		switch {
		case err != nil:
			s.other = append(s.other, fmt.Sprintf("%s: %v", id, err))
		case code == http.StatusOK:
			s.acked = append(s.acked, id)
			s.byNode[addr]++
			s.ok.Add(1)
		case code == http.StatusServiceUnavailable:
			s.refused.Add(1)
			time.Sleep(20 * time.Millisecond) // as a client backs off
		default:
			s.other = append(s.other, fmt.Sprintf("%s: status %d", id, code))
		}
		s.mu.Unlock()
	}
}

// waitOK waits until n more events than now were answered 200.
func (s *sender) waitOK(t *testing.T, n int64, timeout time.Duration) {
	t.Helper()
	want := s.ok.Load() + n
	testkit.Eventually(t, timeout, func() error {
		if got := s.ok.Load(); got < want {
			return fmt.Errorf("%d events acknowledged, want %d", got, want)
		}
		return nil
	})
}

// mustStoreExactlyOnce waits until every acknowledged event is in the
// database at path, and checks that none is there twice.
func mustStoreExactlyOnce(t *testing.T, path string, acked []string) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		evs := readEvents(ctx, t, path)
		seen := make(map[string]int, len(evs))
		for _, ev := range evs {
			seen[ev.EventID]++
		}
		for id, n := range seen {
			if n > 1 {
				t.Fatalf("event %s stored %d times", id, n)
			}
		}
		for _, id := range acked {
			if seen[id] == 0 {
				return fmt.Errorf("acknowledged event %s not stored (%d of %d rows)", id, len(evs), len(acked))
			}
		}
		return nil
	})
}

// Ensure that three servers form a cluster with an R3 stream, that two
// ingest processes (each on its own node) keep taking events while the
// stream leader is shut down, that they answer 503 and never a false 200
// while the stream has no leader (one node of three left), and that every
// acknowledged event reaches SQLite exactly once through the one
// consumer.
func TestCluster_LeaderFailover(t *testing.T) {
	t.Parallel()
	c := testkit.MustRunCluster(t, 3)
	js := c.MustStream(0, 3)
	info, err := js.Stream(context.Background(), trackskills.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if r := info.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("stream replicas %d, want 3", r)
	}
	leader := c.StreamLeader()
	// The ingests sit on the other two nodes, the consumer on all three.
	var ingestAddrs []string
	for i := range c.Servers {
		if i == leader {
			continue
		}
		addr := testkit.MustFreeAddr(t)
		runPart(t, "ingest", "--data-dir", t.TempDir(), "--http-addr", addr, "--nats-url", "nats://"+c.Configs[i].Addr,
			"--nats-creds", embeddednats.CredsFile(c.CredsDir, embeddednats.UserIngest), "--log-level", "warn")
		testkit.WaitHTTP(t, "http://"+addr+"/readyz", 30*time.Second)
		ingestAddrs = append(ingestAddrs, addr)
	}
	dbPath := filepath.Join(t.TempDir(), "trackskills.db")
	healthAddr := testkit.MustFreeAddr(t)
	runPart(t, "consumer", "--db", dbPath, "--nats-url", c.URLs(), "--nats-creds", embeddednats.CredsFile(c.CredsDir, embeddednats.UserConsumer),
		"--health-addr", healthAddr, "--batch-wait", "20ms", "--log-level", "warn")
	testkit.WaitHTTP(t, "http://"+healthAddr+"/readyz", 30*time.Second)

	s := newSender()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, addr := range ingestAddrs {
		for w := range 2 {
			wg.Go(func() { s.run(addr, fmt.Sprintf("n%d-w%d", i, w), stop) })
		}
	}
	s.waitOK(t, 100, 30*time.Second)
	c.Shutdown(leader)
	testkit.Eventually(t, 30*time.Second, func() error {
		if l := c.StreamLeader(); l < 0 || l == leader {
			return errors.New("no new stream leader yet")
		}
		return nil
	})
	s.waitOK(t, 100, 30*time.Second) // taken after the election

	// One node of three left: no quorum, no leader. Ingest must refuse
	// (503 once its publish times out), and take events again once a
	// second node is back.
	other := 3 - leader - c.StreamLeader()
	c.Shutdown(other)
	refused := s.refused.Load()
	testkit.Eventually(t, 30*time.Second, func() error {
		if s.refused.Load() == refused {
			return errors.New("no 503 yet without a quorum")
		}
		return nil
	})
	c.Restart(other)
	s.waitOK(t, 100, 60*time.Second)
	close(stop)
	wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.other) > 0 {
		t.Fatalf("%d answers neither 200 nor 503, first: %s", len(s.other), s.other[0])
	}
	for _, addr := range ingestAddrs {
		if s.byNode[addr] == 0 {
			t.Fatalf("ingest %s took no event", addr)
		}
	}
	t.Logf("answers %v over %d requests; new leader %s", s.codes, s.sent.Load(), c.Configs[c.StreamLeader()].ServerName)
	mustStoreExactlyOnce(t, dbPath, s.acked)
}

// Ensure a leaf node keeps accepting events while its hub is down, and
// that every event it accepted reaches the hub's database once after the
// hub is back, through the hub stream's source on the leaf's domain.
func TestLeafNode_HubDown(t *testing.T) {
	t.Parallel()
	hubDir, leafDir := t.TempDir(), t.TempDir()
	hubNATS, leafNATS, leafListen := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	hubArgs := []string{"nats", "--data-dir", hubDir, "--nats-addr", hubNATS, "--server-name", "hub", "--jetstream-domain", "hub",
		"--leaf-listen", leafListen, "--leaf-domains", "office", "--log-level", "warn"}
	hub := runPart(t, hubArgs...)
	leafCreds := embeddednats.CredsFile(filepath.Join(hubDir, embeddednats.CredsDirName), embeddednats.LeafUser)
	testkit.Eventually(t, 30*time.Second, func() error {
		_, err := embeddednats.ReadCreds(leafCreds)
		return err
	})
	runPart(t, "nats", "--data-dir", leafDir, "--nats-addr", leafNATS, "--server-name", "office", "--jetstream-domain", "office",
		"--leaf-remote", "nats-leaf://"+leafListen, "--leaf-creds", leafCreds, "--log-level", "warn")
	ingestAddr := testkit.MustFreeAddr(t)
	runPart(t, "ingest", "--data-dir", leafDir, "--http-addr", ingestAddr, "--nats-url", "nats://"+leafNATS, "--log-level", "warn")
	testkit.WaitHTTP(t, "http://"+ingestAddr+"/readyz", 30*time.Second)
	dbPath := filepath.Join(hubDir, "trackskills.db")
	healthAddr := testkit.MustFreeAddr(t)
	runPart(t, "consumer", "--data-dir", hubDir, "--nats-url", "nats://"+hubNATS, "--health-addr", healthAddr, "--batch-wait", "20ms", "--log-level", "warn")
	testkit.WaitHTTP(t, "http://"+healthAddr+"/readyz", 30*time.Second)

	s := newSender()
	send := func(worker string, n int64) {
		t.Helper()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { s.run(ingestAddr, worker, stop) })
		s.waitOK(t, n, 30*time.Second)
		close(stop)
		wg.Wait()
	}
	send("linked", 50)
	mustStoreExactlyOnce(t, dbPath, s.acked) // the source runs

	if err := hub.stop(); err != nil {
		t.Fatalf("stop the hub: %v", err)
	}
	send("hub-down", 100)
	s.mu.Lock()
	if s.codes[http.StatusServiceUnavailable] > 0 || len(s.other) > 0 {
		t.Fatalf("the leaf refused events while its hub was down: %v %v", s.codes, s.other)
	}
	s.mu.Unlock()

	runPart(t, hubArgs...)
	send("hub-back", 20)
	mustStoreExactlyOnce(t, dbPath, s.acked)
	// The hub's stream holds each event once: none crossed the link as it
	// was published besides its source.
	admin := testkit.MustJetStreamAt(t, natsAdminURL(t, hubDir, "nats://"+hubNATS))
	st := testkit.MustStreamState(t, admin)
	if got := st.Msgs; got != uint64(len(s.acked)) {
		t.Fatalf("hub stream holds %d messages for %d events", got, len(s.acked))
	}
}
