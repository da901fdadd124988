package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Trackskills is the package path of the trackskills binary, relative to the
// module root, for BuildBinary.
const Trackskills = "./cmd/trackskills"

// builds holds the binaries built by this test binary, one per package.
var builds struct {
	mu  sync.Mutex
	dir string // the temporary directory that holds them
	by  map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// BuildBinary builds the main package pkg of this module (a path relative
// to the module root, such as Trackskills) once per test binary, into a
// temporary directory, and returns the binary's path. Later calls return the
// same binary; RemoveBinaries deletes them. It works from any package's test
// directory, and from TestMain, which has no testing.TB.
func BuildBinary(pkg string) (string, error) {
	builds.mu.Lock()
	if builds.by == nil {
		builds.by = map[string]*build{}
	}
	b := builds.by[pkg]
	if b == nil {
		b = &build{}
		builds.by[pkg] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() { b.path, b.err = buildBinary(pkg) })
	return b.path, b.err
}

func buildBinary(pkg string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not in a module")
	}
	builds.mu.Lock()
	if builds.dir == "" {
		if builds.dir, err = os.MkdirTemp("", "trackskills-testkit-"); err != nil {
			builds.mu.Unlock()
			return "", fmt.Errorf("binary dir: %w", err)
		}
	}
	bin := filepath.Join(builds.dir, filepath.Base(pkg))
	builds.mu.Unlock()
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// MustBuildBinary is BuildBinary for a test: it fails tb when the build
// fails.
func MustBuildBinary(tb testing.TB, pkg string) string {
	tb.Helper()
	bin, err := BuildBinary(pkg)
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// RemoveBinaries deletes the binaries BuildBinary built. TestMain calls it
// after m.Run.
func RemoveBinaries() error {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir == "" {
		return nil
	}
	err := os.RemoveAll(builds.dir)
	builds.dir, builds.by = "", nil
	return err
}

// CleanEnv returns this process's environment without the variables that
// would change a trackskills server or client under test (TRACKSKILLS_*,
// API_KEY), with no proxy for the loopback address, and with extra
// ("KEY=value") appended.
func CleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TRACKSKILLS_") || strings.HasPrefix(kv, "API_KEY=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "no_proxy=127.0.0.1,localhost", "NO_PROXY=127.0.0.1,localhost")
	return append(env, extra...)
}

// ErrNotStopped is wrapped by the error of Stop when the process could not
// be signalled or outlived the timeout.
var ErrNotStopped = errors.New("process not stopped")

// Process is a binary running as an OS process, its stdout and stderr
// captured together.
type Process struct {
	name   string // the binary and its first argument, for messages
	cmd    *exec.Cmd
	logs   LockedBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// StartProcess runs bin with args. env is its whole environment (CleanEnv
// builds one); nil passes this process's environment on unchanged.
func StartProcess(bin string, env []string, args ...string) (*Process, error) {
	p := &Process{name: filepath.Base(bin), exited: make(chan struct{})}
	if len(args) > 0 {
		p.name += " " + args[0]
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// MustStartProcess is StartProcess for a test. Cleanup kills the process if
// it still runs, and logs what it wrote when the test failed.
func MustStartProcess(tb testing.TB, bin string, env []string, args ...string) *Process {
	tb.Helper()
	p, err := StartProcess(bin, env, args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill() // the test is over; the process must go
			<-p.exited
		}
		if tb.Failed() {
			tb.Logf("%s logs:\n%s", p.name, p.Logs())
		}
	})
	return p
}

// Logs returns what the process wrote so far on stdout and stderr.
func (p *Process) Logs() string { return p.logs.String() }

// PID returns the process's ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop sends sig to the process and waits up to timeout for it to exit. It
// returns the process's exit error: nil after a clean exit, an
// *exec.ExitError otherwise (also when it had exited before Stop). When the
// signal cannot be sent or the process outlives timeout, it kills the
// process and returns an error that wraps ErrNotStopped and holds the logs.
func (p *Process) Stop(sig os.Signal, timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		select {
		case <-p.exited: // it exited in the meantime
			return p.err
		default:
			return fmt.Errorf("%w: %s: signal %v: %w", ErrNotStopped, p.name, sig, err)
		}
	}
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill() // the timeout is the error to report
		<-p.exited
		return fmt.Errorf("%w: %s still ran %s after %v:\n%s", ErrNotStopped, p.name, timeout, sig, p.Logs())
	}
}

// MustStop is Stop for a test: it fails tb unless the process exited within
// timeout of sig, and returns its exit error.
func (p *Process) MustStop(tb testing.TB, sig os.Signal, timeout time.Duration) error {
	tb.Helper()
	err := p.Stop(sig, timeout)
	if errors.Is(err, ErrNotStopped) {
		tb.Fatal(err)
	}
	return err
}

// WaitHTTP waits until GET url answers 200. It returns an error holding the
// logs when the process exits first or timeout passes; it leaves the process
// running.
func (p *Process) WaitHTTP(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		err := getOK(ctx, url)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before %s answered (%v):\n%s", p.name, url, p.err, p.Logs())
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not ready within %s: %v:\n%s", p.name, url, timeout, err, p.Logs())
		case <-time.After(PollInterval):
		}
	}
}
