package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trackskills/trackskills/consumer"
	"github.com/trackskills/trackskills/sql"
)

const deadLettersSummary = `Inspects and repairs the dead letters: the stream messages the consumer
could not decode, kept in the dead_letters table with their reason.

  trackskills deadletters list [--limit N] [--json]
  trackskills deadletters show ID
  trackskills deadletters retry [ID...]      (no ID: every dead letter)
  trackskills deadletters purge [--before TIME] [--yes]

list and show only read. retry decodes each dead letter again through the
consumer's decode path and writes its events (events already stored are
ignored) and deletes it in one transaction; one that still does not decode
stays, with its reason updated. purge deletes dead letters (stored before
--before when given: a time, a date or an age such as 30d) and asks first
on a terminal unless --yes. retry and purge take the database lock: stop
the consumer (or serve) on that database first.`

// confirmInput returns the reader to ask for a confirmation on and whether
// it is a terminal; tests replace it.
var confirmInput = func() (io.Reader, bool) {
	fi, err := os.Stdin.Stat()
	return os.Stdin, err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runDeadLetters dispatches to the deadletters subcommands.
func runDeadLetters(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const use = "Usage: trackskills deadletters list|show|retry|purge [flags]\n\n%s\n"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintf(stdout, use, deadLettersSummary)
		return nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, use, deadLettersSummary)
		return errUsage
	}
	sub, args := args[0], args[1:]
	f := newCmdFlags("deadletters "+sub, deadLettersSummary, getenv, stderr)
	o := defaultOptions()
	o.registerData(f)
	switch sub {
	case "list":
		var limit int
		var asJSON bool
		f.IntVar(&limit, "limit", 50, "list at most this many, newest first (0 = all)")
		f.BoolVar(&asJSON, "json", false, "one JSON object a line (NDJSON)")
		if err := f.parse(args); err != nil {
			return err
		}
		return deadLettersList(ctx, &o, limit, asJSON, stdout)
	case "show":
		ids, err := parseIDs(f, args)
		if err != nil {
			return err
		}
		if len(ids) != 1 {
			fmt.Fprintln(stderr, "deadletters show: want one ID")
			return errUsage
		}
		return deadLettersShow(ctx, &o, ids[0], stdout)
	case "retry":
		ids, err := parseIDs(f, args)
		if err != nil {
			return err
		}
		return deadLettersRetry(ctx, &o, ids, stdout)
	case "purge":
		var before string
		var yes bool
		f.StringVar(&before, "before", "", "delete only the dead letters stored before this time (RFC 3339, a date, or an age such as 30d)")
		f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
		if err := f.parse(args); err != nil {
			return err
		}
		t, err := parseBefore(before, time.Now())
		if err != nil {
			return err
		}
		return deadLettersPurge(ctx, &o, t, yes, stdout)
	default:
		fmt.Fprintf(stderr, "unknown deadletters command %q: want list, show, retry or purge\n", sub)
		return errUsage
	}
}

// parseIDs parses the flags of f and the dead-letter ids among args.
func parseIDs(f *cmdFlags, args []string) ([]int64, error) {
	var ids []int64
	var rest []string
	for _, a := range args { // ids may come before or after the flags
		if id, err := strconv.ParseInt(a, 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		} else {
			rest = append(rest, a)
		}
	}
	if err := f.parse(rest); err != nil {
		return nil, err
	}
	return ids, nil
}

// parseBefore parses --before: empty (no bound), a time, a date or an age
// counted back from now.
func parseBefore(s string, now time.Time) (time.Time, error) {
	if d, err := parseDuration(s); err == nil && s != "" {
		return now.Add(-d), nil
	}
	return parseReplayTime("before", s)
}

func deadLettersList(ctx context.Context, o *options, limit int, asJSON bool, stdout io.Writer) error {
	db, err := sql.OpenReadOnly(ctx, o.dbPath())
	if err != nil {
		return err
	}
	defer db.Close()
	dls, err := db.ListDeadLetters(ctx, limit)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	if asJSON {
		enc := json.NewEncoder(w)
		for _, dl := range dls {
			if err := enc.Encode(deadLetterJSON{ID: dl.ID, StreamSeq: dl.StreamSeq, Subject: dl.Subject,
				StoredAt: dl.StoredAt.Format(time.RFC3339Nano), Reason: dl.Reason}); err != nil {
				return fmt.Errorf("write dead letter: %w", err)
			}
		}
		return w.Flush()
	}
	if len(dls) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return w.Flush()
	}
	fmt.Fprintf(w, "%-8s %-10s %-24s %-20s %s\n", "ID", "STREAM_SEQ", "SUBJECT", "STORED_AT", "REASON")
	for _, dl := range dls {
		fmt.Fprintf(w, "%-8d %-10d %-24s %-20s %s\n", dl.ID, dl.StreamSeq, dl.Subject,
			dl.StoredAt.Format(time.DateTime), oneLine(dl.Reason, 100))
	}
	return w.Flush()
}

// deadLetterJSON is one line of deadletters list --json.
type deadLetterJSON struct {
	ID        int64  `json:"id"`
	StreamSeq uint64 `json:"stream_seq"`
	Subject   string `json:"subject"`
	StoredAt  string `json:"stored_at"`
	Reason    string `json:"reason"`
}

// oneLine returns the first line of s, cut to at most n runes.
func oneLine(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " ..."
	}
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-3]) + "..."
	}
	return s
}

func deadLettersShow(ctx context.Context, o *options, id int64, stdout io.Writer) error {
	db, err := sql.OpenReadOnly(ctx, o.dbPath())
	if err != nil {
		return err
	}
	defer db.Close()
	dl, err := db.GetDeadLetter(ctx, id)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	fmt.Fprintf(w, "id:         %d\nstream_seq: %d\nsubject:    %s\nstored_at:  %s\nreason:     %s\n",
		dl.ID, dl.StreamSeq, dl.Subject, dl.StoredAt.Format(time.RFC3339Nano), dl.Reason)
	fmt.Fprintf(w, "headers:    %s\n", dl.Headers)
	if printable(dl.Payload) {
		fmt.Fprintf(w, "payload (%d bytes, text):\n%s\n", len(dl.Payload), dl.Payload)
	} else {
		fmt.Fprintf(w, "payload (%d bytes, base64):\n%s\n", len(dl.Payload), base64.StdEncoding.EncodeToString(dl.Payload))
	}
	return w.Flush()
}

// printable reports whether b is UTF-8 text without control characters but
// tabs and newlines.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r != '\n' && r != '\t' && r != '\r' && !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func deadLettersRetry(ctx context.Context, o *options, ids []int64, stdout io.Writer) error {
	db, closeDB, err := o.openLockedDB(ctx)
	if err != nil {
		return err
	}
	defer closeDB() //nolint:errcheck // nothing is left to flush: each write committed
	var dls []sql.StoredDeadLetter
	if len(ids) == 0 {
		if dls, err = db.ListDeadLetters(ctx, 0); err != nil {
			return err
		}
		for i, j := 0, len(dls)-1; i < j; i, j = i+1, j-1 { // oldest first
			dls[i], dls[j] = dls[j], dls[i]
		}
	} else {
		for _, id := range ids {
			dl, err := db.GetDeadLetter(ctx, id)
			if err != nil {
				return err
			}
			dls = append(dls, dl)
		}
	}
	var retried, stuck int
	for _, dl := range dls {
		events, reason, err := consumer.DecodeDeadLetter(dl.DeadLetter)
		if err != nil {
			if err := db.SetDeadLetterReason(ctx, dl.ID, reason); err != nil {
				return err
			}
			stuck++
			fmt.Fprintf(stdout, "%d: still undecodable (%s)\n", dl.ID, oneLine(reason, 200))
			continue
		}
		res, err := db.RetryDeadLetter(ctx, dl.ID, events)
		if err != nil {
			return err
		}
		retried++
		fmt.Fprintf(stdout, "%d: retried (%d events inserted, %d already present)\n", dl.ID, res.Inserted, res.Ignored)
	}
	fmt.Fprintf(stdout, "%d retried, %d still undecodable\n", retried, stuck)
	return nil
}

// errNoConfirm reports a purge that could not ask for confirmation.
var errNoConfirm = errors.New("deadletters purge: not on a terminal, so it cannot ask for confirmation: pass --yes to delete")

func deadLettersPurge(ctx context.Context, o *options, before time.Time, yes bool, stdout io.Writer) error {
	in, tty := confirmInput()
	if !yes && !tty {
		return errNoConfirm
	}
	db, closeDB, err := o.openLockedDB(ctx)
	if err != nil {
		return err
	}
	defer closeDB() //nolint:errcheck // nothing is left to flush: each write committed
	n, err := db.CountDeadLetters(ctx, before)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(stdout, "no dead letters to delete")
		return nil
	}
	if !yes {
		fmt.Fprintf(stdout, "delete %d dead letters? [y/N] ", n)
		answer, _ := bufio.NewReader(in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(stdout, "nothing deleted")
			return nil
		}
	}
	deleted, err := db.PurgeDeadLetters(ctx, before)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted %d dead letters\n", deleted)
	return nil
}
