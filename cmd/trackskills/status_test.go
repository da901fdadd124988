package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/testkit"
)

// statusJSON runs status --json with args and decodes its report.
func statusJSON(t *testing.T, args ...string) (statusReport, string, error) {
	t.Helper()
	stdout, stderr, err := runCmd(t, append([]string{"status", "--json"}, args...)...)
	var rep statusReport
	if jerr := json.Unmarshal([]byte(stdout), &rep); jerr != nil {
		t.Fatalf("decode report: %v\n%s\nstderr: %s", jerr, stdout, stderr)
	}
	return rep, stderr, err
}

// Ensure status, against a serve that has stored every event, reports the
// rows, the stream and a consumer with nothing pending, every part up.
func TestStatus_Serve(t *testing.T) {
	o := serveOptions(t)
	app := mustStartServe(t, o)
	const total = 40
	evs := make([]map[string]any, total)
	for i := range evs {
		evs[i] = e2eEvent(i)
	}
	body, _ := json.Marshal(evs) // plain values always encode
	client := &http.Client{Timeout: 30 * time.Second}
	if code, err := testkit.PostJSON(client, app.URL()+"/api/track/batch", body, nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("POST /api/track/batch: %d %v", code, err)
	}
	args := []string{"--data-dir", o.dataDir, "--nats-url", app.nats.ClientURL(), "--http-url", app.URL(), "--max-lag-events", "0"}
	var rep statusReport
	testkit.Eventually(t, 20*time.Second, func() error {
		var err error
		var stderr string
		if rep, stderr, err = statusJSON(t, args...); err != nil {
			return fmt.Errorf("status: %v (%s)", err, stderr)
		}
		if rep.Database.Events != total {
			return fmt.Errorf("%d rows, want %d", rep.Database.Events, total)
		}
		return nil
	})
	if !rep.OK || len(rep.Problems) != 0 || !rep.NATS.Up || !rep.Database.Up || rep.HTTP == nil || !rep.HTTP.Up {
		t.Errorf("not every part up: %+v", rep)
	}
	if s := rep.NATS.Stream; s == nil || s.Messages == 0 || s.LastSeq == 0 || s.LastTime == "" {
		t.Errorf("stream: %+v, want messages", s)
	}
	c := rep.NATS.Consumer
	if c == nil {
		t.Fatal("no consumer in the report")
	}
	if c.Name != rep.Database.Durable || !strings.HasPrefix(c.Name, "trackskills-sqlite-") || c.Waiting == 0 || c.Pending != 0 || c.AckPending != 0 || c.LagEvents != 0 || c.LagSeconds == nil || *c.LagSeconds != 0 {
		t.Errorf("consumer: %+v, want nothing pending", c)
	}
	if d := rep.Database; d.SchemaVersion == 0 || d.SchemaVersion != d.SchemaKnown || d.FileBytes == 0 || d.LastEventAt == "" {
		t.Errorf("database: %+v", d)
	}
	if rep.Version == "" {
		t.Error("no version")
	}
	stdout, _, err := runCmd(t, append([]string{"status"}, args...)...)
	if err != nil {
		t.Fatalf("text status: %v\n%s", err, stdout)
	}
	for _, want := range []string{"nats              up", "database          up", "http              up", "status            ok", fmt.Sprintf("  events          %d,", total)} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout)
		}
	}
}

// Ensure a backlog the consumer has not acknowledged passes
// --max-lag-events and fails status, in JSON and in text.
func TestStatus_Backlog(t *testing.T) {
	srv := testkit.MustRunNATS(t)
	js := testkit.MustJetStream(t, srv)
	testkit.MustStream(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db := testkit.MustOpenDB(t)
	id, err := db.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, trackskills.StreamName, jetstream.ConsumerConfig{
		Durable: id.Durable, AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	const backlog = 3
	for i := range backlog {
		if _, err := js.Publish(ctx, trackskills.SubjectIngest, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// The server counts a stored message into its consumers' pending a
	// moment after it acknowledges the publish (seen under load).
	testkit.Eventually(t, 10*time.Second, func() error {
		cons, err := js.Consumer(ctx, trackskills.StreamName, id.Durable)
		if err != nil {
			return err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending != backlog {
			return fmt.Errorf("%d pending, want %d", info.NumPending, backlog)
		}
		return nil
	})
	args := []string{"--db", db.Path(), "--nats-url", srv.ClientURL(), "--http-url", ""}

	rep, _, err := statusJSON(t, args...)
	if err != nil {
		t.Fatalf("without a threshold: %v %+v", err, rep)
	}
	c := rep.NATS.Consumer
	if c == nil || c.Pending != backlog || c.LagEvents != backlog || c.LagSeconds == nil || *c.LagSeconds < 0 {
		t.Fatalf("consumer: %+v, want %d pending and lagging", c, backlog)
	}
	if rep.HTTP != nil {
		t.Errorf("http probed with an empty --http-url: %+v", rep.HTTP)
	}

	rep, _, err = statusJSON(t, append(args, "--max-lag-events", "0")...)
	if err == nil || errors.Is(err, errUsage) || rep.OK {
		t.Fatalf("over the threshold: err %v, ok %v; want an error", err, rep.OK)
	}
	if want := []string{"consumer lags 3 events, over --max-lag-events 0"}; !reflect.DeepEqual(rep.Problems, want) {
		t.Errorf("problems %q, want %q", rep.Problems, want)
	}
	stdout, _, err := runCmd(t, append([]string{"status", "--max-lag-events", "2"}, args...)...)
	if err == nil || !strings.Contains(stdout, "status            FAIL") || !strings.Contains(stdout, "consumer lags 3 events, over --max-lag-events 2") {
		t.Errorf("text over the threshold: err %v\n%s", err, stdout)
	}
	if _, _, err := runCmd(t, append([]string{"status", "--max-lag-events", "3"}, args...)...); err != nil {
		t.Errorf("at the threshold: %v", err)
	}
}

// Ensure status with NATS down answers within a few seconds, says so and
// fails.
func TestStatus_NATSDown(t *testing.T) {
	db := testkit.MustOpenDB(t)
	start := time.Now()
	rep, _, err := statusJSON(t, "--db", db.Path(), "--nats-url", "nats://"+testkit.MustFreeAddr(t), "--http-url", "")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("status took %v with NATS down", d)
	}
	if err == nil || errors.Is(err, errUsage) {
		t.Fatalf("err %v, want a failure", err)
	}
	if rep.OK || rep.NATS.Up || len(rep.Problems) != 1 || !strings.HasPrefix(rep.Problems[0], "nats is down") {
		t.Errorf("report %+v, want nats down and nothing else", rep)
	}
	if !rep.Database.Up {
		t.Errorf("database %+v, want up", rep.Database)
	}
}

// Ensure a missing database is down, and bad flags are usage errors.
func TestStatus_Errors(t *testing.T) {
	srv := testkit.MustRunNATS(t)
	rep, _, err := statusJSON(t, "--db", filepath.Join(t.TempDir(), "none.db"), "--nats-url", srv.ClientURL(), "--http-url", "")
	if err == nil || rep.Database.Up || rep.Database.Error == "" {
		t.Errorf("missing database: err %v, database %+v; want down", err, rep.Database)
	}
	if _, _, err := runCmd(t, "status", "--max-lag-events", "many"); !errors.Is(err, errUsage) {
		t.Errorf("bad flag: %v, want a usage error", err)
	}
}

func TestStatusProblems(t *testing.T) {
	lag := func(s float64) *float64 { return &s }
	up := statusReport{
		NATS:     natsStatus{Up: true, Consumer: &consumerStatus{LagEvents: 10, LagSeconds: lag(4)}},
		Database: databaseStatus{Up: true, SchemaVersion: 10, SchemaKnown: 10},
		HTTP:     &httpStatus{URL: "http://h/readyz", Up: true},
	}
	tests := []struct {
		name string
		edit func(*statusReport)
		lim  statusLimits
		want []string
	}{
		{"AllUpNoLimits", func(*statusReport) {}, statusLimits{-1, -1}, []string{}},
		{"UnderLimits", func(*statusReport) {}, statusLimits{10, 4}, []string{}},
		{"OverEvents", func(*statusReport) {}, statusLimits{9, -1}, []string{"consumer lags 10 events, over --max-lag-events 9"}},
		{"OverSeconds", func(*statusReport) {}, statusLimits{-1, 3.5}, []string{"consumer lags 4.0 s, over --max-lag-seconds 3.5"}},
		{"UnknownAge", func(r *statusReport) { r.NATS.Consumer.LagSeconds = nil }, statusLimits{-1, 0}, []string{}},
		{"NATSDown", func(r *statusReport) { r.NATS = natsStatus{Error: "refused"} }, statusLimits{0, 0}, []string{"nats is down: refused"}},
		{"NoStream", func(r *statusReport) { r.NATS = natsStatus{Up: true, Error: "stream X: not found"} }, statusLimits{-1, -1}, []string{"nats: stream X: not found"}},
		{"DBDown", func(r *statusReport) { r.Database = databaseStatus{Error: "no file"} }, statusLimits{-1, -1}, []string{"database is down: no file"}},
		{"OldSchema", func(r *statusReport) { r.Database.SchemaVersion = 9 }, statusLimits{-1, -1}, []string{"database schema has 9 of 10 migrations"}},
		{"HTTPDown", func(r *statusReport) { r.HTTP.Up, r.HTTP.Error = false, "503 Service Unavailable" }, statusLimits{-1, -1}, []string{"http http://h/readyz is down: 503 Service Unavailable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := up
			c, h := *up.NATS.Consumer, *up.HTTP
			rep.NATS.Consumer, rep.HTTP = &c, &h
			tc.edit(&rep)
			if got := statusProblems(&rep, tc.lim); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}
