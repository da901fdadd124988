package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/trackskills/trackskills/lockfile"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

// runCmd runs the subcommand line args with no environment and returns
// its stdout and stderr.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// Ensure backup writes a checked copy of a seeded database with a
// one-line summary, refuses to replace it without --force, and that
// --check-only verifies a copy and rejects a damaged one.
func TestBackup_Run(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, err := runCmd(t, "seed", "--data-dir", dir, "--events", "3000", "--days", "2", "--seed", "3"); err != nil {
		t.Fatalf("seed: %v\n%s", err, errOut)
	}
	out := filepath.Join(t.TempDir(), "copy.db")

	stdout, errOut, err := runCmd(t, "backup", "--data-dir", dir, "--out", out, "--check")
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^` + regexp.QuoteMeta(out) + fmt.Sprintf(`: %d bytes, 3000 events in skill_usage_events, checked, in [0-9.]+m?s\n$`, st.Size()))
	if !want.MatchString(stdout) {
		t.Errorf("backup said %q, want it to match %s", stdout, want)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("copy mode %v, want 0600", st.Mode().Perm())
	}

	// Ensure an existing --out is refused, with exit code 1 (not a usage
	// error), and kept.
	before, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = runCmd(t, "backup", "--db", filepath.Join(dir, "trackskills.db"), "--out", out)
	if err == nil || errors.Is(err, errUsage) || err.Error() != out+" exists: choose another --out, or pass --force to replace it" {
		t.Fatalf("backup over a copy: %v", err)
	}
	if after, err := os.ReadFile(out); err != nil || !bytes.Equal(after, before) {
		t.Fatalf("refused backup changed the copy (%v)", err)
	}
	if _, errOut, err := runCmd(t, "backup", "--data-dir", dir, "--out", out, "--force"); err != nil {
		t.Fatalf("backup --force: %v\n%s", err, errOut)
	}

	stdout, _, err = runCmd(t, "backup", "--check-only", out)
	if err != nil || !strings.HasPrefix(stdout, out+": ok, 3000 events, checked in ") {
		t.Fatalf("check-only: %q, %v", stdout, err)
	}
	if err := os.Truncate(out, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "backup", "--check-only", out); err == nil || !strings.Contains(err.Error(), "integrity check") {
		t.Fatalf("check-only of a truncated copy: %v", err)
	}

	if _, _, err := runCmd(t, "backup", "--data-dir", dir); !errors.Is(err, errUsage) {
		t.Errorf("backup without --out: %v, want a usage error", err)
	}
}

// Ensure a backup taken while a serve process owns and writes the
// database holds what serve had stored, and that serve goes on storing.
func TestBackup_BesideServe(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	httpAddr := testkit.MustFreeAddr(t)
	srv := startBinary(t, nil, "serve", "--data-dir", dir, "--http-addr", httpAddr,
		"--nats-addr", testkit.MustFreeAddr(t), "--batch-wait", "20ms")
	mustWaitReady(t, srv, httpAddr)
	postEvents(t, httpAddr, 0, 50)
	dbPath := filepath.Join(dir, "trackskills.db")
	waitRows(t, dbPath, 50)

	out := filepath.Join(t.TempDir(), "copy.db")
	if _, errOut, err := runCmd(t, "backup", "--data-dir", dir, "--out", out, "--check"); err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut)
	}
	if n, err := sql.Check(context.Background(), out); err != nil || n != 50 {
		t.Fatalf("copy: %d events, %v; want 50", n, err)
	}

	postEvents(t, httpAddr, 50, 100)
	waitRows(t, dbPath, 100)
	if err := srv.MustStop(t, syscall.SIGTERM, stopTimeout); err != nil {
		t.Fatalf("serve exit: %v\n%s", err, srv.Logs())
	}
}

// Ensure seed refuses a database another process holds, before writing
// anything.
func TestSeed_RefusesLockedDatabase(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "trackskills.db")
	held, err := lockfile.Acquire(dbPath + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, _, err = runCmd(t, "seed", "--data-dir", dir, "--events", "100")
	if !errors.Is(err, lockfile.ErrHeld) {
		t.Fatalf("seed beside a held lock: %v, want lockfile.ErrHeld", err)
	}
	if want := fmt.Sprintf("database %s is in use by another trackskills process (pid %d, lock file %s.lock): stop it first, or give this one its own --db (or --data-dir)", dbPath, os.Getpid(), dbPath); err.Error() != want {
		t.Errorf("seed said %q, want %q", err, want)
	}
	if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("seed created the database: %v", err)
	}
}
