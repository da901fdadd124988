package analytics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/streamlag"
)

// The states of the pipeline's figures, from best to worst.
const (
	StateOK    = "ok"
	StateAmber = "amber"
	StateRed   = "red"
)

// The sources of the consumer lag of GET /analytics/pipeline.
const (
	// LagFromStream: the lag is read from the stream and the consumer's
	// durable.
	LagFromStream = "stream"
	// LagFromDatabase: analytics has no stream to read (no NATS
	// connection, or NATS did not answer), and the lag in seconds is the
	// time since the newest stored event was received.
	LagFromDatabase = "database"
)

const (
	// RateWindow is the span over which the pipeline's events per second
	// are counted.
	RateWindow = time.Minute
	// DeadLetterWindow is how recent a dead letter turns the dead letters
	// amber; older ones are only counted.
	DeadLetterWindow = 24 * time.Hour
	// pipelineStreamTimeout bounds the reads of the stream and the durable.
	pipelineStreamTimeout = 2 * time.Second
)

// PipelineConfig holds the thresholds of GET /analytics/pipeline: how long
// the oldest event of the stream that SQLite does not hold yet may wait.
type PipelineConfig struct {
	// LagAmber turns the consumer lag amber (default 10 s).
	LagAmber time.Duration
	// LagRed turns it red: the consumer is not writing (default 60 s).
	LagRed time.Duration
}

// DefaultPipelineConfig returns the default thresholds.
func DefaultPipelineConfig() PipelineConfig {
	return PipelineConfig{LagAmber: 10 * time.Second, LagRed: time.Minute}
}

// Validate checks that both thresholds are positive and amber comes first.
func (c PipelineConfig) Validate() error {
	if c.LagAmber <= 0 || c.LagRed <= 0 {
		return fmt.Errorf("pipeline lag thresholds must be positive (amber %v, red %v)", c.LagAmber, c.LagRed)
	}
	if c.LagRed < c.LagAmber {
		return fmt.Errorf("pipeline lag red threshold %v is below the amber one %v", c.LagRed, c.LagAmber)
	}
	return nil
}

// PipelineResponse is GET /analytics/pipeline: the health of the pipeline
// from the stream to SQLite, each figure with its state and, when it is
// not ok, a line of what to do.
type PipelineResponse struct {
	// State is the worst state of the figures.
	State string `json:"state"`
	// Actions are the lines of what to do of the figures that are not
	// ok, the worst first; empty when everything is ok.
	Actions     []string            `json:"actions"`
	CheckedAt   string              `json:"checked_at"`
	Thresholds  PipelineThresholds  `json:"thresholds"`
	Lag         PipelineLag         `json:"lag"`
	LastEvent   PipelineLastEvent   `json:"last_event"`
	Rate        PipelineRate        `json:"rate"`
	DeadLetters PipelineDeadLetters `json:"dead_letters"`
}

// PipelineThresholds are the thresholds the states were judged by.
type PipelineThresholds struct {
	LagAmberSeconds         float64 `json:"lag_amber_seconds"`
	LagRedSeconds           float64 `json:"lag_red_seconds"`
	DeadLetterRecentSeconds float64 `json:"dead_letter_recent_seconds"`
	RateWindowSeconds       float64 `json:"rate_window_seconds"`
}

// PipelineLag is how far the consumer is behind the stream. From the
// stream, Events are the messages after the durable's ack floor (a batch
// ingest published together is one), and Seconds the age of the oldest of
// them; amber and red go by Seconds (null, and amber, when that message
// cannot be read). From the database alone, Events is null,
// Seconds the time since the newest stored event was received, and the
// state stays ok: without the stream a quiet hour and a stopped consumer
// look the same (Note says so).
type PipelineLag struct {
	State    string   `json:"state"`
	Action   string   `json:"action,omitempty"`
	Source   string   `json:"source"`
	Events   *uint64  `json:"events"`
	Seconds  *float64 `json:"seconds"`
	Consumer string   `json:"consumer,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// PipelineLastEvent is the last event written: the received_at of the
// newest row. It is informational: no events is not an error when no one
// sends.
type PipelineLastEvent struct {
	State        string   `json:"state"`
	ReceivedAt   *string  `json:"received_at"`
	ReceivedAtMs *int64   `json:"received_at_ms"`
	AgeSeconds   *float64 `json:"age_seconds"`
}

// PipelineRate is the events written per second, counted by received_at
// over the last RateWindow (or over the newest sql.PipelineScanRows rows,
// when more arrived).
type PipelineRate struct {
	State           string  `json:"state"`
	EventsPerSecond float64 `json:"events_per_second"`
	WindowSeconds   float64 `json:"window_seconds"`
}

// PipelineDeadLetters are the stream messages that could not be decoded;
// one stored within DeadLetterWindow turns them amber.
type PipelineDeadLetters struct {
	State      string  `json:"state"`
	Action     string  `json:"action,omitempty"`
	Count      int64   `json:"count"`
	NewestAt   *string `json:"newest_at"`
	NewestAtMs *int64  `json:"newest_at_ms"`
}

// SetStream lets GET /analytics/pipeline read the consumer lag from the
// events stream and the database's durable through js. Without it the lag
// comes from the database alone.
func (s *Server) SetStream(js jetstream.JetStream) { s.js = js }

// streamLag is the lag of the durable as read from the stream.
type streamLag struct {
	events   uint64
	seconds  *float64
	attached bool // the durable exists
}

// readStreamLag reads the lag of durable from the events stream; a stream
// that does not exist yet has nothing waiting.
func (s *Server) readStreamLag(ctx context.Context, durable string, now time.Time) (streamLag, error) {
	ctx, cancel := context.WithTimeout(ctx, pipelineStreamTimeout)
	defer cancel()
	st, err := s.js.Stream(ctx, trackskills.StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return streamLag{seconds: new(0.0)}, nil
	}
	if err != nil {
		return streamLag{}, fmt.Errorf("stream %s: %w", trackskills.StreamName, err)
	}
	c, err := st.Consumer(ctx, durable)
	var ci *jetstream.ConsumerInfo
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return streamLag{}, fmt.Errorf("consumer %s: %w", durable, err)
	default:
		ci = c.CachedInfo()
	}
	events, seconds := streamlag.Of(ctx, st, ci, now)
	return streamLag{events: events, seconds: seconds, attached: ci != nil}, nil
}

// handlePipeline answers the pipeline's health.
func (s *Server) handlePipeline(c echo.Context) error {
	ctx := c.Request().Context()
	now := s.Now()
	st, err := s.db.PipelineStats(ctx, now.Add(-RateWindow))
	if err != nil {
		return err
	}
	cfg := s.cfg.Pipeline
	out := PipelineResponse{
		CheckedAt: formatTime(now.UnixMilli()),
		Thresholds: PipelineThresholds{
			LagAmberSeconds: cfg.LagAmber.Seconds(), LagRedSeconds: cfg.LagRed.Seconds(),
			DeadLetterRecentSeconds: DeadLetterWindow.Seconds(), RateWindowSeconds: RateWindow.Seconds(),
		},
		LastEvent:   lastEvent(st, now),
		Rate:        eventRate(st, now),
		DeadLetters: deadLetters(st, now),
	}
	out.Lag = s.lag(ctx, st, now)
	out.State, out.Actions = StateOK, []string{}
	for _, rank := range []string{StateRed, StateAmber} {
		for _, f := range []struct{ state, action string }{
			{out.Lag.State, out.Lag.Action}, {out.DeadLetters.State, out.DeadLetters.Action},
		} {
			if f.state != rank {
				continue
			}
			if out.State == StateOK {
				out.State = rank
			}
			out.Actions = append(out.Actions, f.action)
		}
	}
	return c.JSON(http.StatusOK, out)
}

// lag judges the consumer lag, from the stream when analytics has one.
func (s *Server) lag(ctx context.Context, st sql.PipelineStats, now time.Time) PipelineLag {
	fromDB := PipelineLag{State: StateOK, Source: LagFromDatabase,
		Note: "analytics has no NATS connection: the lag in events is unknown, and the seconds are the time since the newest stored event was received, " +
			"which grow as much when no one sends as when the consumer stops; give analytics --nats-url to measure the lag from the stream"}
	if st.LastReceivedAt > 0 {
		fromDB.Seconds = new(max(now.Sub(time.UnixMilli(st.LastReceivedAt)).Seconds(), 0))
	}
	if s.js == nil {
		return fromDB
	}
	var sl streamLag
	id, err := s.db.Identity(ctx)
	if err == nil {
		sl, err = s.readStreamLag(ctx, id.Durable, now)
	}
	if err != nil {
		fromDB.State = StateAmber
		fromDB.Note = "the stream could not be read: the seconds are the time since the newest stored event was received"
		fromDB.Action = fmt.Sprintf("analytics cannot read the stream (%v): check that NATS runs with `trackskills status`", err)
		return fromDB
	}
	lag := PipelineLag{State: StateOK, Source: LagFromStream, Events: &sl.events, Seconds: sl.seconds, Consumer: id.Durable}
	if sl.seconds == nil {
		lag.State = StateAmber
		lag.Action = fmt.Sprintf("%d events wait in the stream and the oldest of them cannot be read, so its age is unknown: check `trackskills status`", sl.events)
		return lag
	}
	age := time.Duration(*sl.seconds * float64(time.Second))
	cfg := s.cfg.Pipeline
	switch {
	case age >= cfg.LagRed && !sl.attached:
		lag.State = StateRed
		lag.Action = fmt.Sprintf("no consumer has read this database's durable %s yet, and %d events wait in the stream, the oldest for %s: "+
			"start `trackskills consumer` on this database (or `trackskills serve`)", id.Durable, sl.events, fmtAge(age))
	case age >= cfg.LagRed:
		lag.State = StateRed
		lag.Action = fmt.Sprintf("the consumer is not writing: %d events wait in the stream, the oldest for %s; "+
			"check `trackskills status` and the consumer's log (is it running, can it write the database?)", sl.events, fmtAge(age))
	case age >= cfg.LagAmber:
		lag.State = StateAmber
		lag.Action = fmt.Sprintf("the consumer is behind: %d events wait in the stream, the oldest for %s; "+
			"a running consumer catches up by itself: if this lasts, check `trackskills status` and the consumer's log", sl.events, fmtAge(age))
	}
	return lag
}

func lastEvent(st sql.PipelineStats, now time.Time) PipelineLastEvent {
	out := PipelineLastEvent{State: StateOK}
	if st.LastReceivedAt > 0 {
		at := formatTime(st.LastReceivedAt)
		out.ReceivedAt, out.ReceivedAtMs = &at, &st.LastReceivedAt
		out.AgeSeconds = new(max(now.Sub(time.UnixMilli(st.LastReceivedAt)).Seconds(), 0))
	}
	return out
}

func eventRate(st sql.PipelineStats, now time.Time) PipelineRate {
	span := max(now.Sub(time.UnixMilli(st.RecentSince)).Seconds(), 1)
	return PipelineRate{State: StateOK, EventsPerSecond: float64(st.Recent) / span, WindowSeconds: span}
}

func deadLetters(st sql.PipelineStats, now time.Time) PipelineDeadLetters {
	out := PipelineDeadLetters{State: StateOK, Count: st.DeadLetters}
	if st.LastDeadLetterAt == 0 {
		return out
	}
	at := formatTime(st.LastDeadLetterAt)
	out.NewestAt, out.NewestAtMs = &at, &st.LastDeadLetterAt
	if age := now.Sub(time.UnixMilli(st.LastDeadLetterAt)); age < DeadLetterWindow {
		out.State = StateAmber
		out.Action = fmt.Sprintf("%d stream messages could not be decoded, the newest %s ago: look at them with `trackskills deadletters list`, "+
			"then retry them with a build that reads them (`trackskills deadletters retry`) or purge them", st.DeadLetters, fmtAge(age))
	}
	return out
}

// formatTime formats unix ms as RFC 3339 in UTC, with milliseconds.
func formatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// fmtAge formats a wait for a line of what to do: "42 s", "3m20s",
// "5h7m0s".
func fmtAge(d time.Duration) string {
	if d < 2*time.Minute {
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
