package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/trackskills/trackskills/claudecode/hookcmd"
)

const hookSummary = `Reads the JSON of a Claude Code hook on stdin and records the tool call it
describes, for a command hook with "async": true. The mapping is the one of
POST /api/hooks/claude-code. PreToolUse only notes when a call started, to
time a Post event that lacks duration_ms.

It always exits 0 and prints nothing on stdout. When the server is down or
slow (over TRACKSKILLS_TIMEOUT), the event goes to a local spool of at most
10,000 events (the oldest are dropped and counted when it is full); a later
run sends the spool through /api/track/batch first.

Environment: TRACKSKILLS_URL (default http://127.0.0.1:8080), TRACKSKILLS_KEY
(the ingest key), TRACKSKILLS_USER (default $USER, as the HTTP hook; hashed by
the server), TRACKSKILLS_TIMEOUT (default 1s), TRACKSKILLS_SPOOL_DIR (default
$XDG_STATE_HOME/trackskills or ~/.local/state/trackskills),
TRACKSKILLS_STORE_SKILL_ARGS=1 keeps skill arguments, TRACKSKILLS_DEBUG=1
writes what happens to stderr.

Subcommands:
  trackskills hook install [--user | --project DIR] [--http] [--url URL] [--dry-run]
  trackskills hook uninstall [--user | --project DIR] [--dry-run]
  trackskills hook flush     send the spool now and print what it held`

func runHook(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "install":
			return runHookInstall(ctx, args[1:], getenv, stdout, stderr, true)
		case "uninstall":
			return runHookInstall(ctx, args[1:], getenv, stdout, stderr, false)
		case "flush":
			return runHookFlush(ctx, getenv, stdout)
		case "-h", "--help", "help":
			fmt.Fprintf(stdout, "Usage: trackskills hook < hook.json\n\n%s\n", hookSummary)
			return nil
		}
		fmt.Fprintf(stderr, "trackskills hook: unknown argument %q\n\nUsage: trackskills hook < hook.json\n\n%s\n", args[0], hookSummary)
		return errUsage
	}
	hookcmd.New(getenv, stderr).Run(ctx, os.Stdin)
	return nil // a hook never fails: Claude Code would show it
}

// runHookFlush sends the spool now and reports.
func runHookFlush(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	h := hookcmd.New(getenv, io.Discard)
	sent, left, dropped, err := h.Flush(ctx)
	fmt.Fprintf(stdout, "sent %d spooled events to %s; %d left in %s (%d dropped so far, the spool being full)\n",
		sent, h.URL(), left, h.SpoolPath(), dropped)
	return err
}
