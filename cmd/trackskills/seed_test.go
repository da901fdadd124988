package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/trackskills/trackskills"
)

func TestSeed_WritesRealisticEventsThatServeReports(t *testing.T) {
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
	if !slices.IsSortedFunc(events, func(a, b trackskills.Event) int { return int(a.Timestamp - b.Timestamp) }) {
		t.Error("events are not stored in timestamp order")
	}
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`) // hashes as stored: 8 bytes
	ulidRe := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)
	status := map[string]int{}
	sources := map[string]int{}
	users := map[string]int{}
	for i, ev := range events {
		status[ev.Status]++
		sources[ev.Source]++
		users[ev.UserHash]++
		if !ulidRe.MatchString(ev.EventID) || !hex16.MatchString(ev.UserHash) || !hex16.MatchString(ev.SessionHash) {
			t.Fatalf("event %d: id %q, user %q, session %q: want a ULID and 16-hex hashes", i, ev.EventID, ev.UserHash, ev.SessionHash)
		}
		if i > 0 && ev.EventID[:10] < events[i-1].EventID[:10] {
			t.Fatalf("event %d: id %s sorts before %s", i, ev.EventID, events[i-1].EventID)
		}
		if ev.Status != trackskills.StatusSuccess && (ev.ErrorType == "" || ev.ErrorMessage == "") {
			t.Fatalf("event %d: %s without error type or message", i, ev.Status)
		}
		if ev.DurationMs == nil {
			t.Fatalf("event %d: no duration", i)
		}
	}
	if e := float64(status["error"]) / n; e < 0.04 || e > 0.06 {
		t.Errorf("error share %.3f, want about 0.05", e)
	}
	if e := float64(status["timeout"]) / n; e < 0.006 || e > 0.014 {
		t.Errorf("timeout share %.3f, want about 0.01", e)
	}
	if sources["api"] == 0 || sources["hook"] == 0 || len(sources) != 2 {
		t.Errorf("sources %v, want api and hook", sources)
	}
	counts := make([]int, 0, len(users))
	for _, c := range users {
		counts = append(counts, c)
	}
	slices.Sort(counts)
	if med, top := counts[len(counts)/2], counts[len(counts)-1]; top < 10*med {
		t.Errorf("heaviest user sent %d events, the median one %d: want a heavy tail", top, med)
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
