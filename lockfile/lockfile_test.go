package lockfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv names the lock file a child run of this test binary holds.
const helperEnv = "LOCKFILE_TEST_HOLD"

// TestMain lets this test binary act as a second process: with helperEnv
// set it takes the lock, prints "locked" and holds it until stdin closes.
func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		l, err := Acquire(path)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin) // hold until the parent lets go
		if err := l.Close(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func mustAcquire(t *testing.T, path string) *Lock {
	t.Helper()
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() }) // a second Close is a no-op
	return l
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Ensure Acquire creates the lock file and its directory, writes the PID
// over whatever the file held, and refuses a second holder until Close.
func TestAcquire(t *testing.T) {
	pid := strconv.Itoa(os.Getpid()) + "\n"
	tests := []struct {
		name    string
		before  string // content of a lock file left behind; "-" for no file
		subdir  bool   // the lock file's directory does not exist yet
		wantErr bool
	}{
		{name: "NoFile", before: "-"},
		{name: "MissingDir", before: "-", subdir: true},
		{name: "StalePID", before: "999999999\n"},
		{name: "LongerStaleContent", before: "12345678901234567890 left by an old version\n"},
		{name: "EmptyFile", before: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.subdir {
				dir = filepath.Join(dir, "a", "b")
			}
			path := filepath.Join(dir, "x.lock")
			if tc.before != "-" {
				if err := os.WriteFile(path, []byte(tc.before), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			l := mustAcquire(t, path)
			if l.Path() != path {
				t.Fatalf("Path()=%q, want %q", l.Path(), path)
			}
			if got := readFile(t, path); got != pid {
				t.Fatalf("lock file holds %q, want %q", got, pid)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.before == "-" && st.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, want 0600", st.Mode().Perm())
			}
		})
	}
}

// Ensure a second Acquire of a held lock (another open file description,
// as another process has) fails with a *HeldError naming the holder, and
// succeeds once the holder closes; Close leaves the file in place.
func TestAcquire_Held(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	first := mustAcquire(t, path)
	for i := 0; i < 2; i++ { // a refused Acquire changes nothing
		_, err := Acquire(path)
		if !errors.Is(err, ErrHeld) {
			t.Fatalf("second Acquire: err=%v, want ErrHeld", err)
		}
		var held *HeldError
		if !errors.As(err, &held) {
			t.Fatalf("err %T is not a *HeldError", err)
		}
		if held.PID != os.Getpid() || held.Path != path {
			t.Fatalf("HeldError{PID: %d, Path: %q}, want {%d, %q}", held.PID, held.Path, os.Getpid(), path)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Close removed the lock file: %v", err)
	}
	mustAcquire(t, path)
}

// Ensure a nil Lock closes without error.
func TestLock_Close(t *testing.T) {
	var l *Lock
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// Ensure the message says what is in use, by whom, and what to do, in one
// line.
func TestHeldError_Error(t *testing.T) {
	tests := []struct {
		name string
		err  HeldError
		want string
	}{
		{"Bare", HeldError{Path: "d/x.lock", PID: 42},
			"d is in use by another trackskills process (pid 42, lock file d/x.lock): stop it first"},
		{"NoPID", HeldError{Path: "d/x.lock"},
			"d is in use by another trackskills process (pid unknown, lock file d/x.lock): stop it first"},
		{"WhatAndFix", HeldError{Path: "./data/nats/trackskills.lock", PID: 1234, What: "data dir ./data", Fix: "give this one its own --data-dir"},
			"data dir ./data is in use by another trackskills process (pid 1234, lock file ./data/nats/trackskills.lock): stop it first, or give this one its own --data-dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("Error()=%q\nwant     %q", got, tc.want)
			}
			if !errors.Is(&tc.err, ErrHeld) {
				t.Fatal("does not match ErrHeld")
			}
		})
	}
}

// Ensure a lock held by another process refuses with that process's PID,
// and that the kernel releases it when the process is killed.
func TestAcquire_OtherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }() // no-ops once it is gone
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q (%v)", line, err)
	}

	_, err = Acquire(path)
	var held *HeldError
	if !errors.As(err, &held) || held.PID != cmd.Process.Pid {
		t.Fatalf("Acquire while the child holds it: err=%v, want a HeldError with pid %d", err, cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the exit error is expected
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := Acquire(path)
		if err == nil {
			_ = l.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock not released after the holder was killed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
