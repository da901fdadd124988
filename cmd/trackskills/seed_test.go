package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSeed_WritesEventsThatServeReports(t *testing.T) {
	const n = 20_000
	o := serveOptions(t)
	var out, errOut bytes.Buffer
	args := []string{"--data-dir", o.dataDir, "--events", strconv.Itoa(n), "--days", "5", "--users", "300", "--tools", "60", "--seed", "7"}
	if err := run(context.Background(), append([]string{"seed"}, args...), func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("seed: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"rows in skill_usage_events: 20000", "events/s", "bytes/event"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("seed output lacks %q:\n%s", want, out.String())
		}
	}

	events := readEvents(context.Background(), t, filepath.Join(o.dataDir, "trackskills.db"))
	if len(events) != n {
		t.Fatalf("stored %d events, want %d", len(events), n)
	}
	// The shape of the events is tested in package loadgen; here, that
	// serve reports what seed wrote.
	users := map[string]bool{}
	for _, ev := range events {
		users[ev.UserHash] = true
	}
	app := mustStartServe(t, o)
	resp, err := http.Get(app.URL() + "/analytics/summary?days=30")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum struct {
		TotalInvocations int64 `json:"total_invocations"`
		UniqueUsers      int64 `json:"unique_users"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&sum); err != nil {
		t.Fatalf("summary: %d: %v", resp.StatusCode, err)
	}
	if sum.TotalInvocations != n || sum.UniqueUsers != int64(len(users)) {
		t.Errorf("summary: %d invocations, %d users; want %d and %d", sum.TotalInvocations, sum.UniqueUsers, n, len(users))
	}
}

func TestSeed_RejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--events", "0"}, {"--days", "0"}, {"--error-rate", "2"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"seed", "--data-dir", t.TempDir()}, args...), func(string) string { return "" }, &out, &errOut)
		if err == nil {
			t.Errorf("seed %v: no error", args)
		}
	}
}
