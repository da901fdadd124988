package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// equivRetention is the raw-row retention of the live run: short, so that
// the events of the first phase expire during the test. The stream keeps
// its messages for an hour (--stream-max-age), so it still holds them:
// the replay must start at the first retained sequence, not at the
// stream's first.
const equivRetention = 8 * time.Second

// Ensure that after a live run with retention deletes, dead letters, a
// kill -9 under load, the redeliveries that follow and client retries, a
// replay of the stream from the first retained sequence into a new file
// holds the same raw rows and dead letters, and answers every analytics
// endpoint the same as the live database for windows inside the retained
// window.
//
// The run, all through the real binary:
//
//  1. serve; events sent over HTTP with timestamps 5 to 7 days old, from
//     users seen only then, and a dead letter. Retention deletes raw rows
//     by received_at (sql.DeleteEventsBefore), so they expire once
//     equivRetention has passed since ingest received them.
//  2. After that: events over HTTP (single and batch) with timestamps of
//     the last 5 days or none, undecodable messages published to the
//     stream, then a load during which serve gets a SIGKILL.
//  3. serve again on the same data dir: its retention job, which runs at
//     start, deletes phase 1; unacknowledged messages are redelivered;
//     failed requests are retried and some acknowledged ones sent again
//     (duplicates in new messages), with stored events republished
//     straight to the stream and one more dead letter.
//  4. serve stops cleanly; `trackskills nats` serves the stream to
//     `trackskills replay --from-seq <first retained sequence>`; then
//     `trackskills analytics` runs on each database, and the answers are
//     compared byte for byte.
func TestReplay_MatchesLiveDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	ctx := context.Background()
	dir := t.TempDir()
	livePath := filepath.Join(dir, "trackskills.db")
	httpAddr, natsAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	streamFlags := []string{"--retention-raw", equivRetention.String(), "--stream-max-age", "1h"}
	serveArgs := append([]string{"serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", natsAddr,
		"--batch-wait", "20ms", "--ack-wait", "1s"}, streamFlags...)
	s := &equivSender{t: t, base: "http://" + httpAddr, acked: map[string]bool{},
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}}

	now := time.Now()
	today := now.UTC().Truncate(24 * time.Hour)
	retainedFrom := today.AddDate(0, 0, -5) // the first UTC day of the retained events' timestamps

	// Phase 1: events that retention will delete.
	serve1 := startBinary(t, nil, serveArgs...)
	mustWaitReady(t, serve1, httpAddr)
	natsURL := natsAdminURL(t, dir, "nats://"+natsAddr)              // serve made the credentials
	oldLo, oldHi := now.Add(-7*24*time.Hour+time.Hour), retainedFrom // inside ingest's 7 days, before the retained days
	var old []map[string]any
	for i := range 240 {
		ev := e2eEvent(i)
		ev["event_id"] = fmt.Sprintf("old-%04d", i)
		ev["user_id"], ev["session_id"] = fmt.Sprintf("gone-user-%d", i%7), fmt.Sprintf("gone-session-%d", i%3)
		ev["timestamp"] = oldLo.Add(time.Duration(i) * oldHi.Sub(oldLo) / 240).UnixMilli()
		old = append(old, ev)
	}
	s.singles(old[:40])
	s.batches(old[40:], 100)
	publishToStream(t, natsURL, wire.NewMsg(trackskills.SubjectIngest, []byte("phase one: not json {")))
	waitStored(t, livePath, s.ackedIDs(), 1)
	p1End := time.Now() // after every phase-1 received_at and dead letter stored_at
	phase1Seq := mustStreamLastSeq(t, natsURL)
	s.forget() // from here on, acknowledged means retained

	// The retention's clock must pass phase 1 before phase 2 is received:
	// this waits for wall time, not for an asynchronous effect.
	time.Sleep(time.Until(p1End.Add(equivRetention + 500*time.Millisecond)))
	phase2Start := time.Now()

	// Phase 2: retained events, dead letters, then a load and a SIGKILL.
	span := now.Sub(retainedFrom)
	var recent []map[string]any
	for i := range 1200 {
		ev := e2eEvent(i)
		ev["event_id"] = fmt.Sprintf("p2-%05d", i)
		if i%5 == 0 {
			delete(ev, "timestamp") // ingest's clock
		} else {
			ev["timestamp"] = retainedFrom.Add(time.Duration(i*7919%1000) * span / 1000).UnixMilli()
		}
		recent = append(recent, ev)
	}
	s.singles(recent[:200])
	s.batches(recent[200:], 100)
	badS2 := wire.NewMsg(trackskills.SubjectIngest, []byte(`{"tool_name":"x"}`+"\n"))
	badS2.Header.Set(wire.EncodingHeader, wire.EncodingS2) // says S2, is not
	badSchema := wire.NewMsg(trackskills.SubjectIngest, []byte(`{"tool_name":"x"}`+"\n"))
	badSchema.Header.Set(wire.SchemaHeader, "99")
	publishToStream(t, natsURL, wire.NewMsg(trackskills.SubjectIngest, []byte("not json {")), badS2, badSchema)
	failed := s.loadUntilKilled(serve1, 600)
	t.Logf("phase 2: %d acknowledged so far, %d load requests failed at the kill", len(s.ackedIDs()), len(failed))

	// Phase 3: a restart on the same data dir; its retention job deletes
	// phase 1. Then retries, duplicates and one more dead letter.
	serve2 := startBinary(t, nil, serveArgs...)
	mustWaitReady(t, serve2, httpAddr)
	sinceP2 := time.Since(phase2Start)
	var deleted int64
	testkit.Eventually(t, 10*time.Second, func() error {
		var ok bool
		if deleted, ok = deletedAtStart(serve2.Logs()); !ok {
			return fmt.Errorf("no retention run logged")
		}
		return nil
	})
	// Phase 2 must be received within equivRetention of this restart, or
	// the retention deletes some of it too.
	if deleted != int64(len(old)) {
		t.Fatalf("retention at start deleted %d events, want the %d of phase 1 (phase 2 began %v before the restart was ready, the retention is %v)",
			deleted, len(old), sinceP2.Round(time.Millisecond), equivRetention)
	}
	t.Logf("phase 2 to the restart: %v; the restart's retention job deleted the %d events of phase 1", sinceP2.Round(time.Millisecond), deleted)
	s.singles(failed)          // a client retries what got no 2xx
	s.batches(recent[:30], 30) // and sends again some that did: new messages, same event_id
	var late []map[string]any
	for i := range 120 {
		ev := e2eEvent(5000 + i)
		ev["event_id"] = fmt.Sprintf("p3-%05d", i)
		delete(ev, "timestamp")
		late = append(late, ev)
	}
	s.singles(late[:20])
	s.batches(late[20:], 100)
	stored := readEvents(ctx, t, livePath)
	var dup []byte
	for i := range stored[:10] {
		var err error
		if dup, err = wire.AppendEvent(dup, republished(stored[len(stored)-1-i])); err != nil {
			t.Fatal(err)
		}
	}
	publishToStream(t, natsURL, wire.NewMsg(trackskills.SubjectIngest, dup),
		wire.NewMsg(trackskills.SubjectIngest, []byte("phase three: not json {")))
	acked := s.ackedIDs()
	waitStored(t, livePath, acked, 4)
	waitConsumed(t, natsURL)
	lastSeq := mustStreamLastSeq(t, natsURL)
	if err := serve2.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("serve exit: %v\n%s", err, serve2.Logs())
	}
	if m := regexp.MustCompile(`msg="consumer stopped".* ignored=(\d+)`).FindStringSubmatch(serve2.Logs()); m != nil {
		t.Logf("restarted consumer ignored %s redelivered or duplicate events", m[1])
	}

	// The live database: phase 1 is gone, everything acknowledged since
	// is there once.
	live := readEvents(ctx, t, livePath)
	firstRetained := uint64(0)
	for _, ev := range live {
		if firstRetained == 0 || ev.StreamSeq < firstRetained {
			firstRetained = ev.StreamSeq
		}
		if ev.ReceivedAt < phase2Start.UnixMilli() {
			t.Errorf("live row %s received at %d, before phase 2 (%d): retention kept it", ev.EventID, ev.ReceivedAt, phase2Start.UnixMilli())
		}
	}
	if got, want := firstRetained, phase1Seq+1; got != want {
		t.Fatalf("first retained stream sequence %d, want %d (phase 1 ended at %d)", got, want, phase1Seq)
	}
	checkOnce(t, "live", live, acked)

	// Replay the stream from the first retained sequence into a new file.
	natsProc := startBinary(t, nil, append([]string{"nats", "--data-dir", dir, "--nats-addr", natsAddr}, streamFlags...)...)
	testkit.Eventually(t, 20*time.Second, func() error {
		if !strings.Contains(natsProc.Logs(), `msg="nats ready"`) {
			return fmt.Errorf("nats not ready:\n%s", natsProc.Logs())
		}
		return nil
	})
	replayPath := filepath.Join(t.TempDir(), "replayed.db")
	replayProc := startBinary(t, nil, "replay", "--db", replayPath, "--nats-url", natsURL,
		"--from-seq", strconv.FormatUint(firstRetained, 10), "--log-level", "warn")
	select {
	case <-replayProc.Exited():
	case <-time.After(60 * time.Second):
		t.Fatalf("replay still runs after 60s:\n%s", replayProc.Logs())
	}
	if err := replayProc.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("replay: %v\n%s", err, replayProc.Logs())
	}
	if want := fmt.Sprintf("stream seq %d to %d into %s", firstRetained, lastSeq, replayPath); !strings.Contains(replayProc.Logs(), want) {
		t.Errorf("replay summary lacks %q:\n%s", want, replayProc.Logs())
	}
	if want := fmt.Sprintf("%d inserted,", len(live)); !strings.Contains(replayProc.Logs(), want) {
		t.Errorf("replay summary lacks %q:\n%s", want, replayProc.Logs())
	}
	t.Logf("%s", strings.TrimSpace(replayProc.Logs()))
	if err := natsProc.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("nats exit: %v\n%s", err, natsProc.Logs())
	}

	// The raw rows and dead letters, as stored.
	replayed := readEvents(ctx, t, replayPath)
	checkOnce(t, "replayed", replayed, acked)
	for _, evs := range [][]trackskills.Event{live, replayed} {
		sort.Slice(evs, func(i, j int) bool { return evs[i].EventID < evs[j].EventID })
	}
	if !reflect.DeepEqual(replayed, live) {
		t.Errorf("raw rows differ: %d replayed, %d live", len(replayed), len(live))
		reportRowDiffs(t, live, replayed)
	}
	liveDead, replayedDead := deadLetters(ctx, t, livePath), deadLetters(ctx, t, replayPath)
	if len(liveDead) != 4 || !reflect.DeepEqual(replayedDead, liveDead) {
		t.Errorf("dead letters differ:\nlive     %+v\nreplayed %+v", liveDead, replayedDead)
	}

	// Every analytics endpoint, on each database.
	liveAPI, replayedAPI := startAnalytics(t, livePath), startAnalytics(t, replayPath)
	since := retainedFrom.Format(time.RFC3339)
	until := now.Truncate(time.Hour).Add(2 * time.Hour).Format(time.RFC3339)
	whole := "from=" + since + "&to=" + until // every retained timestamp
	var sum struct {
		TotalInvocations int `json:"total_invocations"`
	}
	if err := json.Unmarshal(getBody(t, liveAPI+"/analytics/summary?"+whole), &sum); err != nil || sum.TotalInvocations != len(live) {
		t.Errorf("live summary of %s: %d invocations (err %v), want the %d retained rows", whole, sum.TotalInvocations, err, len(live))
	}
	// The live database keeps the aggregates of the deleted rows (the
	// aggregates have their own retention), the replay has none: a window
	// over phase 1 must differ, or the comparisons below prove nothing.
	before := "/analytics/summary?from=" + now.Add(-7*24*time.Hour).Truncate(time.Hour).Format(time.RFC3339) + "&to=" + until
	if bytes.Equal(getBody(t, liveAPI+before), getBody(t, replayedAPI+before)) {
		t.Errorf("%s is the same on both databases: phase 1 left no aggregates", before)
	}
	paths := equivPaths(t, liveAPI, []string{
		"days=1", "days=6", "hours=24", "hours=100", whole,
		"from=" + today.AddDate(0, 0, -4).Add(3*time.Hour).Format(time.RFC3339) + "&to=" + today.AddDate(0, 0, -1).Add(7*time.Hour).Format(time.RFC3339),
	})
	for _, p := range paths {
		want, got := getBody(t, liveAPI+p), getBody(t, replayedAPI+p)
		if strings.HasPrefix(p, "/analytics/retention?") {
			want, got = reachBack(t, p, want, got)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("GET %s differs:\n%s", p, firstDifference(want, got))
		}
	}
	t.Logf("%d live rows, %d acknowledged, stream seq %d to %d replayed; %d analytics requests compared",
		len(live), len(acked), firstRetained, lastSeq, len(paths))
}

// equivSender sends the events of TestReplay_MatchesLiveDatabase over HTTP
// and remembers which got a 2xx.
type equivSender struct {
	t      *testing.T
	base   string
	client *http.Client
	mu     sync.Mutex
	acked  map[string]bool
}

func (s *equivSender) ack(evs ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		s.acked[ev["event_id"].(string)] = true
	}
}

// forget forgets the events acknowledged so far.
func (s *equivSender) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = map[string]bool{}
}

// ackedIDs returns a copy of the acknowledged event ids.
func (s *equivSender) ackedIDs() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.acked))
	for id := range s.acked {
		out[id] = true
	}
	return out
}

// singles posts each event to /api/track; each must get a 200.
func (s *equivSender) singles(evs []map[string]any) {
	s.t.Helper()
	for _, ev := range evs {
		body, _ := json.Marshal(ev) // plain values always encode
		if code, err := testkit.PostJSON(s.client, s.base+"/api/track", body, nil, nil); err != nil || code != http.StatusOK {
			s.t.Fatalf("POST /api/track %s: %d %v", ev["event_id"], code, err)
		}
		s.ack(ev)
	}
}

// batches posts evs to /api/track/batch, n a request; each must get a 200
// that accepts them all.
func (s *equivSender) batches(evs []map[string]any, n int) {
	s.t.Helper()
	for b := 0; b < len(evs); b += n {
		part := evs[b:min(b+n, len(evs))]
		body, _ := json.Marshal(part) // plain values always encode
		var resp struct {
			Accepted int `json:"accepted"`
		}
		if code, err := testkit.PostJSON(s.client, s.base+"/api/track/batch", body, nil, &resp); err != nil || code != http.StatusOK || resp.Accepted != len(part) {
			s.t.Fatalf("POST /api/track/batch: %d %+v %v", code, resp, err)
		}
		s.ack(part...)
	}
}

// loadUntilKilled sends single events from 8 workers until at least n of
// them got a 2xx, then kills serve with SIGKILL while they go on. It
// returns the events whose request got no 2xx.
func (s *equivSender) loadUntilKilled(serve *testkit.Process, n int) []map[string]any {
	s.t.Helper()
	var wg sync.WaitGroup
	var okCount atomic.Int64
	var mu sync.Mutex
	var failed []map[string]any
	stop := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ev := e2eEvent(w*100_000 + i)
				ev["event_id"] = fmt.Sprintf("load-%d-%05d", w, i)
				delete(ev, "timestamp")
				body, _ := json.Marshal(ev) // plain values always encode
				code, err := testkit.PostJSON(s.client, s.base+"/api/track", body, nil, nil)
				if err == nil && code == http.StatusOK {
					s.ack(ev)
					okCount.Add(1)
					continue
				}
				mu.Lock()
				failed = append(failed, ev)
				mu.Unlock()
				if err != nil {
					return // serve is gone
				}
			}
		}()
	}
	testkit.Eventually(s.t, 20*time.Second, func() error {
		if got := okCount.Load(); got < int64(n) {
			return fmt.Errorf("%d load events acknowledged, want %d", got, n)
		}
		return nil
	})
	_ = serve.MustStop(s.t, syscall.SIGKILL, stopTimeout) // a killed process exits with an error
	close(stop)
	wg.Wait()
	return failed
}

// deletedAtStart returns the count of the first "deleted expired events"
// line in serve's logs.
func deletedAtStart(logs string) (int64, bool) {
	m := regexp.MustCompile(`msg="deleted expired events".* events=(\d+)`).FindStringSubmatch(logs)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}

// publishToStream publishes msgs to the events stream over NATS, as any
// publisher could, and waits for each PubAck.
func publishToStream(t *testing.T, url string, msgs ...*nats.Msg) {
	t.Helper()
	js := testkit.MustJetStreamAt(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range msgs {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

// mustStreamLastSeq returns the last sequence of the events stream at url.
func mustStreamLastSeq(t *testing.T, url string) uint64 {
	t.Helper()
	js := testkit.MustJetStreamAt(t, url)
	return testkit.MustStreamState(t, js).LastSeq
}

// waitConsumed waits until every consumer of the events stream, whatever
// its name, has acknowledged every message: the live database then holds
// all the stream has, redeliveries included.
func waitConsumed(t *testing.T, url string) {
	t.Helper()
	js := testkit.MustJetStreamAt(t, url)
	stream := testkit.MustEventsStream(t, js)
	testkit.Eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l := stream.ListConsumers(ctx)
		n := 0
		for ci := range l.Info() {
			n++
			if ci.NumPending > 0 || ci.NumAckPending > 0 {
				return fmt.Errorf("consumer %s: %d pending, %d awaiting an ack", ci.Name, ci.NumPending, ci.NumAckPending)
			}
		}
		if err := l.Err(); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no consumer on the stream")
		}
		return nil
	})
}

// waitStored waits until the database at path holds every event of ids
// and dead dead letters.
func waitStored(t *testing.T, path string, ids map[string]bool, dead int) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		have := map[string]bool{}
		for _, ev := range readEvents(ctx, t, path) {
			have[ev.EventID] = true
		}
		missing := 0
		for id := range ids {
			if !have[id] {
				missing++
			}
		}
		if got := len(deadLetters(ctx, t, path)); missing > 0 || got != dead {
			return fmt.Errorf("%d of %d events missing, %d dead letters (want %d)", missing, len(ids), got, dead)
		}
		return nil
	})
}

// checkOnce checks that evs holds every id of acked once, and no event of
// phase 1 (ids old-*).
func checkOnce(t *testing.T, name string, evs []trackskills.Event, acked map[string]bool) {
	t.Helper()
	n := map[string]int{}
	for _, ev := range evs {
		n[ev.EventID]++
		if strings.HasPrefix(ev.EventID, "old-") {
			t.Errorf("%s: phase-1 event %s is stored", name, ev.EventID)
		}
	}
	for id := range acked {
		if n[id] != 1 {
			t.Errorf("%s: acknowledged event %s stored %d times", name, id, n[id])
		}
	}
}

// reportRowDiffs logs the rows that differ between two sets sorted by id.
func reportRowDiffs(t *testing.T, live, replayed []trackskills.Event) {
	t.Helper()
	byID := map[string]trackskills.Event{}
	for _, ev := range replayed {
		byID[ev.EventID] = ev
	}
	shown := 0
	for _, ev := range live {
		r, ok := byID[ev.EventID]
		switch {
		case !ok:
			t.Errorf("live row %s not replayed", ev.EventID)
		case !reflect.DeepEqual(r, ev):
			t.Errorf("row %s:\nlive     %+v\nreplayed %+v", ev.EventID, ev, r)
		default:
			continue
		}
		if shown++; shown == 10 {
			return
		}
	}
}

// deadLetters returns the dead letters of the database at path by stream
// sequence, without their id and storage time, which each writer sets.
func deadLetters(ctx context.Context, t *testing.T, path string) []sql.DeadLetter {
	t.Helper()
	db, err := sql.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored, err := db.ListDeadLetters(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]sql.DeadLetter, len(stored))
	for i, dl := range stored {
		out[i] = dl.DeadLetter
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StreamSeq < out[j].StreamSeq })
	return out
}

// startAnalytics runs `trackskills analytics` on the database at path, with
// live mode off, and returns its base URL once it is ready.
func startAnalytics(t *testing.T, path string) string {
	t.Helper()
	addr := testkit.MustFreeAddr(t)
	p := startBinary(t, nil, "analytics", "--db", path, "--http-addr", addr, "--nats-url=", "--log-level", "warn")
	mustWaitReady(t, p, addr)
	return "http://" + addr
}

// getBody returns the body of GET url, which must answer 200.
func getBody(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, res.StatusCode, err, body)
	}
	return body
}

// equivPaths lists a request of every analytics endpoint of
// analytics.Server.Register, with filters, for each window; /tools/{name}
// for every tool the live API lists. GET /analytics/live is left out: it
// streams the events the consumer writes from now on, not the database.
// The responses hold no clock of their own: days=N and hours=N name their
// period by N, and from/to by the given times.
func equivPaths(t *testing.T, liveAPI string, windows []string) []string {
	t.Helper()
	var paths []string
	for _, w := range windows {
		var tools []struct {
			ToolName string `json:"tool_name"`
		}
		if err := json.Unmarshal(getBody(t, liveAPI+"/analytics/tools?"+w), &tools); err != nil {
			t.Fatal(err)
		}
		if len(tools) == 0 {
			t.Fatalf("no tools in the window %s", w)
		}
		for _, ep := range []string{
			"summary", "summary?tool=Bash", "summary?category=mcp",
			"tools", "tools?category=skill",
			"retention", "retention?tool=Read",
			"errors?limit=1000", "errors?status=timeout", "errors?tool=Bash&limit=5",
			"timeseries", "timeseries?by=tool", "timeseries?category=builtin",
			"categories", "categories?tool=pdf-extract",
			"cohorts",
			"export.csv", "export.csv?status=error", "export.ndjson", "export.ndjson?tool=Read&limit=20",
		} {
			sep := "?"
			if strings.Contains(ep, "?") {
				sep = "&"
			}
			paths = append(paths, "/analytics/"+ep+sep+w)
		}
		paths = append(paths, "/analytics/timeseries?interval=hour&by=tool&"+w)
		for _, tl := range tools {
			paths = append(paths, "/analytics/tool?name="+url.QueryEscape(tl.ToolName)+"&"+w)
		}
		paths = append(paths, "/analytics/tools/"+url.PathEscape(tools[0].ToolName)+"?"+w)
	}
	return paths
}

// reachBack takes out of two answers of /analytics/retention the fields
// that legitimately differ: weekly_active_users and monthly_active_users
// count the users of the 7 and 30 UTC days ending with the window's last
// day, which reach back before the retained window, into days whose user
// rows the live database keeps (aggregates have their own retention) and
// the replay never saw. The live count may be larger, never smaller.
func reachBack(t *testing.T, path string, live, replayed []byte) ([]byte, []byte) {
	t.Helper()
	var l, r map[string]any
	if err := json.Unmarshal(live, &l); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if err := json.Unmarshal(replayed, &r); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	for _, k := range []string{"weekly_active_users", "monthly_active_users"} {
		lv, lok := l[k].(float64)
		rv, rok := r[k].(float64)
		if !lok || !rok || lv < rv {
			t.Errorf("GET %s: %s live %v, replayed %v", path, k, l[k], r[k])
		}
		delete(l, k)
		delete(r, k)
	}
	lb, err1 := json.Marshal(l)
	rb, err2 := json.Marshal(r)
	if err1 != nil || err2 != nil {
		t.Fatalf("GET %s: %v %v", path, err1, err2)
	}
	return lb, rb
}

// firstDifference shows where two bodies first differ.
func firstDifference(want, got []byte) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(i-200, 0)
	return fmt.Sprintf("at byte %d of %d (live) and %d (replayed):\nlive     …%s\nreplayed …%s",
		i, len(want), len(got), want[from:min(i+200, len(want))], got[from:min(i+200, len(got))])
}
