package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// replayCmd runs the replay subcommand with args and returns its stderr.
func replayCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	_, stderr, err := replayCmdOut(t, args...)
	return stderr, err
}

// replayCmdOut runs the replay subcommand with args and returns its stdout
// and stderr.
func replayCmdOut(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, append([]string{"replay", "--log-level", "warn"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestReplay_RebuildsServesDatabase(t *testing.T) {
	o := serveOptions(t)
	app := mustStartServe(t, o)
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
		if n, err := app.writer.DB().CountEvents(ctx); err != nil || n != total {
			return fmt.Errorf("rows=%d, want %d (err %v)", n, total, err)
		}
		return nil
	})
	// A redelivered duplicate (stored events in a new message) and a
	// poison message, published straight to the stream.
	stored, err := app.writer.DB().Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(natsAdminURL(t, o.dataDir, app.nats.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var dup []byte
	for i := range 3 {
		if dup, err = wire.AppendEvent(dup, republished(stored[i])); err != nil {
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
		if r, err := app.writer.DB().DeadLetterReasons(ctx); err != nil || len(r) != 1 {
			return fmt.Errorf("dead letters %q (err %v), want 1", r, err)
		}
		return nil
	})

	if err := app.writer.DB().Flush(ctx); err != nil { // the live aggregates, for the comparison
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "rebuilt.db")
	url := natsAdminURL(t, o.dataDir, app.nats.ClientURL())
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
	want, err := app.writer.DB().Events(ctx)
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
	ws, err2 := app.writer.DB().Summary(ctx, w, sql.Filter{})
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
	if stderr, err := replayCmd(t, "--db", app.writer.DB().Path(), "--nats-url", url); err == nil {
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
		{args: []string{"--ndjson"}, usage: true, want: "give --ndjson or --db, not both"},
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

func TestReplay_NDJSONToStdout(t *testing.T) {
	o := serveOptions(t)
	app := mustStartServe(t, o)
	client := &http.Client{Timeout: 30 * time.Second}
	const total = 150
	for b := 0; b < total; b += 50 {
		evs := make([]map[string]any, 50)
		for i := range evs {
			evs[i] = e2eEvent(b + i)
		}
		body, _ := json.Marshal(evs) // plain values always encode
		if code, err := testkit.PostJSON(client, app.URL()+"/api/track/batch", body, nil, nil); err != nil || code != http.StatusOK {
			t.Fatalf("POST /api/track/batch: %d %v", code, err)
		}
	}
	ctx := context.Background()
	testkit.Eventually(t, 20*time.Second, func() error {
		if n, err := app.writer.DB().CountEvents(ctx); err != nil || n != total {
			return fmt.Errorf("rows=%d, want %d (err %v)", n, total, err)
		}
		return nil
	})
	nc, err := nats.Connect(natsAdminURL(t, o.dataDir, app.nats.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.PublishMsg(wire.NewMsg(trackskills.SubjectIngest, []byte("not json {"))); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		if r, err := app.writer.DB().DeadLetterReasons(ctx); err != nil || len(r) != 1 {
			return fmt.Errorf("dead letters %q (err %v), want 1", r, err)
		}
		return nil
	})

	dataDir := filepath.Join(t.TempDir(), "data")
	stdout, stderr, err := replayCmdOut(t, "--ndjson", "--data-dir", dataDir, "--nats-url", app.nats.ClientURL(),
		"--nats-creds", embeddednats.CredsFile(filepath.Join(o.dataDir, embeddednats.CredsDirName), embeddednats.UserAdmin))
	if err != nil {
		t.Fatalf("replay --ndjson: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("stream seq 1 to 4 to stdout: 4 messages, %d events read; %d written as NDJSON, 1 dead-lettered (not written)", total, total); !strings.Contains(stderr, want) {
		t.Errorf("summary lacks %q:\n%s", want, stderr)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("replay --ndjson created its data dir: %v", err)
	}

	// The lines are those of the export for the same events, byte for byte.
	res, err := client.Get(app.URL() + "/analytics/export.ndjson?days=2")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var export bytes.Buffer
	if _, err := export.ReadFrom(res.Body); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("export: %d %v", res.StatusCode, err)
	}
	byID := func(ndjson string) ([]string, []analytics.ExportEvent) {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(ndjson, "\n"), "\n")
		evs := make([]analytics.ExportEvent, len(lines))
		for i, l := range lines {
			if err := json.Unmarshal([]byte(l), &evs[i]); err != nil {
				t.Fatalf("line %d %q: %v", i, l, err)
			}
		}
		idx := make([]int, len(lines))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return evs[idx[a]].EventID < evs[idx[b]].EventID })
		sl, se := make([]string, len(idx)), make([]analytics.ExportEvent, len(idx))
		for i, j := range idx {
			sl[i], se[i] = lines[j], evs[j]
		}
		return sl, se
	}
	gotLines, got := byID(stdout)
	wantLines, want := byID(export.String())
	if len(got) != total || len(want) != total {
		t.Fatalf("%d lines replayed, %d exported, want %d", len(got), len(want), total)
	}
	for i := range got {
		if gotLines[i] != wantLines[i] {
			t.Fatalf("line for %s differs:\nreplay %s\nexport %s", got[i].EventID, gotLines[i], wantLines[i])
		}
	}
	stored, err := app.writer.DB().Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(stored, func(i, j int) bool { return stored[i].EventID < stored[j].EventID })
	for i, ev := range stored {
		g := got[i]
		if g.EventID != ev.EventID || g.ToolName != ev.ToolName || g.Status != ev.Status || g.UserIDHash != sql.StoredHash(ev.UserHash) ||
			g.SessionHash == nil || *g.SessionHash != sql.StoredHash(ev.SessionHash) ||
			g.Timestamp != time.UnixMilli(ev.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z07:00") {
			t.Errorf("line %+v does not match stored event %+v", g, ev)
		}
	}

	// A range: the second message alone.
	stdout, stderr, err = replayCmdOut(t, "--ndjson", "--from-seq", "2", "--to-seq", "2", "--nats-url", natsAdminURL(t, o.dataDir, app.nats.ClientURL()))
	if err != nil {
		t.Fatalf("replay --ndjson of seq 2: %v\n%s", err, stderr)
	}
	if n := strings.Count(stdout, "\n"); n != 50 {
		t.Errorf("seq 2: %d lines, want 50\n%s", n, stderr)
	}
}

func TestReplayProgress_Report(t *testing.T) {
	st := consumer.ReplayStats{Total: 10, Messages: 4, Events: 40, Inserted: 38, Ignored: 2, LastSeq: 4, Elapsed: time.Second}
	for _, tc := range []struct {
		name        string
		tty, ndjson bool
		want        string
	}{
		{"Lines", false, false, "replay: 4 messages read, up to stream seq 4: 38 inserted, 2 already present, 0 dead-lettered (40 events/s)\n"},
		{"LinesNDJSON", false, true, "replay: 4 messages read, up to stream seq 4: 38 written, 0 dead-lettered (40 events/s)\n"},
		{"Bar", true, false, "4/10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newReplayProgress(&buf, tc.tty, tc.ndjson)
			p.report(st)
			if tc.tty {
				st := st
				st.Messages, st.Events = 10, 100
				p.finish(st, nil)
				if out := buf.String(); !strings.Contains(out, "10/10") || !strings.Contains(out, "replay: 100 events") || !strings.HasSuffix(out, "\n") {
					t.Errorf("finished bar %q: want 10/10, the events and a final newline", out)
				}
			}
			if out := buf.String(); !strings.Contains(out, tc.want) {
				t.Errorf("progress %q lacks %q", out, tc.want)
			}
			if tc.tty != (p.every == replayBarEvery) {
				t.Errorf("every %v for tty %v", p.every, tc.tty)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
	}{{"Buffer", &bytes.Buffer{}}, {"File", f}, {"Pipe", w}} {
		if isTerminal(tc.w) {
			t.Errorf("%s: a terminal, want not", tc.name)
		}
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !isTerminal(tty) {
			t.Error("/dev/tty: not a terminal")
		}
	}
}
