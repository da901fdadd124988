package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/streamlag"
)

const statusSummary = `Reports the state of every part, reading only: the events stream and the
SQLite consumer's durable (pending, acknowledged, lag) from --nats-url, the
database (rows, size, schema version, replay position, dead letters by
reason) opened read-only without a lock, and /readyz of --http-url (an
empty --http-url skips it). Exits 0 when every part answers and the lag is
within the thresholds, 1 when a part is down or a threshold is passed.`

// statusTimeout bounds each probe of status: a part that does not answer
// within it is reported down.
const statusTimeout = 2 * time.Second

// statusReport is the output of status; with --json it is encoded as is,
// and its keys are part of the command's interface.
type statusReport struct {
	Version  string         `json:"version"`
	OK       bool           `json:"ok"`
	Problems []string       `json:"problems"`
	NATS     natsStatus     `json:"nats"`
	Database databaseStatus `json:"database"`
	HTTP     *httpStatus    `json:"http,omitempty"`
}

// natsStatus is the NATS part of a status report.
type natsStatus struct {
	URL      string          `json:"url"`
	Up       bool            `json:"up"`
	Error    string          `json:"error,omitempty"`
	Stream   *streamStatus   `json:"stream,omitempty"`
	Consumer *consumerStatus `json:"consumer,omitempty"`
}

// streamStatus is the state of the events stream.
type streamStatus struct {
	Name      string `json:"name"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	FirstSeq  uint64 `json:"first_seq"`
	FirstTime string `json:"first_time,omitempty"`
	LastSeq   uint64 `json:"last_seq"`
	LastTime  string `json:"last_time,omitempty"`
}

// consumerStatus is the state of the SQLite consumer's durable. LagSeconds
// is absent when the oldest unacknowledged message could not be read.
type consumerStatus struct {
	Name             string   `json:"name"`
	Waiting          int      `json:"pull_requests_waiting"`
	Pending          uint64   `json:"pending"`
	AckPending       int      `json:"ack_pending"`
	Redelivered      int      `json:"redelivered"`
	LastDeliveredSeq uint64   `json:"last_delivered_seq"`
	AckFloorSeq      uint64   `json:"ack_floor_seq"`
	LagEvents        uint64   `json:"lag_events"`
	LagSeconds       *float64 `json:"lag_seconds,omitempty"`
}

// databaseStatus is the SQLite part of a status report.
type databaseStatus struct {
	Path              string           `json:"path"`
	Up                bool             `json:"up"`
	Error             string           `json:"error,omitempty"`
	DatabaseID        string           `json:"database_id,omitempty"`
	Durable           string           `json:"durable,omitempty"`
	Events            int64            `json:"events"`
	FileBytes         int64            `json:"file_bytes"`
	WALBytes          int64            `json:"wal_bytes"`
	LastEventAt       string           `json:"last_event_at,omitempty"`
	SchemaVersion     int              `json:"schema_version"`
	SchemaKnown       int              `json:"schema_known"`
	ReplayPosition    uint64           `json:"replay_position"`
	DeadLetters       int64            `json:"dead_letters"`
	DeadLetterReasons map[string]int64 `json:"dead_letter_reasons"`
}

// httpStatus is the /readyz probe of a status report.
type httpStatus struct {
	URL   string `json:"url"`
	Up    bool   `json:"up"`
	Code  int    `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// statusLimits are the lag thresholds; a negative one is not checked.
type statusLimits struct {
	maxLagEvents  int64
	maxLagSeconds float64
}

func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newCmdFlags("status", statusSummary, getenv, stderr)
	o := defaultOptions()
	o.registerData(f)
	o.registerNATSClient(f)
	httpURL := "http://127.0.0.1:8080"
	var asJSON bool
	lim := statusLimits{maxLagEvents: -1, maxLagSeconds: -1}
	f.StringVar(&httpURL, "http-url", httpURL, "base URL whose /readyz is probed (empty = skip)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.Int64Var(&lim.maxLagEvents, "max-lag-events", lim.maxLagEvents, "fail when the consumer lags more events than this (negative = no limit)")
	f.Float64Var(&lim.maxLagSeconds, "max-lag-seconds", lim.maxLagSeconds, "fail when the oldest unacknowledged event is older than this many seconds (negative = no limit)")
	if _, err := o.parse(f, args, stderr); err != nil {
		return err
	}
	auth, err := o.natsAuth(embeddednats.UserAdmin)
	if err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo() // nil without build info: versionString says unknown
	rep := statusReport{Version: versionString(info)}
	var wg sync.WaitGroup
	// The database names the durable that writes it: NATS is asked after.
	wg.Go(func() {
		rep.Database = probeDatabase(ctx, o.dbPath())
		rep.NATS = probeNATS(ctx, o.natsURL, rep.Database.Durable, time.Now, auth...)
	})
	if httpURL != "" {
		wg.Go(func() { rep.HTTP = probeHTTP(ctx, httpURL) })
	}
	wg.Wait()
	rep.Problems = statusProblems(&rep, lim)
	rep.OK = len(rep.Problems) == 0
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write status: %w", err)
		}
	} else if err := writeStatusText(stdout, &rep); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	if !rep.OK {
		return fmt.Errorf("status: %s", strings.Join(rep.Problems, "; "))
	}
	return nil
}

// probeNATS reads the stream and the durable consumer named durable (none
// when the database could not say its name); it connects once, with
// statusTimeout, and never retries; opts are natsAuth's.
func probeNATS(ctx context.Context, url, durable string, now func() time.Time, opts ...nats.Option) natsStatus {
	st := natsStatus{URL: redactURLs(url)}
	nc, err := nats.Connect(url, append([]nats.Option{nats.Name("trackskills-status"), nats.Timeout(statusTimeout), nats.NoReconnect()}, opts...)...)
	if err != nil {
		st.Error = authHint(err).Error()
		return st
	}
	defer nc.Close()
	st.Up = true
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		st.Error = fmt.Sprintf("jetstream: %v", err)
		return st
	}
	s, err := js.Stream(ctx, trackskills.StreamName)
	if err != nil {
		st.Error = fmt.Sprintf("stream %s: %v", trackskills.StreamName, err)
		return st
	}
	ss := s.CachedInfo().State
	st.Stream = &streamStatus{
		Name: trackskills.StreamName, Messages: ss.Msgs, Bytes: ss.Bytes,
		FirstSeq: ss.FirstSeq, FirstTime: formatStatusTime(ss.FirstTime),
		LastSeq: ss.LastSeq, LastTime: formatStatusTime(ss.LastTime),
	}
	if durable == "" {
		st.Error = "consumer unknown: the database that names its durable cannot be read"
		return st
	}
	c, err := s.Consumer(ctx, durable)
	if err != nil {
		st.Error = fmt.Sprintf("consumer %s: %v", durable, err)
		return st
	}
	ci := c.CachedInfo()
	cs := &consumerStatus{
		Name: durable, Waiting: ci.NumWaiting, Pending: ci.NumPending, AckPending: ci.NumAckPending,
		Redelivered: ci.NumRedelivered, LastDeliveredSeq: ci.Delivered.Stream, AckFloorSeq: ci.AckFloor.Stream,
	}
	// The lag in time is the age of the oldest unacknowledged message;
	// when it cannot be read it is left out.
	cs.LagEvents, cs.LagSeconds = streamlag.Of(ctx, s, ci, now())
	st.Consumer = cs
	return st
}

// probeDatabase opens the database read-only, without a lock, and reads
// its status.
func probeDatabase(ctx context.Context, path string) databaseStatus {
	st := databaseStatus{Path: path, DeadLetterReasons: map[string]int64{}}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	db, err := sql.OpenReadOnly(ctx, path)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	defer db.Close() //nolint:errcheck // read-only: nothing to lose
	ds, err := db.Status(ctx)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	id, err := db.Identity(ctx)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	st.Up = true
	st.DatabaseID, st.Durable = id.DatabaseID, id.Durable
	st.Events, st.FileBytes, st.WALBytes = ds.Events, ds.FileBytes, ds.WALBytes
	st.LastEventAt = formatStatusTime(ds.LastEventAt)
	st.SchemaVersion, st.SchemaKnown = ds.Migrations, ds.KnownMigrations
	st.ReplayPosition = ds.ReplayPosition
	st.DeadLetters, st.DeadLetterReasons = ds.DeadLetters, ds.DeadLetterReasons
	return st
}

// probeHTTP asks base's /readyz; up is a 200.
func probeHTTP(ctx context.Context, base string) *httpStatus {
	st := &httpStatus{URL: strings.TrimSuffix(base, "/") + "/readyz"}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.URL, nil)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // the code is the answer
	_ = resp.Body.Close()
	st.Code = resp.StatusCode
	st.Up = resp.StatusCode == http.StatusOK
	if !st.Up {
		st.Error = resp.Status
	}
	return st
}

// statusProblems lists, in a fixed order, what makes the report fail: a
// part down or a lag past its threshold.
func statusProblems(rep *statusReport, lim statusLimits) []string {
	p := []string{}
	switch {
	case !rep.NATS.Up:
		p = append(p, "nats is down: "+rep.NATS.Error)
	case rep.NATS.Error != "":
		p = append(p, "nats: "+rep.NATS.Error)
	}
	if !rep.Database.Up {
		p = append(p, "database is down: "+rep.Database.Error)
	} else if rep.Database.SchemaVersion < rep.Database.SchemaKnown {
		p = append(p, fmt.Sprintf("database schema has %d of %d migrations", rep.Database.SchemaVersion, rep.Database.SchemaKnown))
	}
	if rep.HTTP != nil && !rep.HTTP.Up {
		p = append(p, fmt.Sprintf("http %s is down: %s", rep.HTTP.URL, rep.HTTP.Error))
	}
	if c := rep.NATS.Consumer; c != nil {
		if lim.maxLagEvents >= 0 && c.LagEvents > uint64(lim.maxLagEvents) {
			p = append(p, fmt.Sprintf("consumer lags %d events, over --max-lag-events %d", c.LagEvents, lim.maxLagEvents))
		}
		if lim.maxLagSeconds >= 0 && c.LagSeconds != nil && *c.LagSeconds > lim.maxLagSeconds {
			p = append(p, fmt.Sprintf("consumer lags %.1f s, over --max-lag-seconds %g", *c.LagSeconds, lim.maxLagSeconds))
		}
	}
	return p
}

// writeStatusText writes the report as aligned "name  value" lines.
func writeStatusText(w io.Writer, rep *statusReport) error {
	var b strings.Builder
	line := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "%-17s %s\n", name, fmt.Sprintf(format, args...))
	}
	line("version", "%s", rep.Version)
	line("nats", "%s %s%s", upDown(rep.NATS.Up), rep.NATS.URL, errSuffix(rep.NATS.Error))
	if s := rep.NATS.Stream; s != nil {
		line("stream", "%s: %d messages, %d bytes", s.Name, s.Messages, s.Bytes)
		line("  first", "seq %d %s", s.FirstSeq, orNone(s.FirstTime))
		line("  last", "seq %d %s", s.LastSeq, orNone(s.LastTime))
	}
	if c := rep.NATS.Consumer; c != nil {
		line("consumer", "%s: %d pending, %d ack pending, %d redelivered, %d pull requests waiting", c.Name, c.Pending, c.AckPending, c.Redelivered, c.Waiting)
		line("  delivered", "seq %d, ack floor seq %d", c.LastDeliveredSeq, c.AckFloorSeq)
		lagTime := "age unknown (oldest unacknowledged message not readable)"
		if c.LagSeconds != nil {
			lagTime = fmt.Sprintf("%.1f s", *c.LagSeconds)
		}
		line("  lag", "%d events, %s", c.LagEvents, lagTime)
	}
	d := rep.Database
	line("database", "%s %s%s", upDown(d.Up), d.Path, errSuffix(d.Error))
	if d.Up {
		line("  identity", "%s, durable %s", d.DatabaseID, d.Durable)
		line("  events", "%d, last at %s", d.Events, orNone(d.LastEventAt))
		line("  size", "%d bytes, wal %d bytes", d.FileBytes, d.WALBytes)
		line("  schema", "%d of %d migrations", d.SchemaVersion, d.SchemaKnown)
		line("  replay position", "%d", d.ReplayPosition)
		line("  dead letters", "%d%s", d.DeadLetters, reasonList(d.DeadLetterReasons))
	}
	if h := rep.HTTP; h != nil {
		line("http", "%s %s%s", upDown(h.Up), h.URL, errSuffix(h.Error))
	}
	if rep.OK {
		line("status", "ok")
	} else {
		line("status", "FAIL")
		for _, p := range rep.Problems {
			line("", "%s", p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func upDown(up bool) string {
	if up {
		return "up  "
	}
	return "down"
}

func errSuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return " (" + msg + ")"
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// reasonList formats dead letters by reason as " (a 2, b 1)", by reason.
func reasonList(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	reasons := make([]string, 0, len(m))
	for r := range m {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s %d", r, m[r])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// formatStatusTime formats t as RFC 3339 in UTC; the zero time is "".
func formatStatusTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
