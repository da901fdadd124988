package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/client"

	"github.com/trackskills/trackskills/claudecode/hookcmd"
)

const sendSummary = `Sends one event to a Track Skills server, for any script:

  trackskills send my_script --status error --duration-ms 1200 --error-type exit_code

It waits for the answer (at most --timeout) and exits 1, saying why, when the
event was not accepted. Environment: TRACKSKILLS_URL, TRACKSKILLS_KEY,
TRACKSKILLS_USER (as for the hook).`

func runSend(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newPlainFlags("send NAME", sendSummary, stderr)
	status := f.String("status", "success", "success, error or timeout")
	category := f.String("category", "", "the tool's category (default: default)")
	duration := f.Int64("duration-ms", -1, "how long the call took, in ms (-1: unknown)")
	errType := f.String("error-type", "", "a short error class")
	errMsg := f.String("error-message", "", "the error's message")
	metadata := f.String("metadata", "", "a JSON object of extra fields")
	eventID := f.String("event-id", "", "an idempotency key: the same id is stored once")
	source := f.String("source", "bash", "where the event comes from: one of "+strings.Join(trackskills.Sources, ", "))
	url := f.String("url", hookcmd.FirstNonEmpty(getenv("TRACKSKILLS_URL"), hookcmd.DefaultURL), "the Track Skills server")
	timeout := f.Duration("timeout", 5*time.Second, "how long to wait for the server")
	// NAME may come before the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := f.FlagSet.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	if name == "" && f.NArg() > 0 {
		name = f.Arg(0)
	} else if f.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", f.Arg(0))
		return errUsage
	}
	if name == "" {
		fmt.Fprintln(stderr, "trackskills send: give the tool's name: trackskills send NAME [--status ...]")
		return errUsage
	}
	in := trackskills.Input{
		ToolName: name, ToolCategory: *category, Status: *status, ErrorType: *errType, ErrorMessage: *errMsg,
		EventID: *eventID, Source: *source, UserID: hookcmd.New(getenv, io.Discard).User(),
	}
	if *duration >= 0 {
		in.DurationMs = json.RawMessage(strconv.FormatInt(*duration, 10))
	}
	if *metadata != "" {
		in.Metadata = json.RawMessage(*metadata)
	}
	// Check here what the server would refuse, with the same rules.
	if _, err := in.Validate(time.Now()); err != nil {
		var fe *trackskills.FieldError
		if errors.As(err, &fe) {
			return fmt.Errorf("not sent: %s %s", fe.Field, fe.Message)
		}
		return fmt.Errorf("not sent: %w", err)
	}
	ev, err := hookcmd.ToClientEvent(in)
	if err != nil {
		return fmt.Errorf("not sent: %w", err)
	}
	ev.Source, ev.UserID, ev.Metadata = in.Source, in.UserID, in.Metadata
	c := client.New(client.Config{URL: strings.TrimRight(*url, "/"), Key: getenv("TRACKSKILLS_KEY"), Timeout: *timeout})
	if _, err := c.Send(ctx, ev); err != nil {
		return fmt.Errorf("send to %s: %w", *url, err)
	}
	fmt.Fprintf(stdout, "sent %s (%s)\n", name, *status)
	return nil
}
