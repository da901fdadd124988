package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/trackskills/trackskills/alerts"
	"github.com/trackskills/trackskills/sql"
)

const alertsSummary = `Checks and tries an alert rules file (docs/ALERTS.md); serve and
analytics evaluate one with --alerts FILE.

  trackskills alerts check [FILE]   validate: one FILE:LINE:COL: message line
                                    per problem and exit 1, or a summary line
  trackskills alerts test [FILE]    post a sample alert (marked "test") to each
                                    target, once, without retries; print each
                                    target's HTTP status; exit 1 if one failed

FILE defaults to TRACKSKILLS_ALERTS. The variables the file names in url_env
and headers_env are read from the environment.`

// alertOptions are the flags of the alert evaluator of serve and analytics.
type alertOptions struct {
	file  string
	every time.Duration
	rules *alerts.File // loaded by load
}

func (a *alertOptions) register(f *cmdFlags) {
	f.StringVar(&a.file, "alerts", a.file, "evaluate the alert rules of this YAML file (docs/ALERTS.md) and post their alerts to its webhooks; empty: no alerts")
	f.duration(&a.every, "alerts-every", alerts.DefaultConfig().Every, "how often the alert rules are evaluated")
}

// load reads and checks the rules file, if one is given, before anything
// starts.
func (a *alertOptions) load(getenv func(string) string) error {
	if a.file == "" {
		return nil
	}
	if a.every < time.Second {
		return fmt.Errorf("--alerts-every must be at least 1s, not %s", a.every)
	}
	data, err := os.ReadFile(a.file)
	if err != nil {
		return fmt.Errorf("read alert rules: %w", err)
	}
	a.rules, err = alerts.Parse(a.file, data, getenv)
	return err
}

// start runs the evaluator over db until ctx ends or the returned stop is
// called, which waits for it. Without a rules file it does nothing.
func (a *alertOptions) start(ctx context.Context, db *sql.DB, logger *slog.Logger) (stop func(), err error) {
	if a.rules == nil {
		return func() {}, nil
	}
	cfg := alerts.DefaultConfig()
	cfg.Every = a.every
	al, err := alerts.New(cfg, a.rules, db, logger.With("component", "alerts"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = al.Run(ctx) // Run returns nil when its context ends
	}()
	return func() { cancel(); <-done }, nil
}

// runAlerts dispatches to alerts check and alerts test.
func runAlerts(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const use = "Usage: trackskills alerts check|test [FILE]\n\n%s\n"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintf(stdout, use, alertsSummary)
		return nil
	}
	if len(args) == 0 || (args[0] != "check" && args[0] != "test") {
		fmt.Fprintf(stderr, use, alertsSummary)
		return errUsage
	}
	sub, args := args[0], args[1:]
	f := newCmdFlags("alerts "+sub, alertsSummary, getenv, stderr)
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	path := getenv("TRACKSKILLS_ALERTS")
	switch f.NArg() {
	case 0:
		if path == "" {
			fmt.Fprintf(stderr, "alerts %s: name the rules file (or set TRACKSKILLS_ALERTS)\n", sub)
			return errUsage
		}
	case 1:
		path = f.Arg(0)
	default:
		fmt.Fprintf(stderr, "alerts %s: want one FILE, not %d\n", sub, f.NArg())
		return errUsage
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read alert rules: %w", err)
	}
	file, err := alerts.Parse(path, data, getenv)
	var fe *alerts.FileError
	if errors.As(err, &fe) {
		fmt.Fprintln(stderr, fe.Error())
		return fmt.Errorf("%s: %s", path, plural(len(fe.Problems), "problem"))
	}
	if err != nil {
		return err
	}
	if sub == "check" {
		fmt.Fprintf(stdout, "%s: ok: %s, %s\n", path, plural(len(file.Rules), "rule"), plural(len(file.Targets), "target"))
		return nil
	}
	return alertsTest(ctx, file, stdout)
}

// alertsTest posts the sample notification to every target of file, once
// each, and reports each status.
func alertsTest(ctx context.Context, file *alerts.File, stdout io.Writer) error {
	sender := &alerts.Sender{}
	msg := alerts.SampleNotification(time.Now())
	var failed []string
	for i := range file.Targets {
		t := file.Targets[i]
		t.Retries = 0 // a test shows what the webhook answers now
		status, err := sender.Send(ctx, &t, msg)
		if err != nil {
			failed = append(failed, t.Name)
			fmt.Fprintf(stdout, "%s (%s): failed: %v\n", t.Name, t.Type, err)
			continue
		}
		fmt.Fprintf(stdout, "%s (%s): HTTP %d\n", t.Name, t.Type, status)
	}
	if len(failed) > 0 {
		return fmt.Errorf("alerts test: %s failed: %s", plural(len(failed), "target"), strings.Join(failed, ", "))
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
