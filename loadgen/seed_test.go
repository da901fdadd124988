package loadgen_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/loadgen"
	"github.com/trackskills/trackskills/sql"
)

func TestSeed(t *testing.T) {
	const n = 20_000
	ctx := context.Background()
	cfg := loadgen.DefaultSeedConfig()
	cfg.DB = filepath.Join(t.TempDir(), "data", "trackskills.db")
	cfg.Events, cfg.Days, cfg.Users, cfg.Tools, cfg.Seed = n, 5, 300, 60, 7
	cfg.End = time.Now().Truncate(time.Hour)
	r, err := loadgen.Seed(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r.Inserted != n || r.Ignored != 0 || r.Rows != n || r.Size <= 0 || r.Interrupted {
		t.Fatalf("report %+v, want %d inserted rows and a size", r, n)
	}
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	// Linux counts what the process wrote (/proc/self/io).
	if r.Written <= 0 {
		t.Errorf("written=%d, want the bytes the seed wrote", r.Written)
	}
	for _, want := range []string{"rows in skill_usage_events: 20000", "events/s", "bytes/event", "disk writes: ", "x the database's bytes/event"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	db, err := sql.OpenReadOnly(ctx, cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	events, err := db.Events(ctx)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
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

	t.Run("SameSeedAgainIsIgnored", func(t *testing.T) {
		r, err := loadgen.Seed(ctx, cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if r.Inserted != 0 || r.Ignored != n || r.Rows != n {
			t.Fatalf("second run %+v, want all %d ignored", r, n)
		}
	})

}

func TestSeedConfig_Validate(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*loadgen.SeedConfig)
		ok   bool
	}{
		{"OK", func(*loadgen.SeedConfig) {}, true},
		{"ErrEvents", func(c *loadgen.SeedConfig) { c.Events = 0 }, false},
		{"ErrDays", func(c *loadgen.SeedConfig) { c.Days = 0 }, false},
		{"ErrDaysMax", func(c *loadgen.SeedConfig) { c.Days = 401 }, false},
		{"ErrTools", func(c *loadgen.SeedConfig) { c.Tools = 0 }, false},
		{"ErrUsers", func(c *loadgen.SeedConfig) { c.Users = 0 }, false},
		{"ErrErrorRate", func(c *loadgen.SeedConfig) { c.ErrorRate = 2 }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := loadgen.DefaultSeedConfig()
			tt.mod(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("err=%v, want ok=%v", err, tt.ok)
			}
		})
	}
}
