package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
)

// Ensure serve, as a real process, creates its NATS credentials in the
// data dir with mode 0600 on first start and refuses a client without
// them on its NATS port.
func TestServe_NATSCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	httpAddr, natsAddr := testkit.MustFreeAddr(t), testkit.MustFreeAddr(t)
	p := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", natsAddr)
	mustWaitReady(t, p, httpAddr)
	for _, user := range embeddednats.Users {
		st, err := os.Stat(embeddednats.CredsFile(filepath.Join(dir, embeddednats.CredsDirName), user))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := st.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("%s credentials: mode %v, want %v", user, got, want)
		}
	}
	if nc, err := nats.Connect("nats://" + natsAddr); err == nil {
		nc.Close()
		t.Error("connected to serve's NATS without credentials")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("err=%v, want an authorization violation", err)
	}
	nc, err := nats.Connect(natsAdminURL(t, dir, "nats://"+natsAddr))
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	nc.Close()
	if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.Logs())
	}
}

// Ensure serve --nats-addr none opens no NATS port and still takes events
// in and answers with them, end to end through HTTP.
func TestServe_NoNATSPort(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	httpAddr := testkit.MustFreeAddr(t)
	p := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--nats-addr", "none")
	mustWaitReady(t, p, httpAddr)
	if logs := p.Logs(); !strings.Contains(logs, `nats="in-process only"`) {
		t.Fatalf("serve's log does not say NATS is in-process only:\n%s", logs)
	}
	postEvents(t, httpAddr, 0, 25)
	testkit.Eventually(t, 30*time.Second, func() error { return summaryTotal("http://"+httpAddr, 25) })
	if err := p.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.Logs())
	}
}
