package sql

import (
	dbsql "database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trackskills/trackskills"
)

// toolKey names a row of tool_hourly (hour set) or tool_daily (day set).
type toolKey struct {
	hour     int64
	day      string
	tool     string
	category string
}

// toolAgg accumulates one aggregate row of a batch.
type toolAgg struct {
	invocations, successes, errors, timeouts int64
	durCount, durSum, durMax                 int64
	hist                                     trackskills.Histogram
}

func (a *toolAgg) add(ev *trackskills.Event) {
	a.invocations++
	switch ev.Status {
	case trackskills.StatusSuccess:
		a.successes++
	case trackskills.StatusError:
		a.errors++
	case trackskills.StatusTimeout:
		a.timeouts++
	}
	if ev.DurationMs != nil {
		d := *ev.DurationMs
		a.durCount++
		a.durSum += d
		a.durMax = max(a.durMax, d)
		a.hist.Add(d)
	}
}

type userKey struct{ day, user string }
type errorKey struct{ day, tool, category, errorType string }
type toolUserKey struct{ day, tool, user string }

// aggregates groups the inserted events of a batch in memory, so that each
// aggregate row is written once per batch.
type aggregates struct {
	hourly   map[toolKey]*toolAgg
	daily    map[toolKey]*toolAgg
	users    map[userKey]struct{}
	toolUser map[toolUserKey]struct{}
	failures map[errorKey]int64
	days     map[int64]string // day number -> "YYYY-MM-DD"
}

func newAggregates() *aggregates {
	return &aggregates{
		hourly: map[toolKey]*toolAgg{}, daily: map[toolKey]*toolAgg{},
		users: map[userKey]struct{}{}, toolUser: map[toolUserKey]struct{}{}, days: map[int64]string{},
		failures: map[errorKey]int64{},
	}
}

const (
	hourMs = int64(time.Hour / time.Millisecond)
	dayMs  = 24 * hourMs
)

func (g *aggregates) day(ms int64) string {
	n := floorDiv(ms, dayMs)
	s, ok := g.days[n]
	if !ok {
		s = Day(n).String()
		g.days[n] = s
	}
	return s
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (g *aggregates) add(ev *trackskills.Event) {
	day := g.day(ev.Timestamp)
	hk := toolKey{hour: floorDiv(ev.Timestamp, hourMs) * hourMs, tool: ev.ToolName, category: ev.ToolCategory}
	dk := toolKey{day: day, tool: ev.ToolName, category: ev.ToolCategory}
	for _, p := range []struct {
		m map[toolKey]*toolAgg
		k toolKey
	}{{g.hourly, hk}, {g.daily, dk}} {
		a := p.m[p.k]
		if a == nil {
			a = &toolAgg{}
			p.m[p.k] = a
		}
		a.add(ev)
	}
	if ev.Status != trackskills.StatusSuccess {
		g.failures[errorKey{day, ev.ToolName, ev.ToolCategory, ev.ErrorType}]++
	}
	user := string(hashKey(ev.UserHash)) // the stored form (keys.go)
	g.users[userKey{day, user}] = struct{}{}
	g.toolUser[toolUserKey{day, ev.ToolName, user}] = struct{}{}
}

// write upserts every aggregate row of the batch inside tx.
func (g *aggregates) write(tx *dbsql.Tx, d *DB) error {
	hourly, daily := tx.Stmt(d.upHourly), tx.Stmt(d.upDaily)
	var buf []byte
	for _, p := range []struct {
		m    map[toolKey]*toolAgg
		stmt *dbsql.Stmt
	}{{g.hourly, hourly}, {g.daily, daily}} {
		for k, a := range p.m {
			var key any = k.hour
			if k.day != "" {
				key = k.day
			}
			var durMax, hist any
			if a.durCount > 0 {
				buf = a.hist.AppendBinary(buf[:0])
				durMax, hist = a.durMax, append([]byte(nil), buf...)
			}
			if _, err := p.stmt.Exec(key, k.tool, k.category, a.invocations, a.successes, a.errors, a.timeouts,
				a.durCount, a.durSum, durMax, hist); err != nil {
				return fmt.Errorf("upsert tool aggregate: %w", err)
			}
		}
	}
	upErr := tx.Stmt(d.upErr)
	for k, n := range g.failures {
		if _, err := upErr.Exec(k.day, k.tool, k.category, k.errorType, n); err != nil {
			return fmt.Errorf("upsert tool_daily_errors: %w", err)
		}
	}
	users, first, week, last := tx.Stmt(d.upUser), tx.Stmt(d.upFirst), tx.Stmt(d.upWeek), tx.Stmt(d.upLast)
	for k := range g.users {
		if d.seen.hasUser(k) {
			delete(g.users, k)
			continue
		}
		r, err := users.Exec(k.day, []byte(k.user))
		if err != nil {
			return fmt.Errorf("insert user_daily: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 { // sqlite3 always returns a count
			continue // the user was already active that day
		}
		if _, err := first.Exec([]byte(k.user), k.day); err != nil {
			return fmt.Errorf("upsert user_first_seen: %w", err)
		}
		if _, err := week.Exec(k.day, []byte(k.user)); err != nil {
			return fmt.Errorf("insert user_weekly: %w", err)
		}
		if _, err := last.Exec([]byte(k.user), k.day); err != nil {
			return fmt.Errorf("upsert user_last_seen: %w", err)
		}
	}
	toolUsers, toolLast, getLast := tx.Stmt(d.upTool), tx.Stmt(d.upTLast), tx.Stmt(d.getTLast)
	type toolDay struct{ tool, day string }
	counts := map[toolDay]int64{}   // change of tool_last_seen_counts
	dayUsers := map[toolDay]int64{} // new users of a tool on a day
	for k := range g.toolUser {
		if d.seen.hasToolUser(k) {
			delete(g.toolUser, k)
			continue
		}
		r, err := toolUsers.Exec(dayNumber(k.day), k.tool, []byte(k.user))
		if err != nil {
			return fmt.Errorf("insert tool_user_daily: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 { // sqlite3 always returns a count
			continue
		}
		dayUsers[toolDay{k.tool, k.day}]++
		var last string
		switch err := getLast.QueryRow(k.tool, []byte(k.user)).Scan(&last); {
		case errors.Is(err, dbsql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("read tool_user_last_seen: %w", err)
		}
		if last != "" && k.day <= last {
			continue
		}
		if _, err := toolLast.Exec(k.tool, []byte(k.user), k.day); err != nil {
			return fmt.Errorf("upsert tool_user_last_seen: %w", err)
		}
		if last != "" {
			counts[toolDay{k.tool, last}]--
		}
		counts[toolDay{k.tool, k.day}]++
	}
	upCount := tx.Stmt(d.upTCount)
	for k, n := range counts {
		if n == 0 {
			continue
		}
		if _, err := upCount.Exec(k.tool, k.day, n); err != nil {
			return fmt.Errorf("upsert tool_last_seen_counts: %w", err)
		}
	}
	upDay := tx.Stmt(d.upTDay)
	for k, n := range dayUsers {
		if _, err := upDay.Exec(k.tool, k.day, n); err != nil {
			return fmt.Errorf("upsert tool_daily_users: %w", err)
		}
	}
	return nil
}

// committed records the user rows of a committed batch as known.
func (g *aggregates) committed(s *seenUsers) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range g.users {
		s.addUser(k)
	}
	for k := range g.toolUser {
		s.addToolUser(k)
	}
}

// seenDays is how many recent UTC days seenUsers remembers; events of older
// days (late or replayed) simply pay an INSERT OR IGNORE.
const seenDays = 3

// seenUsers remembers which user rows of the last few days exist, so that
// the writer skips a known user instead of inserting it again: in a busy
// hour most events come from users already active that day.
type seenUsers struct {
	// mu guards the maps: WriteBatch may be called from several
	// goroutines, and it reads them inside a transaction but fills them
	// after the commit.
	mu        sync.Mutex
	users     map[string]map[userKey]struct{}     // day -> rows
	toolUsers map[string]map[toolUserKey]struct{} // day -> rows
}

func newSeenUsers() *seenUsers {
	return &seenUsers{users: map[string]map[userKey]struct{}{}, toolUsers: map[string]map[toolUserKey]struct{}{}}
}

func (s *seenUsers) hasUser(k userKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.users[k.day][k]
	return ok
}

func (s *seenUsers) hasToolUser(k toolUserKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.toolUsers[k.day][k]
	return ok
}

func (s *seenUsers) addUser(k userKey) {
	m := s.users[k.day]
	if m == nil {
		if !s.keepDay(k.day) {
			return
		}
		m = map[userKey]struct{}{}
		s.users[k.day] = m
	}
	m[k] = struct{}{}
}

func (s *seenUsers) addToolUser(k toolUserKey) {
	m := s.toolUsers[k.day]
	if m == nil {
		if !s.keepDay(k.day) {
			return
		}
		m = map[toolUserKey]struct{}{}
		s.toolUsers[k.day] = m
	}
	m[k] = struct{}{}
}

// keepDay makes room for a new day, dropping the oldest beyond seenDays;
// it reports false when day is older than every day kept.
func (s *seenUsers) keepDay(day string) bool {
	// A day one map already keeps is not new: evicting for it would
	// drop a day each time the other map first sees it.
	if _, ok := s.users[day]; ok {
		return true
	}
	if _, ok := s.toolUsers[day]; ok {
		return true
	}
	days := make([]string, 0, len(s.users)+1)
	for d := range s.users {
		days = append(days, d)
	}
	for d := range s.toolUsers {
		if _, ok := s.users[d]; !ok {
			days = append(days, d)
		}
	}
	if len(days) < seenDays {
		return true
	}
	oldest := days[0]
	for _, d := range days[1:] {
		if d < oldest {
			oldest = d
		}
	}
	if day < oldest {
		return false
	}
	delete(s.users, oldest)
	delete(s.toolUsers, oldest)
	return true
}
