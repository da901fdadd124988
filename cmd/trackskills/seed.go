package main

// seed: fills a database with realistic events through the consumer's own
// write path (sql.Open, then WriteBatch in transactions of 1,000 events),
// for the analytics benchmarks of issue 3.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

const seedSummary = `Fills a database with realistic events, in arrival order, through the
consumer's write path: sql.Open, then WriteBatch in transactions of 1,000
events, raw rows and aggregates together. Events span --days ending now:
5% errors, ~1% timeouts, log-normal durations, Zipf-like tool popularity,
users from occasional to heavy who join and leave over the span, a daily
and weekly rhythm. It prints progress, the rate and the database size.`

// seedBatch is the consumer's batch size (consumer.DefaultConfig().BatchEvents).
const seedBatch = 1000

// seedConfig holds the parsed flags of the seed command.
type seedConfig struct {
	db        string
	events    int64
	days      int
	tools     int
	users     int
	errorRate float64
	seed      uint64
	end       time.Time // the end of the span: now
}

func runSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newCmdFlags("seed", seedSummary, getenv, stderr)
	var o options
	o.registerData(f)
	var cfg seedConfig
	f.Int64Var(&cfg.events, "events", 10_000_000, "number of events to write")
	f.IntVar(&cfg.days, "days", 90, "days the events span, ending now")
	f.IntVar(&cfg.tools, "tools", 200, "number of distinct tool names")
	f.IntVar(&cfg.users, "users", 20_000, "number of distinct users")
	f.Float64Var(&cfg.errorRate, "error-rate", 0.05, "share of events with status error (another 1% are timeouts)")
	f.Uint64Var(&cfg.seed, "seed", 1, "seed of the event generator")
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.db, cfg.end = o.dbPath(), time.Now()
	if err := cfg.validate(); err != nil {
		return err
	}
	return seedDB(ctx, cfg, stdout, stderr)
}

func (c seedConfig) validate() error {
	switch {
	case c.events < 1:
		return fmt.Errorf("--events must be at least 1, got %d", c.events)
	case c.days < 1 || c.days > 400:
		return fmt.Errorf("--days must be 1-400, got %d", c.days)
	case c.tools < 1:
		return fmt.Errorf("--tools must be at least 1, got %d", c.tools)
	case c.users < 1:
		return fmt.Errorf("--users must be at least 1, got %d", c.users)
	case !(c.errorRate >= 0 && c.errorRate <= 0.99):
		return fmt.Errorf("--error-rate must be 0-0.99, got %v", c.errorRate)
	}
	return nil
}

// seedDB writes the events, then checkpoints and reports the size. An
// interrupt stops it between batches; what was written stays, and the
// report still prints.
func seedDB(ctx context.Context, cfg seedConfig, stdout, stderr io.Writer) error {
	db, err := sql.Open(ctx, cfg.db)
	if err != nil {
		return err
	}
	defer db.Close()
	before, err := db.CountEvents(ctx)
	if err != nil {
		return err
	}
	if before > 0 {
		fmt.Fprintf(stderr, "seed: %s already holds %d events; adding to them\n", cfg.db, before)
	}

	// The generator runs on its own goroutine, as the consumer decodes the
	// next batch while SQLite writes the current one.
	gctx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	batches := make(chan []trackskills.Event, 4)
	go func() {
		defer close(batches)
		g := newSeedGen(cfg)
		for left := cfg.events; left > 0; {
			n := min(left, seedBatch)
			b := g.batch(int(n))
			left -= n
			select {
			case batches <- b:
			case <-gctx.Done():
				return
			}
		}
	}()

	// Writes are not cancelled mid-batch: an interrupt ends the run between
	// two commits, as it ends the consumer's.
	wctx := context.WithoutCancel(ctx)
	start := time.Now()
	lastReport := start
	var res sql.BatchResult
	var lastTS int64
	interrupted := false
	for b := range batches {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		r, err := db.WriteBatch(wctx, b, nil)
		if err != nil {
			return err
		}
		res.Inserted += r.Inserted
		res.Ignored += r.Ignored
		lastTS = b[len(b)-1].Timestamp
		if now := time.Now(); now.Sub(lastReport) >= 5*time.Second {
			lastReport = now
			done := int64(res.Inserted + res.Ignored)
			rate := float64(done) / now.Sub(start).Seconds()
			eta := time.Duration(float64(cfg.events-done) / rate * float64(time.Second))
			fmt.Fprintf(stderr, "seed: %d/%d events (%.0f%%), %.0f events/s, at %s, eta %s\n",
				done, cfg.events, 100*float64(done)/float64(cfg.events), rate,
				time.UnixMilli(lastTS).UTC().Format("2006-01-02 15:04"), eta.Round(time.Second))
		}
	}
	stopGen()
	elapsed := time.Since(start)
	done := int64(res.Inserted + res.Ignored)

	if err := db.Checkpoint(wctx); err != nil {
		return err
	}
	total, err := db.CountEvents(wctx)
	if err != nil {
		return err
	}
	size, err := dbFilesSize(cfg.db)
	if err != nil {
		return err
	}
	if interrupted {
		fmt.Fprintf(stdout, "interrupted after %d of %d events\n", done, cfg.events)
	}
	fmt.Fprintf(stdout, "db: %s\n", cfg.db)
	fmt.Fprintf(stdout, "events written: %d (inserted %d, ignored %d) in %s\n", done, res.Inserted, res.Ignored, elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "rate: %.0f events/s\n", float64(done)/elapsed.Seconds())
	fmt.Fprintf(stdout, "rows in skill_usage_events: %d\n", total)
	perEvent := 0.0
	if total > 0 {
		perEvent = float64(size) / float64(total)
	}
	fmt.Fprintf(stdout, "db size: %d bytes (%.1f MB), %.1f bytes/event\n", size, float64(size)/1e6, perEvent)
	if interrupted {
		return ctx.Err()
	}
	return nil
}

// dbFilesSize is the size of the database file and its write-ahead log.
func dbFilesSize(path string) (int64, error) {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) && p != path {
			continue
		} else if err != nil {
			return 0, fmt.Errorf("size of database: %w", err)
		}
		total += st.Size()
	}
	return total, nil
}

// seedUser is one simulated user: an activity weight (log-normal: many
// occasional users, a few heavy ones), the part of the span in which it is
// active, and its current session.
type seedUser struct {
	hash        string
	weight      float64
	from, until int64 // active span, Unix ms
	hook        bool  // sends through Claude Code hooks rather than the API
	session     string
	lastSeen    int64
}

// seedTool is one tool: its name, category and median duration.
type seedTool struct {
	name, category string
	medianMs       float64
}

// seedGen makes the events of a seed run in timestamp order: it splits the
// events over the hours of the span by a daily and weekly rhythm, sorts the
// times of each hour, and picks for each a user active that day, by weight.
type seedGen struct {
	cfg       seedConfig
	rng       *mrand.Rand
	start     int64 // Unix ms of the span's start
	tools     []seedTool
	toolCum   []float64 // cumulative Zipf weights of tools
	users     []seedUser
	hourCount []int64 // events of each hour of the span

	hour    int     // current hour index
	times   []int64 // the current hour's remaining timestamps, sorted
	day     int     // day index whose active users are in active/activeCum
	active  []int32
	activeC []float64
	seq     uint64
}

const (
	hourMs       = int64(time.Hour / time.Millisecond)
	dayMs        = 24 * hourMs
	sessionGapMs = 30 * 60 * 1000 // a gap this long starts a new session
)

func newSeedGen(cfg seedConfig) *seedGen {
	rng := mrand.New(mrand.NewPCG(cfg.seed, 0x5eed))
	end := cfg.end.UnixMilli()
	g := &seedGen{cfg: cfg, rng: rng, start: end - int64(cfg.days)*dayMs, hour: -1, day: -1}

	// Tools: loadgen's names, most used first; popularity 1/rank (Zipf,
	// s=1): with 200 tools the first takes ~17% of the calls, the last
	// ~0.1%. Each tool has its own median duration.
	names := slices.Clone(loadgenTools[:min(cfg.tools, len(loadgenTools))])
	for i := len(names); i < cfg.tools; i++ {
		names = append(names, fmt.Sprintf("tool_%03d", i+1))
	}
	sum := 0.0
	for i, n := range names {
		g.tools = append(g.tools, seedTool{name: n, category: loadgenCategory(n), medianMs: 120 * math.Exp(0.8*rng.NormFloat64())})
		sum += 1 / float64(i+1)
		g.toolCum = append(g.toolCum, sum)
	}

	// Users: log-normal weights (sigma 1.7: the median user sends a tenth
	// of what the top 10% send); 40% active from the start, the others
	// join over the span; half of them churn after an exponential lifetime
	// (mean 45 days).
	span := end - g.start
	for range cfg.users {
		u := seedUser{hash: randHex(rng), weight: math.Exp(1.7 * rng.NormFloat64()), from: g.start, until: end, hook: rng.Float64() < 0.7}
		if rng.Float64() >= 0.4 {
			u.from = g.start + rng.Int64N(span)
		}
		if rng.Float64() < 0.5 {
			u.until = u.from + int64(rng.ExpFloat64()*45*float64(dayMs))
			u.until = min(max(u.until, u.from+dayMs), end)
		}
		g.users = append(g.users, u)
	}

	// Hours: weekday/weekend and time of day (UTC, peak mid-afternoon in
	// Europe, morning in the Americas), and 50% growth over the span.
	hours := cfg.days * 24
	w := make([]float64, hours)
	total := 0.0
	for h := range hours {
		t := time.UnixMilli(g.start + int64(h)*hourMs).UTC()
		x := 0.35 + math.Pow(math.Max(0, math.Sin(math.Pi*(float64(t.Hour())-5)/20)), 1.5)
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			x *= 0.45
		}
		x *= 1 + 0.5*float64(h)/float64(hours)
		w[h] = x
		total += x
	}
	g.hourCount = make([]int64, hours)
	cum, assigned := 0.0, int64(0)
	for h := range hours {
		cum += w[h]
		upTo := int64(math.Round(float64(cfg.events) * cum / total))
		if h == hours-1 {
			upTo = cfg.events
		}
		g.hourCount[h] = upTo - assigned
		assigned = upTo
	}
	return g
}

// nextTime returns the timestamp of the next event, in order.
func (g *seedGen) nextTime() int64 {
	for len(g.times) == 0 && g.hour+1 < len(g.hourCount) {
		g.hour++
		n := g.hourCount[g.hour]
		base := g.start + int64(g.hour)*hourMs
		g.times = g.times[:0]
		for range n {
			g.times = append(g.times, base+g.rng.Int64N(hourMs))
		}
		slices.Sort(g.times)
	}
	if len(g.times) == 0 { // more events asked than planned: cannot happen
		return g.cfg.end.UnixMilli()
	}
	t := g.times[0]
	g.times = g.times[1:]
	return t
}

// pickUser returns a user active at ts, by weight.
func (g *seedGen) pickUser(ts int64) *seedUser {
	if d := int((ts - g.start) / dayMs); d != g.day {
		g.day = d
		lo, hi := g.start+int64(d)*dayMs, g.start+int64(d+1)*dayMs
		g.active, g.activeC = g.active[:0], g.activeC[:0]
		sum := 0.0
		for i := range g.users {
			if u := &g.users[i]; u.from < hi && u.until >= lo {
				sum += u.weight
				g.active = append(g.active, int32(i))
				g.activeC = append(g.activeC, sum)
			}
		}
		if len(g.active) == 0 { // a tiny --users: everyone is active
			for i := range g.users {
				sum += g.users[i].weight
				g.active = append(g.active, int32(i))
				g.activeC = append(g.activeC, sum)
			}
		}
	}
	x := g.rng.Float64() * g.activeC[len(g.activeC)-1]
	i := sort.SearchFloat64s(g.activeC, x)
	return &g.users[g.active[min(i, len(g.active)-1)]]
}

// batch returns the next n events.
func (g *seedGen) batch(n int) []trackskills.Event {
	r := g.rng
	out := make([]trackskills.Event, n)
	ints := make([]int64, 0, 3*n) // backing store of the *int64 fields
	intp := func(v int64) *int64 {
		ints = append(ints, v)
		return &ints[len(ints)-1]
	}
	for i := range out {
		ts := g.nextTime()
		u := g.pickUser(ts)
		if u.session == "" || ts-u.lastSeen > sessionGapMs {
			u.session = randHex(r)
		}
		u.lastSeen = ts
		x := r.Float64() * g.toolCum[len(g.toolCum)-1]
		tool := &g.tools[min(sort.SearchFloat64s(g.toolCum, x), len(g.tools)-1)]

		g.seq++
		e := trackskills.Event{
			EventID:      ulid(ts, r),
			ToolName:     tool.name,
			ToolCategory: tool.category,
			Status:       trackskills.StatusSuccess,
			Timestamp:    ts,
			ReceivedAt:   ts + 20 + r.Int64N(400),
			UserHash:     u.hash,
			SessionHash:  u.session,
			Source:       "api",
			StreamSeq:    g.seq,
		}
		if u.hook {
			e.Source = "hook"
		}
		// Log-normal duration around the tool's median: p99 ~16x the median.
		d := tool.medianMs * math.Exp(1.2*r.NormFloat64())
		switch p := r.Float64(); {
		case p < g.cfg.errorRate:
			kinds := loadgenErrorKinds[e.ToolCategory]
			k := kinds[r.IntN(len(kinds))]
			e.Status, e.ErrorType, e.ErrorMessage = trackskills.StatusError, k[0], k[1]
		case p < g.cfg.errorRate+0.01:
			limit := []float64{30_000, 60_000, 120_000}[r.IntN(3)]
			e.Status, e.ErrorType = trackskills.StatusTimeout, "deadline_exceeded"
			e.ErrorMessage = "tool call exceeded " + strconv.Itoa(int(limit/1000)) + "s"
			d = limit + r.Float64()*50
		}
		e.DurationMs = intp(int64(min(max(d, 0), 600_000)))
		if e.ToolCategory == "mcp" {
			e.RequestSizeBytes = intp(100 + r.Int64N(4_000))
			e.ResponseSizeBytes = intp(200 + r.Int64N(64_000))
		}
		if r.IntN(10) < 3 {
			m := `{"model":"` + loadgenModels[r.IntN(len(loadgenModels))] + `","project":"proj-` + fmt.Sprintf("%02d", r.IntN(25)+1) + `"`
			if e.ToolName == "Bash" {
				code := "0"
				if e.Status == trackskills.StatusError {
					code = "1"
				}
				m += `,"exit_code":` + code
			}
			e.Metadata = []byte(m + "}")
		}
		out[i] = e
	}
	return out
}

const hexDigits = "0123456789abcdef"

// randHex returns 32 hex digits, the shape of a user or session hash.
func randHex(r *mrand.Rand) string {
	var b [32]byte
	a, c := r.Uint64(), r.Uint64()
	for i := range 16 {
		b[i] = hexDigits[a>>(4*i)&0xf]
		b[16+i] = hexDigits[c>>(4*i)&0xf]
	}
	return string(b[:])
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid returns a ULID for ms: 10 characters of time, then 16 of
// randomness, so that ids sort in time order.
func ulid(ms int64, r *mrand.Rand) string {
	var b [26]byte
	t := uint64(ms)
	for i := 9; i >= 0; i-- {
		b[i] = crockford[t&31]
		t >>= 5
	}
	hi, lo := r.Uint64()&(1<<40-1), r.Uint64()&(1<<40-1)
	for i := 25; i >= 18; i-- {
		b[i] = crockford[lo&31]
		lo >>= 5
	}
	for i := 17; i >= 10; i-- {
		b[i] = crockford[hi&31]
		hi >>= 5
	}
	return string(b[:])
}
