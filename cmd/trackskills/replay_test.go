package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// replayCmd runs the replay subcommand with args and returns its stderr.
func replayCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, append([]string{"replay", "--log-level", "warn"}, args...), func(string) string { return "" }, &out, &errOut)
	return errOut.String(), err
}

func TestReplay_RebuildsServesDatabase(t *testing.T) {
	app := mustStartServe(t, serveOptions(t))
	client := &http.Client{Timeout: 30 * time.Second}
	const singles, batched = 100, 200
	for i := range singles {
		body, _ := json.Marshal(e2eEvent(i)) // plain values always encode
		if code, err := testkit.PostJSON(client, app.URL()+"/api/track", body, nil, nil); err != nil || code != http.StatusOK {
			t.Fatalf("POST /api/track: %d %v", code, err)
		}
	}
	for b := singles; b < singles+batched; b += 50 {
		evs := make([]map[string]any, 50)
		for i := range evs {
			evs[i] = e2eEvent(b + i)
		}
		body, _ := json.Marshal(evs) // plain values always encode
		if code, err := testkit.PostJSON(client, app.URL()+"/api/track/batch", body, nil, nil); err != nil || code != http.StatusOK {
			t.Fatalf("POST /api/track/batch: %d %v", code, err)
		}
	}
	const total = singles + batched
	ctx := context.Background()
	testkit.Eventually(t, 20*time.Second, func() error {
		if n, err := app.db.CountEvents(ctx); err != nil || n != total {
			return fmt.Errorf("rows=%d, want %d (err %v)", n, total, err)
		}
		return nil
	})
	// A redelivered duplicate (stored events in a new message) and a
	// poison message, published straight to the stream.
	stored, err := app.db.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(app.nats.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var dup []byte
	for i := range 3 {
		if dup, err = wire.AppendEvent(dup, &stored[i]); err != nil {
			t.Fatal(err)
		}
	}
	poison := wire.NewMsg(trackskills.SubjectIngest, []byte("not json {"))
	for _, m := range []*nats.Msg{wire.NewMsg(trackskills.SubjectIngest, dup), poison} {
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if r, err := app.db.DeadLetterReasons(ctx); err != nil || len(r) != 1 {
			return fmt.Errorf("dead letters %q (err %v), want 1", r, err)
		}
		return nil
	})

	path := filepath.Join(t.TempDir(), "rebuilt.db")
	url := app.nats.ClientURL()
	stderr, err := replayCmd(t, "--db", path, "--nats-url", url)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("%d inserted, 3 already present, 1 dead-lettered (1 new)", total); !strings.Contains(stderr, want) {
		t.Errorf("summary lacks %q:\n%s", want, stderr)
	}
	rebuilt := testkit.MustOpenReadOnly(t, path)
	got, err := rebuilt.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := app.db.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := func(evs []trackskills.Event) {
		sort.Slice(evs, func(i, j int) bool { return evs[i].EventID < evs[j].EventID })
	}
	byID(got)
	byID(want)
	if len(want) != total || !reflect.DeepEqual(got, want) {
		t.Errorf("raw rows differ: %d replayed, %d live (want %d)", len(got), len(want), total)
	}
	w := sql.Window{From: time.Now().Add(-48 * time.Hour).UnixMilli(), To: time.Now().Add(time.Hour).UnixMilli()}
	gs, err1 := rebuilt.Summary(ctx, w, sql.Filter{})
	ws, err2 := app.db.Summary(ctx, w, sql.Filter{})
	if err := errors.Join(err1, err2); err != nil || !reflect.DeepEqual(gs, ws) || ws.Invocations != total {
		t.Errorf("summary: replayed %+v, live %+v (err %v)", gs, ws, err)
	}
	if r, err := rebuilt.DeadLetterReasons(ctx); err != nil || len(r) != 1 {
		t.Errorf("replayed dead letters %q (err %v), want 1", r, err)
	}

	// Again into the same file, from the start: nothing new.
	stderr, err = replayCmd(t, "--db", path, "--nats-url", url, "--from-seq", "1")
	if err != nil {
		t.Fatalf("second replay: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("0 inserted, %d already present, 1 dead-lettered (0 new)", total+3); !strings.Contains(stderr, want) {
		t.Errorf("second summary lacks %q:\n%s", want, stderr)
	}
	// Without a range, it resumes after the end: nothing to read.
	if stderr, err = replayCmd(t, "--db", path, "--nats-url", url); err != nil || !strings.Contains(stderr, "nothing to replay") {
		t.Errorf("resume: %v\n%s", err, stderr)
	}
	// The live database is locked by serve: replay refuses it.
	if stderr, err := replayCmd(t, "--db", app.db.Path(), "--nats-url", url); err == nil {
		t.Errorf("replay into serve's database: no error\n%s", stderr)
	}
}

func TestReplay_RejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		usage bool   // a flag parse error: exit code 2
		want  string // part of the error
	}{
		{args: []string{"--from-seq", "-1"}, usage: true},
		{args: []string{"--to-seq", "x"}, usage: true},
		{args: []string{"--since", "yesterday"}, want: "--since"},
		{args: []string{"--until", "2026-13-01"}, want: "--until"},
		{args: []string{"--from-seq", "5", "--to-seq", "4"}, want: "after end sequence"},
		{args: []string{"--from-seq", "5", "--since", "2026-01-01"}, want: "not both"},
		{args: []string{"--since", "2026-02-01", "--until", "2026-01-01"}, want: "not before"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db", "replay.db")
			stderr, err := replayCmd(t, append([]string{"--db", path, "--nats-url", "nats://127.0.0.1:1"}, tc.args...)...)
			switch {
			case err == nil:
				t.Fatalf("no error\n%s", stderr)
			case tc.usage != errors.Is(err, errUsage):
				t.Errorf("error %v: usage error %v, want %v", err, errors.Is(err, errUsage), tc.usage)
			case !strings.Contains(err.Error()+stderr, tc.want):
				t.Errorf("error %v lacks %q\n%s", err, tc.want, stderr)
			}
			if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("something was written: %v", err)
			}
		})
	}
}
