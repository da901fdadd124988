package alerts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackskills/trackskills/alerts"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// receiver is a webhook on a real local HTTP server that records what it
// is sent; it answers fail (a status) to the first failures requests.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	failures int
	fail     int
	block    bool // never answer (until the client gives up)
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // a short read shows as a bad body below
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, body)
		rc.headers = append(rc.headers, r.Header.Clone())
		block, fail := rc.block, 0
		if rc.failures > 0 {
			rc.failures--
			fail = rc.fail
		}
		rc.mu.Unlock()
		if block {
			<-r.Context().Done()
			return
		}
		if fail != 0 {
			w.WriteHeader(fail)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

// last decodes the last body received.
func (rc *receiver) last(t *testing.T, v any) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) == 0 {
		t.Fatal("nothing received")
	}
	if err := json.Unmarshal(rc.bodies[len(rc.bodies)-1], v); err != nil {
		t.Fatalf("decode body %s: %v", rc.bodies[len(rc.bodies)-1], err)
	}
}

// slackMsg is the shape of a Slack-compatible body.
type slackMsg struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"elements"`
	} `json:"blocks"`
}

// alertFile is a rules file with a json and a slack target and one rule.
func alertFile(t *testing.T, jsonURL, slackURL, rule string) *alerts.File {
	t.Helper()
	text := fmt.Sprintf(`targets:
  ops:
    type: json
    url: %s
    headers: {X-Token: secret}
    timeout: 200ms
    retries: 2
  chat:
    type: slack
    url: %s
    retries: 0
rules:
%s`, jsonURL, slackURL, rule)
	f, err := alerts.Parse("alerts.yml", []byte(text), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const bashRule = `  - name: bash-errors
    kind: error_rate
    tool: Bash
    above: 20%
    window: 1d
    min_calls: 10
    repeat: 1h
`

// clock is a settable clock for an Alerter.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newAlerter(t *testing.T, f *alerts.File, db *sql.DB, c *clock) *alerts.Alerter {
	t.Helper()
	cfg := alerts.DefaultConfig()
	cfg.Now, cfg.Backoff = c.Now, time.Millisecond
	a, err := alerts.New(cfg, f, db, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustEvaluate(t *testing.T, a *alerts.Alerter, wantDelivered, wantFailed int) {
	t.Helper()
	delivered, failed := a.Evaluate(context.Background())
	if delivered != wantDelivered || failed != wantFailed {
		t.Fatalf("delivered=%d failed=%d, want %d and %d", delivered, failed, wantDelivered, wantFailed)
	}
}

// Ensure an alert is sent once when it starts firing, again only after
// the repeat interval, and a resolved message once when it stops.
func TestAlerter_Evaluate(t *testing.T) {
	db := testkit.MustOpenDB(t)
	var e events
	e.add("Bash", 20, 6, "exit_code", time.Minute, 100)
	testkit.MustWriteBatch(t, db, e.list)
	ops, chat := newReceiver(t), newReceiver(t)
	c := &clock{testNow}
	a := newAlerter(t, alertFile(t, ops.URL, chat.URL, bashRule), db, c)

	mustEvaluate(t, a, 2, 0)
	var n alerts.Notification
	ops.last(t, &n)
	if n.Status != alerts.StatusFiring || n.Rule != "bash-errors" || n.Kind != alerts.KindErrorRate || n.Subject != "Bash" ||
		n.Value != 30 || n.Threshold != 20 || n.Unit != alerts.UnitPercent || n.Calls != 20 || n.Failures != 6 ||
		n.Severity != alerts.SeverityWarning || n.WindowSeconds != 86400 || n.Repeat || n.EndsAt != nil ||
		!n.StartsAt.Equal(testNow) || n.Version != 1 {
		t.Fatalf("firing body=%+v", n)
	}
	if got := ops.headers[0].Get("X-Token"); got != "secret" {
		t.Errorf("X-Token=%q, want the target's header", got)
	}
	if got := ops.headers[0].Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type=%q", got)
	}
	var s slackMsg
	chat.last(t, &s)
	if !strings.Contains(s.Text, "bash-errors") || !strings.Contains(s.Text, "Bash: 30.0% of 20 calls failed") ||
		len(s.Blocks) != 2 || s.Blocks[0].Text == nil || s.Blocks[0].Text.Type != "mrkdwn" || len(s.Blocks[1].Elements) != 1 {
		t.Fatalf("slack body=%+v", s)
	}

	t.Run("Dedup", func(t *testing.T) {
		c.now = c.now.Add(time.Minute)
		mustEvaluate(t, a, 0, 0)
		c.now = c.now.Add(58 * time.Minute)
		mustEvaluate(t, a, 0, 0)
	})
	t.Run("Repeat", func(t *testing.T) {
		c.now = c.now.Add(time.Minute) // an hour after the first
		mustEvaluate(t, a, 2, 0)
		ops.last(t, &n)
		if n.Status != alerts.StatusFiring || !n.Repeat || !n.StartsAt.Equal(testNow) {
			t.Fatalf("repeat body=%+v", n)
		}
		c.now = c.now.Add(time.Minute)
		mustEvaluate(t, a, 0, 0)
	})
	t.Run("Resolved", func(t *testing.T) {
		var more events
		more.n = 1000
		more.add("Bash", 40, 0, "", 0, 100)
		testkit.MustWriteBatch(t, db, more.list)
		c.now = c.now.Add(time.Minute)
		mustEvaluate(t, a, 2, 0)
		ops.last(t, &n)
		if n.Status != alerts.StatusResolved || n.EndsAt == nil || !n.EndsAt.Equal(c.now) || n.Subject != "Bash" {
			t.Fatalf("resolved body=%+v", n)
		}
		chat.last(t, &s)
		if !strings.HasPrefix(s.Text, "[RESOLVED] bash-errors") {
			t.Fatalf("slack text=%q", s.Text)
		}
		c.now = c.now.Add(time.Minute)
		mustEvaluate(t, a, 0, 0)
	})
	if got, want := ops.count()+chat.count(), 6; got != want {
		t.Fatalf("received %d messages, want %d", got, want)
	}
	// No identity reaches a webhook: the events' user hashes are not in
	// any body.
	for _, rc := range []*receiver{ops, chat} {
		for _, b := range rc.bodies {
			for _, ev := range e.list {
				if strings.Contains(string(b), ev.UserHash) || strings.Contains(string(b), "user") {
					t.Fatalf("body %s holds an identity", b)
				}
			}
		}
	}
}

// Ensure a rule with for fires only once its condition has held that long,
// and that a condition that ends first sends nothing.
func TestAlerter_For(t *testing.T) {
	db := testkit.MustOpenDB(t)
	var e events
	e.add("Bash", 20, 6, "exit_code", time.Minute, 100)
	testkit.MustWriteBatch(t, db, e.list)
	ops, chat := newReceiver(t), newReceiver(t)
	c := &clock{testNow}
	a := newAlerter(t, alertFile(t, ops.URL, chat.URL, bashRule+"    for: 5m\n    targets: [ops]\n"), db, c)
	mustEvaluate(t, a, 0, 0)
	c.now = c.now.Add(4 * time.Minute)
	mustEvaluate(t, a, 0, 0)
	c.now = c.now.Add(time.Minute)
	mustEvaluate(t, a, 1, 0)
	var n alerts.Notification
	ops.last(t, &n)
	if !n.StartsAt.Equal(c.now) {
		t.Fatalf("starts_at=%v, want %v", n.StartsAt, c.now)
	}
	if chat.count() != 0 {
		t.Fatal("a target the rule does not name received it")
	}
}

// Ensure failed POSTs are retried with backoff up to the target's retries,
// and what still failed is sent at the next evaluation.
func TestAlerter_Retries(t *testing.T) {
	db := testkit.MustOpenDB(t)
	var e events
	e.add("Bash", 20, 6, "exit_code", time.Minute, 100)
	testkit.MustWriteBatch(t, db, e.list)
	ops, chat := newReceiver(t), newReceiver(t)
	ops.failures, ops.fail = 2, http.StatusServiceUnavailable // then succeeds: 3 attempts of 3
	chat.failures, chat.fail = 5, http.StatusInternalServerError
	c := &clock{testNow}
	a := newAlerter(t, alertFile(t, ops.URL, chat.URL, bashRule), db, c)

	mustEvaluate(t, a, 1, 1)
	if got, want := ops.count(), 3; got != want {
		t.Fatalf("ops attempts=%d, want %d", got, want)
	}
	if got, want := chat.count(), 1; got != want { // retries: 0
		t.Fatalf("chat attempts=%d, want %d", got, want)
	}
	chat.mu.Lock()
	chat.failures = 0
	chat.mu.Unlock()
	c.now = c.now.Add(time.Minute)
	mustEvaluate(t, a, 1, 0) // chat gets it now; ops is not sent it again
	if got, want := ops.count(), 3; got != want {
		t.Fatalf("ops attempts=%d, want %d", got, want)
	}
}

func TestSender_Send(t *testing.T) {
	n := alerts.SampleNotification(testNow)
	tests := []struct {
		name         string
		failures     int
		status       int
		block        bool
		wantStatus   int
		wantAttempts int
		wantErr      bool
	}{
		{"OK", 0, 0, false, http.StatusNoContent, 1, false},
		{"RetryThenOK", 1, http.StatusTooManyRequests, false, http.StatusNoContent, 2, false},
		{"ClientErrorNotRetried", 9, http.StatusBadRequest, false, http.StatusBadRequest, 1, true},
		{"ServerErrorGivesUp", 9, http.StatusBadGateway, false, http.StatusBadGateway, 3, true},
		{"Timeout", 0, 0, true, 0, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t)
			rc.failures, rc.fail, rc.block = tt.failures, tt.status, tt.block
			target := &alerts.Target{Name: "t", Type: alerts.TargetJSON, URL: rc.URL + "/secret-path", Timeout: 100 * time.Millisecond, Retries: 2}
			s := &alerts.Sender{Backoff: time.Millisecond}
			status, err := s.Send(context.Background(), target, n)
			if status != tt.wantStatus || (err != nil) != tt.wantErr {
				t.Fatalf("status=%d err=%v, want %d, error %v", status, err, tt.wantStatus, tt.wantErr)
			}
			if got := rc.count(); got != tt.wantAttempts {
				t.Fatalf("attempts=%d, want %d", got, tt.wantAttempts)
			}
			if err != nil && strings.Contains(err.Error(), "secret-path") {
				t.Fatalf("error %q quotes the URL", err)
			}
		})
	}
}

// Ensure event-derived names cannot inject Slack markup: &, < and > are
// escaped in a slack body, and kept as they are in a json one.
func TestBody_SlackEscapes(t *testing.T) {
	n := alerts.SampleNotification(testNow)
	n.Subject = "<!channel>&<http://evil.test|x>"
	n.Summary = n.Subject + ": failing"
	b, err := alerts.Body(alerts.TargetSlack, n)
	if err != nil {
		t.Fatal(err)
	}
	var s slackMsg
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	all := s.Text + s.Blocks[0].Text.Text + s.Blocks[1].Elements[0].Text
	if strings.ContainsAny(all, "<>") || !strings.Contains(s.Text, "&lt;!channel&gt;&amp;&lt;http://evil.test|x&gt;") {
		t.Fatalf("slack text not escaped: %q", all)
	}
	b, err = alerts.Body(alerts.TargetJSON, n)
	if err != nil {
		t.Fatal(err)
	}
	var got alerts.Notification
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Subject != n.Subject || !got.Test {
		t.Fatalf("json subject=%q test=%v", got.Subject, got.Test)
	}
}

// Ensure Run evaluates at once and returns nil when its context ends.
func TestAlerter_Run(t *testing.T) {
	db := testkit.MustOpenDB(t)
	var e events
	e.add("Bash", 20, 6, "exit_code", time.Minute, 100)
	testkit.MustWriteBatch(t, db, e.list)
	ops, chat := newReceiver(t), newReceiver(t)
	a := newAlerter(t, alertFile(t, ops.URL, chat.URL, bashRule), db, &clock{testNow})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	testkit.Eventually(t, 5*time.Second, func() error {
		if ops.count() == 0 || chat.count() == 0 {
			return fmt.Errorf("received %d and %d", ops.count(), chat.count())
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
