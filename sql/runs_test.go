package sql_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/runs"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

const testIdleMs = 10 * 60 * 1000

// errInjected is the failure FailCommits injects into batches.
var errInjected = errors.New("injected failure")

// deliver writes events in batches of random sizes, in an order shuffled
// within about spread ms, redelivering some batches, and writing again
// each batch that failed with errInjected, as the consumer does.
func deliver(t *testing.T, db *sql.DB, r *rand.Rand, events []trackskills.Event, spread int64) {
	t.Helper()
	deliverKilling(t, db, r, events, spread, nil)
}

// deliverKilling is deliver; when kill is not nil, it calls it after about
// one batch in eight and goes on with the database it returns (a process
// killed and started again), and it returns the last one.
func deliverKilling(t *testing.T, db *sql.DB, r *rand.Rand, events []trackskills.Event, spread int64, kill func(*sql.DB) *sql.DB) *sql.DB {
	t.Helper()
	evs := slices.Clone(events)
	keys := make(map[string]int64, len(evs))
	for _, e := range evs {
		keys[e.EventID] = e.Timestamp + r.Int64N(spread+1)
	}
	slices.SortStableFunc(evs, func(a, b trackskills.Event) int {
		return int(keys[a.EventID] - keys[b.EventID])
	})
	write := func(batch []trackskills.Event) error {
		_, err := db.WriteBatch(context.Background(), batch, nil)
		for errors.Is(err, errInjected) {
			_, err = db.WriteBatch(context.Background(), batch, nil)
		}
		return err
	}
	for len(evs) > 0 {
		n := min(len(evs), 1+r.IntN(60))
		batch := evs[:n]
		if err := write(batch); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		if kill != nil && r.IntN(8) == 0 {
			// Killed after the commit, before the ack: the batch comes again.
			db = kill(db)
			if err := write(batch); err != nil {
				t.Fatalf("WriteBatch after the restart: %v", err)
			}
		}
		if r.IntN(10) == 0 { // a redelivery
			if err := write(batch); err != nil {
				t.Fatalf("WriteBatch again: %v", err)
			}
		}
		evs = evs[n:]
	}
	return db
}

// TestProperty_Runs writes random sessions in many arrival orders and
// checks that the stored runs and the run rollups are exactly those of a
// reference walk of each whole session in time order: with the writer's
// run cache, without it, and with a sixth of the batches failing before
// their commit (and written again).
func TestProperty_Runs(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 14))
			start := testNow.Add(-48 * time.Hour).UnixMilli()
			events := testkit.RandomSessions(r, testkit.SessionConfig{Sessions: 12, Events: 60, Start: start, IdleMs: testIdleMs})
			var newest int64
			for _, e := range events {
				newest = max(newest, e.Timestamp)
			}
			quiet := newest - testIdleMs
			spreads := []int64{0, 30_000, 3_600_000} // in order, slightly late, very late
			var first map[string][]string
			for _, c := range []struct {
				spread int64
				mode   string
			}{
				{spreads[0], "cached"}, {spreads[1], "cached"}, {spreads[2], "cached"},
				{spreads[1], "uncached"}, {spreads[2], "uncached"}, {spreads[1], "failing"}, {spreads[2], "failing"},
				{spreads[1], "deferred"}, {spreads[2], "deferred"}, {spreads[2], "deferred, failing"},
				{spreads[1], "deferred, killed"}, {spreads[2], "deferred, killed"},
			} {
				spread := c.spread
				opts := []sql.Option{sql.WithRunIdleTimeout(testIdleMs * time.Millisecond)}
				if c.mode == "uncached" {
					opts = append(opts, sql.WithRunCacheSize(0))
				}
				if strings.HasPrefix(c.mode, "deferred") {
					// Held for an hour, or for 1 to 300 events.
					opts = append(opts, sql.WithRollupDelay(time.Hour, 1+r.IntN(300)), sql.WithRollupQuiet(0))
				}
				failing := func(db *sql.DB) {
					if strings.HasSuffix(c.mode, "failing") {
						sql.FailCommits(db, func() error {
							if r.IntN(6) == 0 {
								return errInjected
							}
							return nil
						})
					}
				}
				db := testkit.MustOpenDB(t, opts...)
				failing(db)
				var kill func(*sql.DB) *sql.DB
				if strings.HasSuffix(c.mode, "killed") {
					kill = func(old *sql.DB) *sql.DB {
						if err := sql.Kill(old); err != nil {
							t.Fatalf("kill: %v", err)
						}
						return testkit.MustOpenDBAt(t, old.Path(), opts...)
					}
				}
				db = deliverKilling(t, db, r, events, spread, kill)
				sql.FailCommits(db, nil) // the held events' rollups go in with ExpireRuns
				if err := db.ExpireRuns(context.Background(), time.UnixMilli(quiet)); err != nil {
					t.Fatalf("ExpireRuns: %v", err)
				}
				got, want := testkit.StoredRunSummaries(t, db), testkit.WantRunSummaries(events, testIdleMs, quiet)
				if n := countRuns(want); n < 30 {
					t.Fatalf("only %d reference runs: the sessions reach too few rules", n)
				}
				testkit.SameRuns(t, fmt.Sprintf("spread %d, %s", spread, c.mode), got, want)
				checkSkillRollups(t, db, events, quiet)
				if first == nil {
					first = got
					defer func() {
						// Then every session is quiet: the runs left open end too.
						if err := db.ExpireRuns(context.Background(), time.UnixMilli(newest+1)); err != nil {
							t.Fatalf("ExpireRuns: %v", err)
						}
						testkit.SameRuns(t, "all expired", testkit.StoredRunSummaries(t, db), testkit.WantRunSummaries(events, testIdleMs, newest+1))
						checkSkillRollups(t, db, events, newest+1)
					}()
				} else {
					testkit.SameRuns(t, fmt.Sprintf("spread %d, %s, against in order", spread, c.mode), got, first)
				}
			}
		})
	}
}

// checkSkillRollups checks the per-skill figures of a day window against
// those of the reference runs.
func checkSkillRollups(t *testing.T, db *sql.DB, events []trackskills.Event, quiet int64) {
	t.Helper()
	ctx := context.Background()
	want := map[string]*skillWant{}
	tools := map[[2]string][3]int64{}
	users := map[string]map[string]bool{}
	sessions := map[string]map[string]bool{}
	userOf := map[string]string{}
	for _, e := range events {
		userOf[e.SessionHash] = e.UserHash
	}
	for s, rs := range testkit.WantRuns(events, testIdleMs, quiet) {
		for _, r := range rs {
			w := want[r.Skill]
			if w == nil {
				w = &skillWant{states: map[string]int64{}}
				want[r.Skill] = w
				users[r.Skill], sessions[r.Skill] = map[string]bool{}, map[string]bool{}
			}
			users[r.Skill][userOf[s]], sessions[r.Skill][s] = true, true
			w.runs++
			w.states[r.State]++
			w.calls += r.Calls
			w.failed += r.FailedCalls
			if r.State != runs.Open {
				w.wall += r.WallMs()
				w.walls.Add(r.WallMs())
			}
			for name, tl := range r.Tools {
				k := [2]string{r.Skill, name}
				v := tools[k]
				tools[k] = [3]int64{v[0] + 1, v[1] + tl.Calls, v[2] + tl.Failed}
			}
		}
	}
	win := sql.Window{From: testNow.Add(-72 * time.Hour).UnixMilli(), To: testNow.Add(24 * time.Hour).UnixMilli()}
	list, err := db.SkillList(ctx, win, "")
	if err != nil {
		t.Fatalf("SkillList: %v", err)
	}
	if len(list) != len(want) {
		t.Errorf("%d skills, want %d", len(list), len(want))
	}
	for _, st := range list {
		w := want[st.Skill]
		if w == nil {
			t.Errorf("skill %q has no reference runs", st.Skill)
			continue
		}
		if st.Runs != w.runs || !maps.Equal(st.States, w.states) || st.Calls != w.calls || st.FailedCalls != w.failed ||
			st.WallSum != w.wall || st.Walls != w.walls {
			t.Errorf("skill %s: runs %d states %v calls %d failed %d wall %d n %d; want %d %v %d %d %d %d", st.Skill,
				st.Runs, st.States, st.Calls, st.FailedCalls, st.WallSum, st.Walls.Count(),
				w.runs, w.states, w.calls, w.failed, w.wall, w.walls.Count())
		}
	}
	calls, err := db.SkillCalls(ctx, win, false, "", "")
	if err != nil {
		t.Fatalf("SkillCalls: %v", err)
	}
	got := map[[2]string][3]int64{}
	for _, c := range calls {
		got[[2]string{c.Skill, c.Name}] = [3]int64{c.Runs, c.Calls, c.FailedCalls}
	}
	if !maps.Equal(got, tools) {
		t.Errorf("skill tools:\n got %v\nwant %v", got, tools)
	}
	for _, sessionsToo := range []bool{false, true} {
		n, err := db.SkillUsers(ctx, win.FirstDay(), win.LastDay(), "", sessionsToo)
		if err != nil {
			t.Fatalf("SkillUsers: %v", err)
		}
		for skill := range want {
			w := int64(len(users[skill]))
			if sessionsToo {
				w = int64(len(sessions[skill]))
			}
			if n[skill] != w {
				t.Errorf("skill %s: %d users (sessions %v), want %d", skill, n[skill], sessionsToo, w)
			}
		}
	}
}

type skillWant struct {
	runs, calls, failed, wall int64
	states                    map[string]int64
	walls                     trackskills.Histogram
}

func countRuns(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}
