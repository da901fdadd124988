package loadgen_test

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/loadgen"
)

func TestGenerator_Event(t *testing.T) {
	const n = 10_000
	gen := func(seed, stream uint64, tools int, errorRate float64) []loadgen.Event {
		g := loadgen.NewGenerator(loadgen.GeneratorConfig{Seed: seed, Stream: stream, Prefix: "lg-abc-", Users: 200, Tools: tools, ErrorRate: errorRate})
		events := make([]loadgen.Event, n)
		for i := range events {
			events[i] = g.Event(uint64(i))
		}
		return events
	}

	t.Run("Deterministic", func(t *testing.T) {
		a, b := gen(42, 3, 50, 0.05), gen(42, 3, 50, 0.05)
		if !reflect.DeepEqual(a, b) {
			t.Fatal("same seed and stream gave different events")
		}
		if c := gen(43, 3, 50, 0.05); reflect.DeepEqual(a, c) {
			t.Fatal("another seed gave the same events")
		}
		if c := gen(42, 4, 50, 0.05); reflect.DeepEqual(a, c) {
			t.Fatal("another stream gave the same events")
		}
	})

	for _, tt := range []struct {
		name      string
		errorRate float64
	}{
		{"ErrorRate0", 0},
		{"ErrorRate5", 0.05},
		{"ErrorRate30", 0.30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var errs, timeouts int
			for _, e := range gen(1, 0, 50, tt.errorRate) {
				switch e.Status {
				case "error":
					errs++
					if e.ErrorType == "" || e.ErrorMessage == "" {
						t.Fatalf("error event without error_type or message: %+v", e)
					}
				case "timeout":
					timeouts++
				}
			}
			// Binomial: 4 standard deviations, at least 0.5 points.
			tol := max(4*math.Sqrt(tt.errorRate*(1-tt.errorRate)/n), 0.005)
			if got := float64(errs) / n; math.Abs(got-tt.errorRate) > tol {
				t.Fatalf("error share=%.4f, want %.2f±%.4f", got, tt.errorRate, tol)
			}
			if got := float64(timeouts) / n; got < 0.005 || got > 0.015 {
				t.Fatalf("timeout share=%.4f, want about 0.01", got)
			}
		})
	}

	t.Run("Fields", func(t *testing.T) {
		ids := make(map[string]bool, n)
		tools := make(map[string]bool)
		categories := make(map[string]bool)
		for _, e := range gen(7, 0, 50, 0.05) {
			if e.ToolName == "" || e.Status == "" || e.EventID == "" || e.UserID == "" || e.SessionID == "" {
				t.Fatalf("event misses a field: %+v", e)
			}
			if e.Status != "success" && e.Status != "error" && e.Status != "timeout" {
				t.Fatalf("status=%q", e.Status)
			}
			if e.DurationMS < 0 || e.DurationMS > 600_000 {
				t.Fatalf("duration_ms=%d", e.DurationMS)
			}
			if !strings.HasPrefix(e.EventID, "lg-abc-") || len(e.EventID) > 64 {
				t.Fatalf("event_id=%q", e.EventID)
			}
			if ids[e.EventID] {
				t.Fatalf("duplicate event_id %q", e.EventID)
			}
			ids[e.EventID] = true
			tools[e.ToolName] = true
			categories[e.ToolCategory] = true
		}
		if got, want := len(tools), 50; got != want {
			t.Fatalf("distinct tools=%d, want %d", got, want)
		}
		for _, c := range []string{"builtin", "mcp", "skill"} {
			if !categories[c] {
				t.Fatalf("no event of category %q", c)
			}
		}
	})

	t.Run("MoreToolsThanNames", func(t *testing.T) {
		tools := make(map[string]bool)
		for _, e := range gen(1, 0, 60, 0.05) {
			tools[e.ToolName] = true
		}
		if !tools["tool_060"] {
			t.Fatal("no event of tool_060")
		}
		if len(tools) > 60 {
			t.Fatalf("distinct tools=%d, want at most 60", len(tools))
		}
	})

	t.Run("MedianDuration", func(t *testing.T) {
		var below int
		for _, e := range gen(1, 0, 50, 0) {
			if e.DurationMS < 120 {
				below++
			}
		}
		if got := float64(below) / n; got < 0.45 || got > 0.55 {
			t.Fatalf("share under 120 ms=%.3f, want about 0.5", got)
		}
	})
}

// loadgen --mode hook sends payloads that the hook mapping turns back into
// the generated events.
func TestHookPayload(t *testing.T) {
	gen := loadgen.NewGenerator(loadgen.GeneratorConfig{Seed: 1, Prefix: "hk-", Users: 50, Tools: 50, ErrorRate: 0.2})
	for i := range uint64(200) {
		e := gen.Event(i)
		b, err := json.Marshal(loadgen.HookPayload(e))
		if err != nil {
			t.Fatal(err)
		}
		p, err := claudecode.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		m := claudecode.Map(p, claudecode.Options{})
		if m.Action != claudecode.Track || m.Input.ToolName != e.ToolName || m.Input.Status != e.Status ||
			string(m.Input.DurationMs) != strconv.FormatInt(e.DurationMS, 10) || m.Input.EventID != e.EventID {
			t.Fatalf("%+v maps to %+v", e, m.Input)
		}
	}
}

// The history of a seed run: in time order, deterministic for a seed, with
// the shapes the dashboard and the analytics benchmarks rely on.
func TestGenerator_Batch(t *testing.T) {
	const n = 20_000
	end := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := loadgen.GeneratorConfig{Seed: 7, Stream: 0x5eed, Tools: 60, Users: 300, ErrorRate: 0.05, Days: 5, Events: n, End: end}
	history := func(cfg loadgen.GeneratorConfig) []trackskills.Event {
		g := loadgen.NewGenerator(cfg)
		var out []trackskills.Event
		for len(out) < n {
			out = append(out, g.Batch(min(1000, n-len(out)))...)
		}
		return out
	}
	events := history(cfg)

	t.Run("Deterministic", func(t *testing.T) {
		if !reflect.DeepEqual(events, history(cfg)) {
			t.Fatal("same seed gave different events")
		}
		other := cfg
		other.Seed++
		if reflect.DeepEqual(events, history(other)) {
			t.Fatal("another seed gave the same events")
		}
	})

	t.Run("InOrderWithinTheSpan", func(t *testing.T) {
		if !slices.IsSortedFunc(events, func(a, b trackskills.Event) int { return int(a.Timestamp - b.Timestamp) }) {
			t.Fatal("events are not in timestamp order")
		}
		from := end.Add(-5 * 24 * time.Hour).UnixMilli()
		if first, last := events[0].Timestamp, events[n-1].Timestamp; first < from || last > end.UnixMilli() {
			t.Fatalf("events span %d-%d, want within %d-%d", first, last, from, end.UnixMilli())
		}
		for i, ev := range events {
			if i > 0 && ev.EventID[:10] < events[i-1].EventID[:10] {
				t.Fatalf("event %d: id %s sorts before %s", i, ev.EventID, events[i-1].EventID)
			}
			if ev.ReceivedAt < ev.Timestamp || ev.StreamSeq != uint64(i+1) {
				t.Fatalf("event %d: received_at %d, timestamp %d, seq %d", i, ev.ReceivedAt, ev.Timestamp, ev.StreamSeq)
			}
		}
	})

	t.Run("Fields", func(t *testing.T) {
		for i, ev := range events {
			if ev.ToolName == "" || ev.ToolCategory != loadgen.Category(ev.ToolName) || ev.DurationMs == nil {
				t.Fatalf("event %d: %+v", i, ev)
			}
			if ev.Status != trackskills.StatusSuccess && (ev.ErrorType == "" || ev.ErrorMessage == "") {
				t.Fatalf("event %d: %s without error type or message", i, ev.Status)
			}
			if len(ev.UserHash) != 32 || len(ev.SessionHash) != 32 || len(ev.EventID) != 26 {
				t.Fatalf("event %d: id %q, user %q, session %q: want a ULID and 32-hex hashes", i, ev.EventID, ev.UserHash, ev.SessionHash)
			}
			if ev.Metadata != nil && !json.Valid(ev.Metadata) {
				t.Fatalf("event %d: metadata %s", i, ev.Metadata)
			}
		}
	})

	t.Run("NoHistory", func(t *testing.T) {
		if b := loadgen.NewGenerator(loadgen.GeneratorConfig{Seed: 1, Tools: 5, Users: 5}).Batch(10); b != nil {
			t.Fatalf("batch without a history: %d events, want none", len(b))
		}
	})
}
