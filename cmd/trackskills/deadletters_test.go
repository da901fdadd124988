package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/lockfile"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
	"github.com/trackskills/trackskills/wire"
)

// setConfirmInput makes purge read its answer from answer, on a terminal
// or not, for the rest of the test.
func setConfirmInput(t *testing.T, answer string, tty bool) {
	prev := confirmInput
	confirmInput = func() (io.Reader, bool) { return strings.NewReader(answer), tty }
	t.Cleanup(func() { confirmInput = prev })
}

// dlEvent returns a valid stored event with the given id.
func dlEvent(id string) trackskills.Event {
	now := time.Now().UnixMilli()
	return trackskills.Event{
		EventID: id, ToolName: "dl_skill", ToolCategory: trackskills.DefaultCategory,
		Status: trackskills.StatusSuccess, Timestamp: now, ReceivedAt: now,
		UserHash: "0123456789abcdef0123456789abcdef", Source: trackskills.DefaultSource,
	}
}

// Ensure deadletters lists a garbage and a valid dead letter, shows one,
// retries the valid one into rows (removing it) and keeps the garbage one
// with its reason, refuses retry while the database lock is held and purge
// without a terminal nor --yes, and purges the rest with --yes.
func TestDeadLetters_Run(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "trackskills.db")
	db := testkit.MustOpenDBAt(t, dbPath)
	present := dlEvent("dl-present")
	testkit.MustWriteBatch(t, db, []trackskills.Event{present})
	var data []byte
	for _, ev := range []trackskills.Event{dlEvent("dl-new-1"), dlEvent("dl-new-2"), present} {
		var err error
		if data, err = wire.AppendEvent(data, &ev); err != nil {
			t.Fatal(err)
		}
	}
	msg := wire.NewMsg("events.valid", data)
	hdr, _ := json.Marshal(msg.Header) // a map of strings always encodes
	garbage := []byte{0xff, 0x00, 'x'}
	if _, err := db.WriteBatch(t.Context(), nil, []sql.DeadLetter{
		{StreamSeq: 11, Subject: "events.garbage", Reason: "undecodable message: old\nsecond line", Headers: `{}`, Payload: garbage},
		{StreamSeq: 12, Subject: "events.valid", Reason: "undecodable message: an older build", Headers: string(hdr), Payload: msg.Data},
	}); err != nil {
		t.Fatal(err)
	}
	list, _ := db.ListDeadLetters(t.Context(), 0)
	validID, garbageID := list[0].ID, list[1].ID
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	base := []string{"--data-dir", dir}
	dl := func(sub string, args ...string) (string, string, error) {
		return runCmd(t, append(append([]string{"deadletters", sub}, base...), args...)...)
	}

	out, errOut, err := dl("list")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "events.valid") || !strings.Contains(lines[2], "events.garbage") ||
		!strings.Contains(lines[2], "old ...") || strings.Contains(out, "second line") {
		t.Fatalf("list, newest first, one line a reason:\n%s", out)
	}
	out, _, err = dl("list", "--json", "--limit", "1")
	var row deadLetterJSON
	if err != nil || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &row) != nil || row.ID != validID || row.StreamSeq != 12 {
		t.Fatalf("list --json --limit 1: %v %q", err, out)
	}
	out, _, err = dl("show", fmt.Sprint(validID))
	if err != nil || !strings.Contains(out, "stream_seq: 12") || !strings.Contains(out, "text):\n"+string(data)) {
		t.Fatalf("show valid: %v\n%s", err, out)
	}
	out, _, err = dl("show", fmt.Sprint(garbageID))
	if err != nil || !strings.Contains(out, "base64):\n/wB4\n") {
		t.Fatalf("show garbage: %v\n%s", err, out)
	}
	if _, _, err := dl("show", "999"); !errors.Is(err, sql.ErrNoDeadLetter) {
		t.Fatalf("show 999: %v", err)
	}

	held, err := lockfile.Acquire(dbPath + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = dl("retry")
	held.Close()
	if !errors.Is(err, lockfile.ErrHeld) || !strings.Contains(err.Error(), fmt.Sprintf("database %s is in use by another trackskills process (pid %d", dbPath, os.Getpid())) {
		t.Fatalf("retry beside a held lock: %v", err)
	}

	out, errOut, err = dl("retry")
	if err != nil {
		t.Fatalf("retry: %v\n%s", err, errOut)
	}
	for _, want := range []string{
		fmt.Sprintf("%d: retried (2 events inserted, 1 already present)\n", validID),
		fmt.Sprintf("%d: still undecodable (undecodable message: ", garbageID),
		"1 retried, 1 still undecodable\n",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("retry said:\n%s\nwant it to hold %q", out, want)
		}
	}
	ro := testkit.MustOpenReadOnly(t, dbPath)
	if n, err := ro.CountEvents(t.Context()); err != nil || n != 3 {
		t.Fatalf("events after retry: %d %v, want 3", n, err)
	}
	left, _ := ro.ListDeadLetters(t.Context(), 0)
	if len(left) != 1 || left[0].ID != garbageID || left[0].Reason == "undecodable message: old\nsecond line" ||
		!strings.HasPrefix(left[0].Reason, "undecodable message: ") {
		t.Fatalf("dead letters after retry: %+v", left)
	}
	if out, _, err := dl("retry", fmt.Sprint(validID)); !errors.Is(err, sql.ErrNoDeadLetter) {
		t.Fatalf("retry of a retried id: %v %s", err, out)
	}

	setConfirmInput(t, "", false)
	if _, _, err := dl("purge"); !errors.Is(err, errNoConfirm) {
		t.Fatalf("purge without a terminal nor --yes: %v", err)
	}
	setConfirmInput(t, "n\n", true)
	if out, _, err := dl("purge"); err != nil || out != "delete 1 dead letters? [y/N] nothing deleted\n" {
		t.Fatalf("purge answered no: %v %q", err, out)
	}
	if n, _ := ro.CountDeadLetters(t.Context(), time.Time{}); n != 1 {
		t.Fatalf("%d dead letters after refused purges, want 1", n)
	}
	if out, _, err := dl("purge", "--yes", "--before", "2000-01-01"); err != nil || out != "no dead letters to delete\n" {
		t.Fatalf("purge --before 2000: %v %q", err, out)
	}
	setConfirmInput(t, "", false)
	if out, _, err := dl("purge", "--yes"); err != nil || out != "deleted 1 dead letters\n" {
		t.Fatalf("purge --yes: %v %q", err, out)
	}
	if n, _ := ro.CountDeadLetters(t.Context(), time.Time{}); n != 0 {
		t.Fatalf("%d dead letters after purge --yes, want 0", n)
	}
}

func TestParseBefore(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"30d", now.Add(-30 * 24 * time.Hour), false},
		{"2h", now.Add(-2 * time.Hour), false},
		{"2026-01-31", time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), false},
		{"2026-01-31T12:00:00Z", time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC), false},
		{"yesterday", time.Time{}, true},
	} {
		got, err := parseBefore(tc.in, now)
		if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
			t.Errorf("parseBefore(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
