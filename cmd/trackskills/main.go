// Command trackskills runs the Track Skills pipeline: ingest, the JetStream
// stream, the SQLite consumer and the tools around them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/trackskills/trackskills/claudecode/hookcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "trackskills: %v\n", err)
		os.Exit(1)
	}
}

// errUsage reports a usage error that has already been printed.
var errUsage = errors.New("usage")

// run dispatches to a subcommand.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	if args[0] == "hook" || args[0] == "skills" || args[0] == "relay" {
		// What the Claude Code plugin runs: its options name the server.
		getenv = hookcmd.WithPluginOptions(getenv)
	}
	var cmd func(context.Context, []string, func(string) string, io.Writer, io.Writer) error
	switch args[0] {
	case "serve":
		cmd = runServe
	case "nats":
		cmd = runNATS
	case "ingest":
		cmd = runIngest
	case "consumer":
		cmd = runConsumer
	case "replay":
		cmd = runReplay
	case "rebuild":
		cmd = runRebuild
	case "analytics":
		cmd = runAnalytics
	case "alerts":
		cmd = runAlerts
	case "loadgen":
		cmd = runLoadgen
	case "seed":
		cmd = runSeed
	case "backup":
		cmd = runBackup
	case "status":
		cmd = runStatus
	case "deadletters":
		cmd = runDeadLetters
	case "hook":
		cmd = runHook
	case "relay":
		cmd = runRelay
	case "send":
		cmd = runSend
	case "skills":
		cmd = runSkills
	case "import":
		cmd = runImport
	case "version", "--version":
		cmd = runVersion
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
	if err := cmd(ctx, args[1:], getenv, stdout, stderr); err != nil && !errors.Is(err, errHelp) {
		return err
	}
	return nil
}

const usage = `trackskills: usage tracking for AI-agent skills and tools

Usage: trackskills <command> [flags]

Commands:
  serve        everything in one process: embedded NATS, ingest, consumer, analytics
  nats         the embedded NATS server with JetStream, alone
  ingest       the HTTP ingest endpoint, alone
  consumer     the stream -> SQLite consumer, alone
  replay       rebuild a database from the events stream (a range, or resume)
  rebuild      rebuild the live database from the stream beside it, then switch to it, while it runs
  analytics    the read-only analytics API, alone
  alerts       check an alert rules file, or send a test alert to its webhooks
  loadgen      send realistic events to an ingest endpoint and report rates
  seed         fill a database with realistic events through the consumer's write path
  backup       copy the live database to a file, consistent, while it is written; --check verifies
  status       report every part's state (stream, consumer lag, database, /readyz); exit 1 if one fails
  deadletters  list, show, retry or purge the messages the consumer could not decode
  hook         record a Claude Code hook call read on stdin; hook install adds it to settings.json
  relay        the local relay: takes Claude Code's HTTP hook on loopback, spools, forwards to the server
  send         send one event from a script: trackskills send NAME [--status ...]
  skills       skills scan: register the installed skills and MCP servers with the server
  import       import transcripts: the tool calls and model requests of Claude Code's past sessions
  version      print the version, the VCS revision and the Go version (also --version)

Run "trackskills <command> --help" for the flags of a command.
Every flag has an environment twin: --data-dir is TRACKSKILLS_DATA_DIR.
`
