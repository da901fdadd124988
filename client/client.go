// Package client sends events to a Track Skills server.
//
// Send posts events and waits for the answer (the trackskills hook and send
// commands use it). Track, Record, Flush and Close are for programs that
// report their own tools: Track runs a function and records how it went,
// and a background goroutine sends the queued events in batches, so the
// caller never waits for the network.
//
//	c := client.New(client.FromEnv())
//	defer c.Close(context.Background())
//	err := c.Track(ctx, "resize_image", func(ctx context.Context) error {
//		return resize(ctx, img)
//	})
//
// The package uses only the standard library and the root package (itself
// standard library only), for the server's limits.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultURL           = "http://127.0.0.1:8080"
	DefaultTimeout       = 5 * time.Second
	DefaultQueueSize     = 10_000
	DefaultBatchSize     = 100
	DefaultFlushInterval = time.Second
	DefaultSource        = "go"
)

// Limits of one POST /api/track/batch.
const (
	// MaxBatchEvents is the most events the server takes in one batch.
	MaxBatchEvents = 1000
	// maxBatchBytes stays under the server's 1 MiB, with room for the
	// brackets and commas.
	maxBatchBytes = 1<<20 - 4096
	// maxAnswerBytes bounds how much of an answer is read.
	maxAnswerBytes = 4 << 20
)

// retries is how many times the background sender sends a batch again after
// a retryable failure, waiting retryWait, then twice that (or the server's
// Retry-After, up to maxRetryWait).
const (
	retries      = 2
	retryWait    = 200 * time.Millisecond
	maxRetryWait = 2 * time.Second
)

// Config configures a Client; the zero value of each field means its default.
type Config struct {
	// URL is the server's base URL (DefaultURL).
	URL string
	// Key is the ingest key, sent as "Authorization: Bearer <key>"; none
	// when empty.
	Key string
	// Timeout bounds each HTTP request (DefaultTimeout).
	Timeout time.Duration
	// QueueSize is how many events Record keeps waiting at most; past it
	// the oldest is dropped and counted in Dropped (DefaultQueueSize).
	QueueSize int
	// BatchSize is how many queued events go in one request, at most
	// MaxBatchEvents and QueueSize (DefaultBatchSize).
	BatchSize int
	// FlushInterval is the longest an event waits in the queue before the
	// background sender sends it (DefaultFlushInterval).
	FlushInterval time.Duration
	// HTTPClient sends the requests (http.DefaultClient).
	HTTPClient *http.Client
	// Category is the tool_category of events that have none; empty leaves
	// it to the server ("default").
	Category string
	// Source is the source of events that have none (DefaultSource, "go").
	// The server accepts api, hook, bash, js, go, otlp, import and codex.
	Source string
	// UserID is the user_id of events that have none; the server hashes
	// it and never stores it.
	UserID string
	// OnError, when set, receives every failure of the background sender
	// (after its retries). It is called from that goroutine: it must not
	// block for long, nor call Flush or Close.
	OnError func(error)
}

// FromEnv returns a Config from the environment: TRACKSKILLS_URL (default
// DefaultURL), TRACKSKILLS_KEY, TRACKSKILLS_USER and TRACKSKILLS_TIMEOUT
// (seconds, such as 2 or 0.5, or a Go duration such as 500ms).
func FromEnv() Config {
	cfg := Config{
		URL:    os.Getenv("TRACKSKILLS_URL"),
		Key:    os.Getenv("TRACKSKILLS_KEY"),
		UserID: os.Getenv("TRACKSKILLS_USER"),
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if v := strings.TrimSpace(os.Getenv("TRACKSKILLS_TIMEOUT")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			cfg.Timeout = time.Duration(s * float64(time.Second))
		} else if d, err := time.ParseDuration(v); err == nil && d > 0 {
			cfg.Timeout = d
		}
	}
	return cfg
}

// Client sends events to one server. It is safe for concurrent use.
type Client struct {
	cfg      Config
	trackURL string
	batchURL string

	mu      sync.Mutex
	queue   []Event
	started bool // the background sender runs
	closed  bool

	dropped  atomic.Int64
	wake     chan struct{} // a full batch waits
	flushReq chan flushRequest
	stop     chan struct{} // closed by Close
	done     chan struct{} // closed when the sender has returned
	finalErr error         // the sender's last flush, read after done

	// ctx is cancelled when Close gives up: sends in flight stop.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a Client; the background sender starts with the first
// Record or Track. Call Close to send what is queued before the program ends.
func New(cfg Config) *Client {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.BatchSize = min(cfg.BatchSize, MaxBatchEvents, cfg.QueueSize)
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Source == "" {
		cfg.Source = DefaultSource
	}
	base := strings.TrimRight(cfg.URL, "/")
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{
		cfg:      cfg,
		trackURL: base + "/api/track",
		batchURL: base + "/api/track/batch",
		wake:     make(chan struct{}, 1),
		flushReq: make(chan flushRequest),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
	}
}

// Send posts events and waits for the server's answer: one event to
// /api/track, more to /api/track/batch in requests of at most
// MaxBatchEvents events and 1 MiB. Empty ToolCategory, Source and UserID
// are filled from the Config; the events themselves are not modified.
//
// It returns how many events the server accepted, and an error when any
// was not: an *APIError for each event the server refused (a batch stores
// the valid events even when others are refused; Index tells which) or for
// a refused request (Status 401, 413, 429, 5xx...), or a *NetworkError when
// the server could not be reached or did not answer. A request that fails
// as a whole stops Send: the events of the later requests are not sent.
// Use IsRetryable to decide whether sending again may help, and set EventID
// on every event to make sending again safe.
func (c *Client) Send(ctx context.Context, events ...Event) (accepted int, err error) {
	if len(events) == 0 {
		return 0, nil
	}
	var errs []error
	bodies := make([][]byte, 0, len(events))
	index := make([]int, 0, len(events)) // bodies[i] is events[index[i]]
	for i := range events {
		ev := events[i]
		if ev.ToolCategory == "" {
			ev.ToolCategory = c.cfg.Category
		}
		if ev.Source == "" {
			ev.Source = c.cfg.Source
		}
		if ev.UserID == "" {
			ev.UserID = c.cfg.UserID
		}
		b, err := json.Marshal(&ev)
		if err != nil {
			errs = append(errs, &APIError{Index: i, Field: encodeField(err), Message: "cannot encode the event: " + err.Error()})
			continue
		}
		bodies = append(bodies, b)
		index = append(index, i)
	}
	if len(events) == 1 {
		if len(bodies) == 0 {
			return 0, errs[0]
		}
		if err := c.post(ctx, c.trackURL, bodies[0], nil); err != nil {
			var ae *APIError
			if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
				ae.Index = 0
			}
			return 0, err
		}
		return 1, nil
	}

	for start := 0; start < len(bodies); {
		// One request: as many events as fit in MaxBatchEvents and 1 MiB.
		end, size := start, 2
		for end < len(bodies) && end-start < MaxBatchEvents && (end == start || size+len(bodies[end])+1 <= maxBatchBytes) {
			size += len(bodies[end]) + 1
			end++
		}
		var buf bytes.Buffer
		buf.Grow(size)
		buf.WriteByte('[')
		for i := start; i < end; i++ {
			if i > start {
				buf.WriteByte(',')
			}
			buf.Write(bodies[i])
		}
		buf.WriteByte(']')

		var answer batchAnswer
		err := c.post(ctx, c.batchURL, buf.Bytes(), &answer)
		var ae *APIError
		switch {
		case err == nil || (errors.As(err, &ae) && ae.Status == http.StatusBadRequest && answer.Rejected != nil):
			// 200, or 400 when every event of the request was refused:
			// name each refused event and go on with the next request.
			accepted += answer.Accepted
			for _, r := range answer.Rejected {
				i := -1
				if r.Index >= 0 && start+r.Index < end {
					i = index[start+r.Index]
				}
				errs = append(errs, &APIError{Status: http.StatusBadRequest, Message: r.Error, Field: r.Field, Index: i})
			}
		default:
			errs = append(errs, fmt.Errorf("send events %d to %d of %d: %w", index[start], index[end-1], len(events), err))
			return accepted, errors.Join(errs...)
		}
		start = end
	}
	return accepted, errors.Join(errs...)
}

// encodeField guesses the field that json.Marshal failed on: only Metadata
// can hold invalid JSON.
func encodeField(err error) string {
	var me *json.MarshalerError
	if errors.As(err, &me) {
		return "metadata"
	}
	return ""
}

type batchAnswer struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
		Field string `json:"field"`
	} `json:"rejected"`
}

type errorAnswer struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

// post sends one request. A 2xx answer is decoded into answer (when not
// nil); a 400 answer too, for the rejected events of a batch.
func (c *Client) post(ctx context.Context, url string, body []byte, answer any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &NetworkError{URL: url, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "trackskills-go")
	if c.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return &NetworkError{URL: url, Err: err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes))
	if err != nil {
		return &NetworkError{URL: url, Err: fmt.Errorf("read answer: %w", err)}
	}
	if res.StatusCode/100 == 2 {
		if answer != nil {
			if err := json.Unmarshal(data, answer); err != nil {
				return &NetworkError{URL: url, Err: fmt.Errorf("decode answer: %w", err)}
			}
		}
		return nil
	}
	ae := &APIError{Status: res.StatusCode, Index: -1, RetryAfter: parseRetryAfter(res.Header.Get("Retry-After"))}
	var ea errorAnswer
	if json.Unmarshal(data, &ea) == nil && ea.Error != "" {
		ae.Message, ae.Field = ea.Error, ea.Field
	} else {
		ae.Message = http.StatusText(res.StatusCode)
	}
	if res.StatusCode == http.StatusBadRequest && answer != nil {
		_ = json.Unmarshal(data, answer) // a batch's rejected list, when there is one
	}
	return ae
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
