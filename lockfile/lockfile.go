// Package lockfile gives a directory or a file one owning process: an
// exclusive, non-blocking flock(2) on a lock file that holds the owner's
// PID.
//
// The kernel releases a flock when the last descriptor of its open file
// closes, so a process that dies (even by SIGKILL) never leaves a stale
// lock behind: the next Acquire succeeds and overwrites the old PID.
//
// Close never deletes the lock file. Deleting it would open a race: a
// second process that has opened the file but not yet locked it would then
// lock an unlinked inode while a third creates a new file at the path and
// locks that one, and both would believe they own the resource. A lock file
// that stays behind is harmless: it is locked by nobody.
//
// A flock belongs to an open file description, not to a process: a second
// Acquire of the same path in one process fails too, as it would in
// another process. The package works on Linux and the other systems that
// have flock(2).
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrHeld is matched (errors.Is) by the error of Acquire when another open
// lock file (in practice another process) holds the lock.
var ErrHeld = errors.New("lock held by another process")

// HeldError is the error of Acquire when the lock is held. Its message says
// what is in use, by which PID, and what to do; the caller may set What and
// Fix to name the resource and the way out in its own terms.
type HeldError struct {
	Path string // the lock file
	PID  int    // the holder's PID as it wrote it, 0 when unknown
	What string // what the lock guards, such as "data dir ./data"; empty names the lock file's directory
	Fix  string // a second way out after "stop it first", such as "give this one its own --data-dir"; empty for none
}

// Error returns one line: what is in use, by whom, and what to do.
func (e *HeldError) Error() string {
	what := e.What
	if what == "" {
		what = filepath.Dir(e.Path)
	}
	pid := "pid unknown"
	if e.PID > 0 {
		pid = "pid " + strconv.Itoa(e.PID)
	}
	fix := ""
	if e.Fix != "" {
		fix = ", or " + e.Fix
	}
	return fmt.Sprintf("%s is in use by another trackskills process (%s, lock file %s): stop it first%s", what, pid, e.Path, fix)
}

// Is reports whether target is ErrHeld.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lock is a held lock file; Close releases it.
type Lock struct {
	f    *os.File
	path string
}

// Acquire takes the lock file at path (creating it, mode 0600, and its
// directory, mode 0750, when missing) without waiting, and writes this
// process's PID into it. When another open lock file holds it, the error
// is a *HeldError that matches ErrHeld.
func Acquire(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create lock dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{Path: path, PID: readPID(f)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := writePID(f); err != nil {
		_ = f.Close() // closing releases the lock; the write error is the one to report
		return nil, fmt.Errorf("write lock file %s: %w", path, err)
	}
	return &Lock{f: f, path: path}, nil
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// Close releases the lock; the file stays (see the package comment). It is
// safe to call on a nil Lock and more than once.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Closing the only descriptor releases the flock; the explicit unlock
	// says so and costs nothing.
	unlockErr := flock(f, syscall.LOCK_UN)
	if err := f.Close(); err != nil {
		return fmt.Errorf("close lock file: %w", err)
	}
	if unlockErr != nil {
		return fmt.Errorf("unlock %s: %w", l.path, unlockErr)
	}
	return nil
}

// flock calls flock(2), retrying when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// writePID replaces the file's content with this process's PID.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID reads the holder's PID; 0 when the file holds none yet (the
// holder may be between its flock and its write).
func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0) // a short or failed read is only a missing PID
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
