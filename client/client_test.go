package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackskills/trackskills/client"
)

func ptr[T any](v T) *T { return &v }

func TestClient_Send(t *testing.T) {
	t.Parallel()
	needServer(t)

	t.Run("One", func(t *testing.T) {
		t.Parallel()
		name := uniqueName("one")
		ts := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
		c := client.New(client.Config{URL: shared.URL, UserID: "alice"})
		ev := client.Event{
			ToolName: name, ToolCategory: "analytics", Status: client.StatusError,
			DurationMs: ptr[int64](5000), ErrorType: "internal", ErrorMessage: "Connection \"timeout\"\nline 2",
			Metadata: json.RawMessage(`{"params_count":3}`), EventID: "evt-" + name, Timestamp: ts,
			SessionID: "s1",
		}
		n, err := c.Send(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n, 1; got != want {
			t.Fatalf("accepted=%d, want %d", got, want)
		}
		got := waitStored(t, shared.URL, name, 1)[0]
		if got.EventID != ev.EventID || got.ToolCategory != "analytics" || got.Status != "error" ||
			got.DurationMs == nil || *got.DurationMs != 5000 || got.ErrorType == nil || *got.ErrorType != "internal" ||
			got.ErrorMessage == nil || *got.ErrorMessage != ev.ErrorMessage || got.Source != "go" ||
			got.UserIDHash == "" || got.SessionHash == nil {
			t.Fatalf("stored %+v", got)
		}
		if string(got.Metadata) != `{"params_count":3}` {
			t.Fatalf("metadata=%s", got.Metadata)
		}
		if st, err := time.Parse(time.RFC3339, got.Timestamp); err != nil || !st.Equal(ts) {
			t.Fatalf("timestamp=%s (%v), want %s", got.Timestamp, err, ts.UTC().Format(time.RFC3339Nano))
		}
	})

	t.Run("Many", func(t *testing.T) {
		t.Parallel()
		name := uniqueName("many")
		tr := &countingTransport{}
		c := client.New(client.Config{URL: shared.URL, Category: "batchcat", HTTPClient: &http.Client{Transport: tr}})
		evs := make([]client.Event, 10)
		for i := range evs {
			evs[i] = client.Event{ToolName: name, Status: client.StatusSuccess, DurationMs: ptr(int64(i))}
		}
		n, err := c.Send(t.Context(), evs...)
		if err != nil {
			t.Fatal(err)
		}
		if n != 10 {
			t.Fatalf("accepted=%d, want 10", n)
		}
		if got := tr.Paths(); len(got) != 1 || got[0] != "/api/track/batch" {
			t.Fatalf("requests %v, want one to /api/track/batch", got)
		}
		for _, ev := range waitStored(t, shared.URL, name, 10) {
			if ev.ToolCategory != "batchcat" || ev.Status != "success" {
				t.Fatalf("stored %+v", ev)
			}
		}
		if evs[0].ToolCategory != "" || evs[0].Source != "" {
			t.Fatalf("Send changed the caller's events: %+v", evs[0])
		}
	})

	t.Run("Chunked", func(t *testing.T) {
		t.Parallel()
		name := uniqueName("chunked")
		tr := &countingTransport{}
		c := client.New(client.Config{URL: shared.URL, HTTPClient: &http.Client{Transport: tr}})
		evs := make([]client.Event, 1500)
		for i := range evs {
			evs[i] = client.Event{ToolName: name, Status: client.StatusSuccess, EventID: fmt.Sprintf("%s-%d", name, i)}
		}
		n, err := c.Send(t.Context(), evs...)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1500 {
			t.Fatalf("accepted=%d, want 1500", n)
		}
		if got := tr.Paths(); len(got) != 2 {
			t.Fatalf("requests %v, want 2", got)
		}
		waitStored(t, shared.URL, name, 1500)
	})

	t.Run("ErrBadEvent", func(t *testing.T) {
		t.Parallel()
		c := client.New(client.Config{URL: shared.URL})
		_, err := c.Send(t.Context(), client.Event{ToolName: uniqueName("bad"), Status: "maybe"})
		var ae *client.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("err=%v (%T), want *APIError", err, err)
		}
		if ae.Status != http.StatusBadRequest || ae.Field != "status" || ae.Index != 0 || ae.Retryable() || client.IsRetryable(err) {
			t.Fatalf("err=%+v", ae)
		}
		if !strings.Contains(ae.Message, "maybe") {
			t.Fatalf("message=%q", ae.Message)
		}
	})

	t.Run("ErrPartialBatch", func(t *testing.T) {
		t.Parallel()
		name := uniqueName("partial")
		c := client.New(client.Config{URL: shared.URL})
		n, err := c.Send(t.Context(),
			client.Event{ToolName: name, Status: client.StatusSuccess},
			client.Event{ToolName: name, Status: client.StatusSuccess, DurationMs: ptr[int64](-1)},
			client.Event{ToolName: name, Status: client.StatusSuccess},
			client.Event{ToolName: name, Status: client.StatusSuccess, Metadata: json.RawMessage(`{bad`)},
		)
		if n != 2 {
			t.Fatalf("accepted=%d, want 2", n)
		}
		var refused []*client.APIError
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var ae *client.APIError
			if !errors.As(e, &ae) {
				t.Fatalf("error %v (%T), want *APIError", e, e)
			}
			refused = append(refused, ae)
		}
		if len(refused) != 2 {
			t.Fatalf("errors %v, want 2", err)
		}
		// The client refuses invalid metadata itself (Status 0) before
		// the server refuses the negative duration.
		byIndex := map[int]*client.APIError{}
		for _, ae := range refused {
			byIndex[ae.Index] = ae
		}
		if ae := byIndex[1]; ae == nil || ae.Status != 400 || ae.Field != "duration_ms" {
			t.Fatalf("event 1: %+v", ae)
		}
		if ae := byIndex[3]; ae == nil || ae.Status != 0 || ae.Field != "metadata" {
			t.Fatalf("event 3: %+v", ae)
		}
		if client.IsRetryable(err) {
			t.Fatal("refused events are not retryable")
		}
		waitStored(t, shared.URL, name, 2)
	})

	t.Run("ErrServerDown", func(t *testing.T) {
		t.Parallel()
		c := client.New(client.Config{URL: closedURL(t), Timeout: 2 * time.Second})
		for _, n := range []int{1, 3} {
			start := time.Now()
			evs := make([]client.Event, n)
			for i := range evs {
				evs[i] = client.Event{ToolName: "down", Status: client.StatusSuccess}
			}
			accepted, err := c.Send(t.Context(), evs...)
			var ne *client.NetworkError
			if accepted != 0 || !errors.As(err, &ne) || !client.IsRetryable(err) {
				t.Fatalf("Send %d: accepted=%d err=%v (%T), want a retryable *NetworkError", n, accepted, err, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Send took %s", d)
			}
		}
	})

	t.Run("ErrTooManyRequests", func(t *testing.T) {
		t.Parallel()
		s := mustStartServer(t, "--rate-limit", "1")
		c := client.New(client.Config{URL: s.URL})
		var ae *client.APIError
		for i := 0; i < 20 && ae == nil; i++ {
			_, err := c.Send(t.Context(), client.Event{ToolName: "limited", Status: client.StatusSuccess})
			if err != nil && !errors.As(err, &ae) {
				t.Fatalf("err=%v (%T)", err, err)
			}
		}
		if ae == nil || ae.Status != http.StatusTooManyRequests || !ae.Retryable() || ae.RetryAfter != time.Second {
			t.Fatalf("err=%+v, want a retryable 429 with Retry-After 1s", ae)
		}
	})
}

// TestKeys runs the Go client and the bash helper against a server that
// requires an ingest key.
func TestKeys(t *testing.T) {
	t.Parallel()
	needServer(t)
	s := mustStartServer(t, "--ingest-keys", "k1,k2")

	t.Run("GoWrongKey", func(t *testing.T) {
		for _, key := range []string{"", "nope"} {
			c := client.New(client.Config{URL: s.URL, Key: key})
			_, err := c.Send(t.Context(), client.Event{ToolName: "keyed", Status: client.StatusSuccess})
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Index != -1 || client.IsRetryable(err) {
				t.Fatalf("key %q: err=%v, want a permanent 401", key, err)
			}
		}
	})

	t.Run("GoKey", func(t *testing.T) {
		name := uniqueName("keyed")
		c := client.New(client.Config{URL: s.URL, Key: "k2"})
		if _, err := c.Send(t.Context(), client.Event{ToolName: name, Status: client.StatusSuccess}); err != nil {
			t.Fatal(err)
		}
		waitStored(t, s.URL, name, 1)
	})

	t.Run("Bash", func(t *testing.T) {
		name := uniqueName("bashkey")
		// Refused without a key, or with a wrong one; accepted with
		// TRACKSKILLS_KEY, and with the seed's API_KEY.
		runTrackSh(t, []string{"TRACKSKILLS_URL=" + s.URL, "TRACKSKILLS_SYNC=1"}, name)
		runTrackSh(t, []string{"TRACKSKILLS_URL=" + s.URL, "TRACKSKILLS_SYNC=1", "TRACKSKILLS_KEY=wrong"}, name)
		_, stderr := runTrackSh(t, []string{"TRACKSKILLS_URL=" + s.URL, "TRACKSKILLS_DEBUG=1"}, name)
		if !strings.Contains(stderr, "HTTP 401") {
			t.Fatalf("without a key: %s", stderr)
		}
		runTrackSh(t, []string{"TRACKSKILLS_URL=" + s.URL, "TRACKSKILLS_SYNC=1", "TRACKSKILLS_KEY=k1"}, name)
		runTrackSh(t, []string{"TRACKSKILLS_URL=" + s.URL, "TRACKSKILLS_SYNC=1", "API_KEY=k2"}, name)
		waitStored(t, s.URL, name, 2)
	})
}

func TestClient_Track(t *testing.T) {
	t.Parallel()
	needServer(t)
	name := uniqueName("track")
	c := client.New(client.Config{URL: shared.URL, FlushInterval: time.Hour})
	t.Cleanup(func() { _ = c.Close(context.Background()) }) // Close is tested on its own

	_, pathErr := os.Open("/does/not/exist")
	if pathErr == nil {
		t.Fatal("expected an error")
	}
	plain := errors.New("plain failure")
	wrapped := fmt.Errorf("load config: %w", pathErr)

	tests := []struct {
		name     string
		err      error
		status   string
		errType  string
		minDurMs int64
	}{
		{name: "OK", status: "success", minDurMs: 20},
		{name: "PathError", err: pathErr, status: "error", errType: "PathError"},
		{name: "Wrapped", err: wrapped, status: "error", errType: "PathError"},
		{name: "Plain", err: plain, status: "error", errType: "error"},
		{name: "Deadline", err: fmt.Errorf("query: %w", context.DeadlineExceeded), status: "timeout", errType: "DeadlineExceeded"},
	}
	for _, tt := range tests {
		got := c.Track(t.Context(), name+"_"+tt.name, func(context.Context) error {
			if tt.minDurMs > 0 {
				time.Sleep(time.Duration(tt.minDurMs) * time.Millisecond)
			}
			return tt.err
		})
		if got != tt.err {
			t.Fatalf("%s: Track returned %v, want fn's error %v", tt.name, got, tt.err)
		}
	}
	// A panic goes on, and is recorded.
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("recovered %v, want kaboom", p)
			}
		}()
		_ = c.Track(t.Context(), name+"_Panic", func(context.Context) error { panic("kaboom") })
	}()

	// FlushInterval is an hour: only Flush sends.
	if err := c.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := waitStored(t, shared.URL, name+"_"+tt.name, 1)[0]
			if ev.Status != tt.status || ev.Source != "go" || ev.DurationMs == nil || *ev.DurationMs < tt.minDurMs ||
				len(ev.EventID) != 26 {
				t.Fatalf("stored %+v", ev)
			}
			if tt.err == nil {
				if ev.ErrorType != nil || ev.ErrorMessage != nil {
					t.Fatalf("stored %+v", ev)
				}
				return
			}
			if ev.ErrorType == nil || *ev.ErrorType != tt.errType || ev.ErrorMessage == nil || *ev.ErrorMessage != tt.err.Error() {
				t.Fatalf("error_type=%v error_message=%v, want %q %q", deref(ev.ErrorType), deref(ev.ErrorMessage), tt.errType, tt.err.Error())
			}
		})
	}
	t.Run("Panic", func(t *testing.T) {
		ev := waitStored(t, shared.URL, name+"_Panic", 1)[0]
		if ev.Status != "error" || deref(ev.ErrorType) != "panic" || deref(ev.ErrorMessage) != "kaboom" {
			t.Fatalf("stored %+v", ev)
		}
	})
	if d := c.Dropped(); d != 0 {
		t.Fatalf("dropped %d", d)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// Ensure many goroutines can track at once (run with -race) and that every
// event arrives, in batches.
func TestClient_Concurrent(t *testing.T) {
	t.Parallel()
	needServer(t)
	name := uniqueName("concurrent")
	tr := &countingTransport{}
	c := client.New(client.Config{URL: shared.URL, BatchSize: 100, FlushInterval: 20 * time.Millisecond,
		HTTPClient: &http.Client{Transport: tr}})
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for i := range 50 {
				_ = c.Track(t.Context(), name, func(context.Context) error { return nil })
				if i == 25 && g%5 == 0 {
					_ = c.Flush(t.Context()) // flushes meanwhile are fine
				}
			}
		})
	}
	wg.Wait()
	if err := c.Close(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitStored(t, shared.URL, name, 1000)
	if n := len(tr.Paths()); n > 200 {
		t.Fatalf("%d requests for 1000 events", n)
	}
}

// Ensure a full queue drops events, counts them, and never blocks, while the
// server is down.
func TestClient_Overflow(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var failures []error
	c := client.New(client.Config{URL: closedURL(t), QueueSize: 5, BatchSize: 2, FlushInterval: 5 * time.Millisecond,
		OnError: func(err error) {
			mu.Lock()
			failures = append(failures, err)
			mu.Unlock()
		}})
	start := time.Now()
	for range 1000 {
		_ = c.Track(t.Context(), "overflow", func(context.Context) error { return nil })
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("1000 Track calls took %s", d)
	}
	if d := c.Dropped(); d < 900 {
		t.Fatalf("dropped %d of 1000 with a queue of 5", d)
	}
	start = time.Now()
	err := c.Close(ctxTimeout(t, 500*time.Millisecond))
	if err == nil {
		t.Fatal("Close: no error with the server down")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %s", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) == 0 || !client.IsRetryable(failures[0]) {
		t.Fatalf("OnError got %v", failures)
	}
}

// Ensure Close sends what is queued, and that the client is harmless after.
func TestClient_Close(t *testing.T) {
	t.Parallel()
	needServer(t)
	name := uniqueName("close")
	c := client.New(client.Config{URL: shared.URL, FlushInterval: time.Hour})
	for range 3 {
		_ = c.Track(t.Context(), name, func(context.Context) error { return nil })
	}
	if err := c.Close(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitStored(t, shared.URL, name, 3)

	want := errors.New("still runs")
	ran := false
	if got := c.Track(t.Context(), name, func(context.Context) error { ran = true; return want }); got != want || !ran {
		t.Fatalf("Track after Close: ran=%v err=%v", ran, got)
	}
	c.Record(client.Event{ToolName: name, Status: client.StatusSuccess})
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Send still works: a marker sent now is stored after anything the
	// closed client might have sent, so once it is there, nothing else is.
	if _, err := c.Send(t.Context(), client.Event{ToolName: name, Status: client.StatusTimeout}); err != nil {
		t.Fatal(err)
	}
	evs := waitStored(t, shared.URL, name, 4)
	for _, ev := range evs {
		if ev.Status == "error" {
			t.Fatalf("an event recorded after Close was stored: %+v", ev)
		}
	}
	if c.Dropped() != 0 {
		t.Fatalf("dropped %d", c.Dropped())
	}

	// A client that never recorded closes at once.
	if err := client.New(client.Config{URL: shared.URL}).Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("TRACKSKILLS_URL", "")
	t.Setenv("TRACKSKILLS_KEY", "k")
	t.Setenv("TRACKSKILLS_USER", "bob")
	t.Setenv("TRACKSKILLS_TIMEOUT", "0.5")
	cfg := client.FromEnv()
	if cfg.URL != client.DefaultURL || cfg.Key != "k" || cfg.UserID != "bob" || cfg.Timeout != 500*time.Millisecond {
		t.Fatalf("FromEnv=%+v", cfg)
	}
	t.Setenv("TRACKSKILLS_URL", "http://example.test:9/")
	t.Setenv("TRACKSKILLS_TIMEOUT", "250ms")
	if cfg := client.FromEnv(); cfg.URL != "http://example.test:9/" || cfg.Timeout != 250*time.Millisecond {
		t.Fatalf("FromEnv=%+v", cfg)
	}
}
