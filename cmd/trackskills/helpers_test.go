package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testkit.RemoveBinaries(); err != nil {
		fmt.Fprintln(os.Stderr, err) // the tests' verdict stands
	}
	os.Exit(code)
}

// serveOptions returns serve's options on free ports under a temp dir.
func serveOptions(tb testing.TB) *options {
	o := defaultOptions()
	o.dataDir, o.httpAddr, o.natsAddr = tb.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	o.applyRetention()
	o.consumer.BatchWait = 20 * time.Millisecond
	o.rollupDelay = testRollupDelay
	return &o
}

// testRollupDelay is the rollup delay of the serve and consumer the tests
// start: rollups are still held, as by default, but for a fraction of the
// default's seconds, so that a test waiting for the analytics waits little.
const testRollupDelay = 200 * time.Millisecond

// natsAdminURL returns url (nats://host:port of the server that serve or
// nats runs on dataDir) with the login of its admin user, from the
// credentials it created in dataDir, as a user would give it to
// --nats-url.
func natsAdminURL(tb testing.TB, dataDir, url string) string {
	tb.Helper()
	c, err := embeddednats.ReadCreds(embeddednats.CredsFile(filepath.Join(dataDir, embeddednats.CredsDirName), embeddednats.UserAdmin))
	if err != nil {
		tb.Fatal(err)
	}
	rest, ok := strings.CutPrefix(url, "nats://")
	if !ok {
		tb.Fatalf("nats url %q: want nats://host:port", url)
	}
	return "nats://" + c.User + ":" + c.Password + "@" + rest
}

// republished returns ev, read back from SQLite, in the form ingest
// publishes: the database keeps the first 8 bytes of each hash, and the
// consumer dead-letters an event whose hashes are not ingest's 32 hex
// characters. A duplicate is ignored by its event_id, whatever the rest.
func republished(ev trackskills.Event) *trackskills.Event {
	pad := func(h string) string {
		if h == "" {
			return ""
		}
		return (h + strings.Repeat("0", 32))[:32]
	}
	ev.UserHash, ev.SessionHash = pad(ev.UserHash), pad(ev.SessionHash)
	return &ev
}

// mustStartServe starts serve in-process; Cleanup closes it.
func mustStartServe(tb testing.TB, o *options) *serveApp {
	tb.Helper()
	app, err := startServe(context.Background(), o, func(string) string { return "" }, testkit.Logger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := app.Close(ctx); err != nil {
			tb.Errorf("close serve: %v", err)
		}
	})
	return app
}

// countRows counts the stored events and their distinct ids.
func countRows(tb testing.TB, path string) (rows, distinct int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs := readEvents(ctx, tb, path)
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[ev.EventID] = true
	}
	return int64(len(evs)), int64(len(seen))
}

// stopTimeout bounds how long a process of the binary may take to exit
// after a signal.
const stopTimeout = 30 * time.Second

// startBinary runs the trackskills binary with args, in this process's
// environment with testRollupDelay and then env added; Cleanup kills it if
// it still runs.
func startBinary(tb testing.TB, env []string, args ...string) *testkit.Process {
	tb.Helper()
	bin := testkit.MustBuildBinary(tb, testkit.Trackskills)
	base := append(os.Environ(), envName("rollup-delay")+"="+testRollupDelay.String())
	return testkit.MustStartProcess(tb, bin, append(base, env...), args...)
}

// mustWaitReady waits until p answers 200 on /readyz at addr.
func mustWaitReady(tb testing.TB, p *testkit.Process, addr string) {
	tb.Helper()
	if err := p.WaitHTTP("http://"+addr+"/readyz", 30*time.Second); err != nil {
		tb.Fatal(err)
	}
}

// readEvents reads every stored event of the database at path. It closes
// the database before it returns (not in Cleanup, as
// testkit.MustOpenReadOnly does): the tests call it in polling loops.
func readEvents(ctx context.Context, tb testing.TB, path string) []trackskills.Event {
	tb.Helper()
	db, err := sql.OpenReadOnly(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	evs, err := db.Events(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// secretScan looks for data that must never be stored in what a scan is
// given (every file of a data dir, the logs, the stream's messages): each
// secret found fails t; found notes what held marker, a string that must
// be stored, so that a scan that saw nothing cannot pass.
type secretScan struct {
	t       *testing.T
	secrets map[string]string // what -> the secret
	marker  string
	found   map[string]bool
}

func newSecretScan(t *testing.T, marker string, secrets map[string]string) *secretScan {
	return &secretScan{t: t, secrets: secrets, marker: marker, found: map[string]bool{}}
}

// scan looks through data, named name.
func (s *secretScan) scan(name string, data []byte) {
	s.t.Helper()
	if bytes.Contains(data, []byte(s.marker)) {
		s.found[name] = true
	}
	for what, secret := range s.secrets {
		if bytes.Contains(data, []byte(secret)) {
			s.t.Errorf("%s holds the raw %s %q", name, what, secret)
		}
	}
}

// dir scans every file under dir.
func (s *secretScan) dir(dir string) {
	s.t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s.scan(path, data)
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
}
