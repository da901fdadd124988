package analytics_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/httpapi"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// pipelineRouter serves the API over db (read-only) with the clock now,
// reading the lag from js when it is not nil.
func pipelineRouter(tb testing.TB, db *sql.DB, cfg analytics.Config, js jetstream.JetStream, now *time.Time) *echo.Echo {
	tb.Helper()
	srv := analytics.New(cfg, testkit.MustOpenReadOnly(tb, db.Path()), slog.New(slog.DiscardHandler))
	srv.Now = func() time.Time { return *now }
	if js != nil {
		srv.SetStream(js)
	}
	e := httpapi.NewEcho(slog.New(slog.DiscardHandler), echo.ExtractIPDirect())
	if err := srv.Register(e); err != nil {
		tb.Fatal(err)
	}
	return e
}

func mustPipeline(tb testing.TB, e *echo.Echo) analytics.PipelineResponse {
	tb.Helper()
	var p analytics.PipelineResponse
	mustGetJSON(tb, e, "/analytics/pipeline", &p)
	return p
}

// Ensure the response has every figure, with null for what is unknown, and
// that without NATS the lag comes from the database and stays ok however
// long no one sends.
func TestServer_PipelineWithoutNATS(t *testing.T) {
	db := testkit.MustOpenDB(t)
	now := testNow
	e := pipelineRouter(t, db, analytics.Config{}, nil, &now)

	t.Run("Shape", func(t *testing.T) {
		var m map[string]any
		if err := json.Unmarshal(mustGetJSON(t, e, "/analytics/pipeline", nil), &m); err != nil {
			t.Fatal(err)
		}
		lag, _ := m["lag"].(map[string]any)
		if note, _ := lag["note"].(string); !strings.Contains(note, "--nats-url") {
			t.Errorf("lag note %q does not say how to measure the lag from the stream", note)
		}
		delete(lag, "note")
		got, err := json.Marshal(m) // keys sorted
		if err != nil {
			t.Fatal(err)
		}
		want := `{"actions":[],"checked_at":"2026-02-09T21:37:12.345Z",` +
			`"dead_letters":{"count":0,"newest_at":null,"newest_at_ms":null,"state":"ok"},` +
			`"lag":{"events":null,"seconds":null,"source":"database","state":"ok"},` +
			`"last_event":{"age_seconds":null,"received_at":null,"received_at_ms":null,"state":"ok"},` +
			`"rate":{"events_per_second":0,"state":"ok","window_seconds":60},` +
			`"state":"ok",` +
			`"thresholds":{"dead_letter_recent_seconds":86400,"lag_amber_seconds":10,"lag_red_seconds":60,"rate_window_seconds":60}}`
		if string(got) != want {
			t.Errorf("GET /analytics/pipeline (lag note left out):\n got  %s\n want %s", got, want)
		}
	})

	evs := []trackskills.Event{event("p-1", testNow.Add(-2*time.Hour), "t", "default", "success", 5, "u")}
	testkit.MustWriteBatch(t, db, evs)
	t.Run("QuietIsOK", func(t *testing.T) {
		p := mustPipeline(t, e)
		if p.State != analytics.StateOK || p.Lag.State != analytics.StateOK || len(p.Actions) != 0 {
			t.Fatalf("two hours without events: %+v, want ok", p)
		}
		if p.Lag.Seconds == nil || *p.Lag.Seconds != 7200 || p.Lag.Events != nil || p.Lag.Source != analytics.LagFromDatabase {
			t.Errorf("lag %+v, want 7200 s from the database, events null", p.Lag)
		}
		if p.LastEvent.AgeSeconds == nil || *p.LastEvent.AgeSeconds != 7200 || *p.LastEvent.ReceivedAtMs != evs[0].ReceivedAt {
			t.Errorf("last event %+v, want received 7200 s ago", p.LastEvent)
		}
	})

	t.Run("Rate", func(t *testing.T) {
		var recent []trackskills.Event
		for i := range 30 {
			recent = append(recent, event("r-"+string(rune('a'+i)), testNow.Add(-time.Duration(i)*time.Second), "t", "default", "success", 5, "u"))
		}
		testkit.MustWriteBatch(t, db, recent)
		p := mustPipeline(t, e)
		if got, want := p.Rate.EventsPerSecond, 0.5; got != want {
			t.Errorf("events per second %v, want %v (30 in the last minute)", got, want)
		}
	})

	for _, tt := range []struct {
		name  string
		ago   time.Duration
		state string
	}{
		{"DeadLetterRecent", 24*time.Hour - time.Millisecond, analytics.StateAmber},
		{"DeadLetterOld", 24 * time.Hour, analytics.StateOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := testkit.MustOpenDB(t)
			db.Now = func() time.Time { return testNow.Add(-tt.ago) }
			if _, err := db.WriteBatch(context.Background(), nil, []sql.DeadLetter{{StreamSeq: 7, Subject: "s", Reason: "r"}}); err != nil {
				t.Fatal(err)
			}
			p := mustPipeline(t, pipelineRouter(t, db, analytics.Config{}, nil, &now))
			if p.DeadLetters.State != tt.state || p.State != tt.state || p.DeadLetters.Count != 1 || *p.DeadLetters.NewestAtMs != testNow.Add(-tt.ago).UnixMilli() {
				t.Fatalf("dead letter %v ago: %+v, want %s", tt.ago, p, tt.state)
			}
			if tt.state == analytics.StateAmber && (len(p.Actions) != 1 || !strings.Contains(p.Actions[0], "trackskills deadletters list")) {
				t.Errorf("actions %q, want the dead letters' line", p.Actions)
			}
		})
	}
}

// Ensure the lag read from the stream turns amber and red at the
// thresholds, by the age of the oldest event the consumer has not
// acknowledged, names what to do, and is ok again once it has.
func TestServer_PipelineLagThresholds(t *testing.T) {
	ctx := context.Background()
	js := testkit.MustRunStream(t)
	db := testkit.MustOpenDB(t)
	id, err := db.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seq := testkit.MustPublish(t, js, testkit.Events(2, "lag")...)
	s := testkit.MustEventsStream(t, js)
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	published := m.Time
	cfg := analytics.Config{Pipeline: analytics.PipelineConfig{LagAmber: 5 * time.Second, LagRed: 20 * time.Second}}
	now := published
	e := pipelineRouter(t, db, cfg, js, &now)

	check := func(t *testing.T, age time.Duration, state, action string, events uint64) {
		t.Helper()
		now = published.Add(age)
		p := mustPipeline(t, e)
		if p.Lag.State != state || p.State != state || p.Lag.Source != analytics.LagFromStream || p.Lag.Consumer != id.Durable {
			t.Fatalf("oldest waiting for %v: %+v, want %s from the stream", age, p, state)
		}
		wantSeconds := age.Seconds()
		if events == 0 {
			wantSeconds = 0 // nothing waits
		}
		if p.Lag.Events == nil || *p.Lag.Events != events || p.Lag.Seconds == nil || *p.Lag.Seconds != wantSeconds {
			t.Errorf("oldest waiting for %v: lag %d events %v s, want %d events %v s", age, deref(p.Lag.Events), deref(p.Lag.Seconds), events, wantSeconds)
		}
		if action == "" && (len(p.Actions) != 0 || p.Lag.Action != "") {
			t.Errorf("oldest waiting for %v: actions %q, want none", age, p.Actions)
		}
		if action != "" && (!slices.Equal(p.Actions, []string{p.Lag.Action}) || !strings.Contains(p.Lag.Action, action)) {
			t.Errorf("oldest waiting for %v: actions %q, want the lag's, naming %q", age, p.Actions, action)
		}
	}

	t.Run("NoDurable", func(t *testing.T) {
		check(t, 5*time.Second-time.Millisecond, analytics.StateOK, "", 1)
		check(t, 20*time.Second, analytics.StateRed, "start `trackskills consumer`", 1)
	})

	cons, err := js.CreateOrUpdateConsumer(ctx, trackskills.StreamName, jetstream.ConsumerConfig{
		Durable: id.Durable, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: trackskills.StreamSubjects,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		age    time.Duration
		state  string
		action string
	}{
		{"BelowAmber", 5*time.Second - time.Millisecond, analytics.StateOK, ""},
		{"Amber", 5 * time.Second, analytics.StateAmber, "the consumer is behind"},
		{"BelowRed", 20*time.Second - time.Millisecond, analytics.StateAmber, "the consumer is behind"},
		{"Red", 20 * time.Second, analytics.StateRed, "the consumer is not writing"},
	} {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.age, tt.state, tt.action, 1) })
	}

	t.Run("Written", func(t *testing.T) {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		check(t, time.Hour, analytics.StateOK, "", 0)
	})

	// A NATS connection that is gone: the lag falls back to the database,
	// amber, saying why.
	t.Run("ErrStream", func(t *testing.T) {
		nc := testkit.MustConnect(t, testkit.MustRunNATS(t))
		nc.Close()
		gone, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		p := mustPipeline(t, pipelineRouter(t, db, cfg, gone, &now))
		if p.Lag.State != analytics.StateAmber || p.Lag.Source != analytics.LagFromDatabase || p.Lag.Events != nil ||
			!strings.Contains(p.Lag.Action, "analytics cannot read the stream") || !strings.Contains(p.Lag.Action, nats.ErrConnectionClosed.Error()) {
			t.Fatalf("lag %+v, want amber from the database, naming the closed connection", p.Lag)
		}
	})
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
