package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Statuses of a Notification.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Notification is the body that a json target receives (docs/ALERTS.md,
// Bodies), and what a slack target's message is written from. It holds
// tool and server names, error types and numbers, never an identity.
type Notification struct {
	Version       int        `json:"version"` // of this body, 1
	Source        string     `json:"source"`  // "trackskills"
	Status        string     `json:"status"`  // firing or resolved
	Test          bool       `json:"test,omitempty"`
	Repeat        bool       `json:"repeat,omitempty"` // a reminder of an alert already sent
	Rule          string     `json:"rule"`
	Kind          Kind       `json:"kind"`
	Severity      string     `json:"severity"`
	Subject       string     `json:"subject,omitempty"`
	ErrorType     string     `json:"error_type,omitempty"`
	Summary       string     `json:"summary"`
	Value         float64    `json:"value"`
	Threshold     float64    `json:"threshold"`
	Unit          string     `json:"unit"`
	Calls         int64      `json:"calls,omitempty"`
	Failures      int64      `json:"failures,omitempty"`
	Expected      float64    `json:"expected,omitempty"`
	WindowSeconds int64      `json:"window_seconds,omitempty"`
	StartsAt      time.Time  `json:"starts_at"`
	EndsAt        *time.Time `json:"ends_at,omitempty"`
	SentAt        time.Time  `json:"sent_at"`
}

// newNotification describes finding f of rule r.
func newNotification(r *Rule, f Finding, status string, starts, now time.Time) Notification {
	n := Notification{
		Version: 1, Source: "trackskills", Status: status,
		Rule: r.Name, Kind: r.Kind, Severity: r.Severity,
		Subject: f.Subject, ErrorType: f.ErrorType, Summary: f.Summary,
		Value: f.Value, Threshold: f.Threshold, Unit: f.Unit,
		Calls: f.Calls, Failures: f.Failures, Expected: f.Expected,
		StartsAt: starts.UTC(), SentAt: now.UTC(),
	}
	if r.Kind != KindConsumerLag {
		n.WindowSeconds = int64(r.Window / time.Second)
	}
	if status == StatusResolved {
		end := now.UTC()
		n.EndsAt = &end
	}
	return n
}

// SampleNotification is the alert that `trackskills alerts test` sends to
// every target: a firing error_rate alert marked as a test.
func SampleNotification(now time.Time) Notification {
	r := Rule{Name: "trackskills-test", Kind: KindErrorRate, Severity: SeverityInfo, Window: DefaultWindow, AbovePercent: 20}
	f := Finding{
		Subject: "example_tool", Value: 25, Threshold: 20, Unit: UnitPercent, Calls: 40, Failures: 10,
		Summary: "example_tool: 25.0% of 40 calls failed in the last 15m (above 20%). This is a test alert from trackskills alerts test.",
	}
	n := newNotification(&r, f, StatusFiring, now, now)
	n.Test = true
	return n
}

// Body returns the request body of n for a target of type typ.
func Body(typ string, n Notification) ([]byte, error) {
	if typ == TargetSlack {
		return json.Marshal(slackMessage(n))
	}
	return json.Marshal(n)
}

// slackEscape escapes the three characters that Slack's mrkdwn reads as
// markup (&, <, >), so that an event-derived name cannot make a link or a
// mention.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackBody struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

func slackMessage(n Notification) slackBody {
	head := "[" + strings.ToUpper(n.Severity) + "] " + n.Rule
	switch {
	case n.Status == StatusResolved:
		head = "[RESOLVED] " + n.Rule
	case n.Test:
		head = "[TEST] " + n.Rule
	}
	summary := n.Summary
	if n.Status == StatusResolved {
		summary = "No longer firing. It was: " + summary
	}
	text := head + ": " + summary
	detail := fmt.Sprintf("kind %s · value %s %s · threshold %s · since %s",
		n.Kind, formatFloat(n.Value), n.Unit, formatFloat(n.Threshold), n.StartsAt.Format(time.RFC3339))
	if n.EndsAt != nil {
		detail += " · resolved " + n.EndsAt.Format(time.RFC3339)
	}
	return slackBody{
		Text: slackEscape(text),
		Blocks: []slackBlock{
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "*" + slackEscape(head) + "*\n" + slackEscape(summary)}},
			{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: slackEscape(detail)}}},
		},
	}
}

// Sender posts notifications to targets, with a timeout per POST and a
// bounded number of retries with backoff.
type Sender struct {
	// Client makes the requests; nil is a plain http.Client (each POST has
	// its target's timeout).
	Client *http.Client
	// Backoff is the wait before the first retry; it doubles with each
	// retry, up to 30 s. Zero is 1 s.
	Backoff time.Duration
}

// DeliveryError reports a POST that failed, after its retries. It never
// holds the target's URL, which may be a secret.
type DeliveryError struct {
	Target   string
	Status   int // the last HTTP status; 0 when no response came
	Attempts int
	Err      error
}

// Error describes the failure without the URL.
func (e *DeliveryError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("target %s: HTTP %d after %d attempts", e.Target, e.Status, e.Attempts)
	}
	return fmt.Sprintf("target %s: %v after %d attempts", e.Target, e.Err, e.Attempts)
}

// Unwrap returns the transport error, if any.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Send posts n to t and returns the HTTP status of the last attempt. A
// status of 2xx is a success; a network error, 429 or 5xx is retried up to
// t.Retries times; any other status fails at once. The error is a
// *DeliveryError, or ctx's error.
func (s *Sender) Send(ctx context.Context, t *Target, n Notification) (int, error) {
	body, err := Body(t.Type, n)
	if err != nil {
		return 0, fmt.Errorf("encode notification: %w", err)
	}
	client := s.Client
	if client == nil {
		client = &http.Client{}
	}
	backoff := s.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	var (
		status  int
		lastErr error
	)
	for attempt := 1; ; attempt++ {
		var retry bool
		status, retry, lastErr = s.post(ctx, client, t, body)
		if lastErr == nil {
			return status, nil
		}
		if !retry || attempt > t.Retries {
			return status, &DeliveryError{Target: t.Name, Status: status, Attempts: attempt, Err: lastErr}
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return status, ctx.Err()
		case <-timer.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// post makes one attempt; retry reports whether another may succeed.
func (s *Sender) post(ctx context.Context, client *http.Client, t *Target, body []byte) (status int, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, false, errors.New("bad request: check the target's url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "trackskills-alerts/1")
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error quotes the URL: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, !errors.Is(ctx.Err(), context.Canceled), err // a timeout of this attempt is retried
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	_ = resp.Body.Close()                                         // the status is what counts
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, false, nil
	}
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return resp.StatusCode, retry, fmt.Errorf("HTTP %d", resp.StatusCode)
}
