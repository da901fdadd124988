package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trackskills/trackskills/claudecode/hookcmd"
	"github.com/trackskills/trackskills/relay"
)

const relaySummary = `Runs the local relay on a developer's machine: Claude Code's HTTP hook
posts each event to it on loopback (trackskills hook install --relay sets
that up), it answers as soon as the event is in its spool, and it forwards
the spool to the team's server in the background, oldest first, in batches,
retrying with backoff while the server is down. Nothing is lost across a
restart of either: the spool is on disk (fsync every 20 ms), and an event
sent twice is stored once (its id is fixed when it is spooled).

The spool holds user_id ($USER, or TRACKSKILLS_USER) and Claude Code's
session id in the clear, as the command hook's spool does: the server
hashes them, with a key the relay does not have. Use an https:// server URL
so that they cross the network encrypted.

Environment: TRACKSKILLS_URL (the server, default http://127.0.0.1:8080),
TRACKSKILLS_KEY (its ingest key; or --key-file), TRACKSKILLS_USER.`

func runRelay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newPlainFlags("relay", relaySummary, stderr)
	listen := f.String("listen", relay.DefaultListen, "where to listen: a loopback address only")
	server := f.String("url", hookcmd.FirstNonEmpty(getenv("TRACKSKILLS_URL"), hookcmd.DefaultURL), "the Track Skills server to forward to")
	keyFile := f.String("key-file", "", "a file holding the server's ingest key (default: TRACKSKILLS_KEY)")
	spoolDir := f.String("spool-dir", "", "the spool (default $XDG_STATE_HOME/trackskills/relay or ~/.local/state/trackskills/relay)")
	maxSpool := f.Int64("max-spool-mb", relay.DefaultMaxSpoolBytes>>20, "the spool's bound in MiB; past it the oldest events are dropped and counted")
	storeArgs := f.Bool("store-skill-args", getenv("TRACKSKILLS_STORE_SKILL_ARGS") == "1", "keep skills' arguments (they can hold anything the user typed)")
	var logOpts = logOptions{level: "info", format: "text"}
	logOpts.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	logger, err := logOpts.logger(stderr)
	if err != nil {
		return err
	}
	if !isLoopback(*listen) {
		return fmt.Errorf("--listen %s is not a loopback address: the relay takes the hook events of this machine only, with no key (use 127.0.0.1:PORT)", *listen)
	}
	if *maxSpool <= 0 {
		return fmt.Errorf("--max-spool-mb %d: give a positive size", *maxSpool)
	}
	key := getenv("TRACKSKILLS_KEY")
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("read --key-file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if *spoolDir == "" {
		*spoolDir = defaultRelaySpool(getenv)
	}
	user := hookcmd.FirstNonEmpty(getenv("TRACKSKILLS_USER"), getenv("USER"))
	// Listen first: a relay that cannot have its port (another one runs)
	// leaves the spool alone.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	r, err := relay.New(relay.Config{Server: *server, Key: key, User: user, SpoolDir: *spoolDir,
		MaxSpoolBytes: *maxSpool << 20, StoreSkillArgs: *storeArgs, Logger: logger})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: nil}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fwdCtx, stopForward := context.WithCancel(context.Background())
	forwarded := make(chan error, 1)
	go func() { forwarded <- r.Run(fwdCtx) }()
	logger.Info("relay: listening", "addr", ln.Addr().String(), "server", *server, "spool", *spoolDir)
	fmt.Fprintf(stdout, "relay on http://%s%s, forwarding to %s\n", ln.Addr(), "/api/hooks/claude-code", *server)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	// Stop taking events first, then the forwarder, which syncs and closes
	// the spool: what was answered for is on disk.
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	stopForward()
	err = <-forwarded
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	logger.Info("relay: stopped", "pending_bytes", r.Health().PendingBytes)
	return errors.Join(serveErr, err)
}

// defaultRelaySpool is the relay's spool beside the command hook's.
func defaultRelaySpool(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "trackskills", "relay")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "trackskills", "relay")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("trackskills-relay-%d", os.Getuid()))
}
