package sql

import (
	dbsql "database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trackskills/trackskills"
)

// The aggregate writer. WriteBatch inserts the raw events of a batch,
// groups the inserted ones in memory (batch), then runs every rollup of
// rollups: each upserts the rows of its tables once per batch, not once per
// event. Days are Day values throughout; they become text (or the day
// number of tool_user_daily) only as SQL arguments.

const (
	hourMs = int64(time.Hour / time.Millisecond)
	dayMs  = 24 * hourMs
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// toolKey names a row of tool_hourly (period: the start of the hour, Unix
// ms) or of tool_daily (period: a Day).
type toolKey struct {
	period   int64
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

// The user keys hold the user's identity hash in its stored form (hashKey).
type userKey struct {
	day  Day
	user string
}
type errorKey struct {
	day                       Day
	tool, category, errorType string
}
type toolUserKey struct {
	day        Day
	tool, user string
}

// batch groups the inserted events of one WriteBatch, so that each
// aggregate row is written once per batch.
type batch struct {
	hourly    map[toolKey]*toolAgg
	daily     map[toolKey]*toolAgg
	failures  map[errorKey]int64
	users     map[userKey]struct{}
	toolUsers map[toolUserKey]struct{}
	days      map[Day]string // the text of each day written, made once
}

func newBatch() *batch {
	return &batch{
		hourly: map[toolKey]*toolAgg{}, daily: map[toolKey]*toolAgg{}, failures: map[errorKey]int64{},
		users: map[userKey]struct{}{}, toolUsers: map[toolUserKey]struct{}{}, days: map[Day]string{},
	}
}

// add counts an inserted event; user is its user hash as stored (hashKey),
// computed once by the caller for the raw row and the rollups alike.
func (b *batch) add(ev *trackskills.Event, user []byte) {
	day := DayOf(ev.Timestamp)
	addTool(b.hourly, toolKey{floorDiv(ev.Timestamp, hourMs) * hourMs, ev.ToolName, ev.ToolCategory}, ev)
	addTool(b.daily, toolKey{int64(day), ev.ToolName, ev.ToolCategory}, ev)
	if ev.Status != trackskills.StatusSuccess {
		b.failures[errorKey{day, ev.ToolName, ev.ToolCategory, ev.ErrorType}]++
	}
	u := string(user)
	b.users[userKey{day, u}] = struct{}{}
	b.toolUsers[toolUserKey{day, ev.ToolName, u}] = struct{}{}
}

func addTool(m map[toolKey]*toolAgg, k toolKey, ev *trackskills.Event) {
	a := m[k]
	if a == nil {
		a = &toolAgg{}
		m[k] = a
	}
	a.add(ev)
}

// text returns day as the text-keyed tables store it (YYYY-MM-DD).
func (b *batch) text(day Day) string {
	s, ok := b.days[day]
	if !ok {
		s = day.String()
		b.days[day] = s
	}
	return s
}

// writer writes the aggregates of batches: it has the prepared statements
// and remembers the user rows known to exist.
type writer struct {
	stmt *stmts
	seen *seenUsers
}

// rollups is every aggregate a batch updates, in the order they run; each
// upserts the rows of its tables for the whole batch inside tx.
var rollups = []func(w *writer, tx *dbsql.Tx, b *batch) error{
	(*writer).toolHourly, // tool_hourly
	(*writer).toolDaily,  // tool_daily
	(*writer).toolErrors, // tool_daily_errors
	(*writer).users,      // user_daily, user_first_seen, user_weekly, user_last_seen
	(*writer).toolUsers,  // tool_user_daily, tool_user_last_seen, tool_last_seen_counts, tool_daily_users
}

// write runs every rollup for b inside tx.
func (w *writer) write(tx *dbsql.Tx, b *batch) error {
	for _, r := range rollups {
		if err := r(w, tx, b); err != nil {
			return err
		}
	}
	return nil
}

// committed records the user rows of a committed batch as known.
func (w *writer) committed(b *batch) {
	w.seen.add(b)
}

func (w *writer) toolHourly(tx *dbsql.Tx, b *batch) error {
	return writeTools(tx.Stmt(w.stmt.upHourly), b.hourly, func(period int64) any { return period })
}

func (w *writer) toolDaily(tx *dbsql.Tx, b *batch) error {
	return writeTools(tx.Stmt(w.stmt.upDaily), b.daily, func(period int64) any { return b.text(Day(period)) })
}

// writeTools upserts the rows of m with stmt; key is the SQL value of a
// row's period.
func writeTools(stmt *dbsql.Stmt, m map[toolKey]*toolAgg, key func(period int64) any) error {
	var buf []byte
	for k, a := range m {
		var durMax, hist any
		if a.durCount > 0 {
			buf = a.hist.AppendBinary(buf[:0])
			durMax, hist = a.durMax, append([]byte(nil), buf...)
		}
		if _, err := stmt.Exec(key(k.period), k.tool, k.category, a.invocations, a.successes, a.errors, a.timeouts,
			a.durCount, a.durSum, durMax, hist); err != nil {
			return fmt.Errorf("upsert tool aggregate: %w", err)
		}
	}
	return nil
}

func (w *writer) toolErrors(tx *dbsql.Tx, b *batch) error {
	upErr := tx.Stmt(w.stmt.upErr)
	for k, n := range b.failures {
		if _, err := upErr.Exec(b.text(k.day), k.tool, k.category, k.errorType, n); err != nil {
			return fmt.Errorf("upsert tool_daily_errors: %w", err)
		}
	}
	return nil
}

// users adds the users active on a day: user_daily, and for a user new
// that day its first and last day and its week.
func (w *writer) users(tx *dbsql.Tx, b *batch) error {
	users, first, week, last := tx.Stmt(w.stmt.upUser), tx.Stmt(w.stmt.upFirst), tx.Stmt(w.stmt.upWeek), tx.Stmt(w.stmt.upLast)
	for k := range b.users {
		if w.seen.hasUser(k) {
			delete(b.users, k)
			continue
		}
		day := b.text(k.day)
		r, err := users.Exec(day, []byte(k.user))
		if err != nil {
			return fmt.Errorf("insert user_daily: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 { // sqlite3 always returns a count
			continue // the user was already active that day
		}
		if _, err := first.Exec([]byte(k.user), day); err != nil {
			return fmt.Errorf("upsert user_first_seen: %w", err)
		}
		if _, err := week.Exec(day, []byte(k.user)); err != nil {
			return fmt.Errorf("insert user_weekly: %w", err)
		}
		if _, err := last.Exec([]byte(k.user), day); err != nil {
			return fmt.Errorf("upsert user_last_seen: %w", err)
		}
	}
	return nil
}

// toolUsers adds the users of a tool on a day: tool_user_daily, and for a
// user new to the tool that day its count in tool_daily_users and its last
// day with the tool (tool_user_last_seen, counted by tool_last_seen_counts).
func (w *writer) toolUsers(tx *dbsql.Tx, b *batch) error {
	toolUsers, toolLast, getLast := tx.Stmt(w.stmt.upTool), tx.Stmt(w.stmt.upTLast), tx.Stmt(w.stmt.getTLast)
	type toolDay struct {
		tool string
		day  Day
	}
	counts := map[toolDay]int64{}   // change of tool_last_seen_counts
	dayUsers := map[toolDay]int64{} // new users of a tool on a day
	for k := range b.toolUsers {
		if w.seen.hasToolUser(k) {
			delete(b.toolUsers, k)
			continue
		}
		r, err := toolUsers.Exec(int64(k.day), k.tool, []byte(k.user))
		if err != nil {
			return fmt.Errorf("insert tool_user_daily: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 { // sqlite3 always returns a count
			continue
		}
		dayUsers[toolDay{k.tool, k.day}]++
		var lastText string
		switch err := getLast.QueryRow(k.tool, []byte(k.user)).Scan(&lastText); {
		case errors.Is(err, dbsql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("read tool_user_last_seen: %w", err)
		}
		var last Day
		if lastText != "" {
			if last, err = ParseDay(lastText); err != nil {
				return fmt.Errorf("read tool_user_last_seen: %w", err)
			}
			if k.day <= last {
				continue
			}
		}
		if _, err := toolLast.Exec(k.tool, []byte(k.user), b.text(k.day)); err != nil {
			return fmt.Errorf("upsert tool_user_last_seen: %w", err)
		}
		if lastText != "" {
			counts[toolDay{k.tool, last}]--
		}
		counts[toolDay{k.tool, k.day}]++
	}
	upCount := tx.Stmt(w.stmt.upTCount)
	for k, n := range counts {
		if n == 0 {
			continue
		}
		if _, err := upCount.Exec(k.tool, b.text(k.day), n); err != nil {
			return fmt.Errorf("upsert tool_last_seen_counts: %w", err)
		}
	}
	upDay := tx.Stmt(w.stmt.upTDay)
	for k, n := range dayUsers {
		if _, err := upDay.Exec(k.tool, b.text(k.day), n); err != nil {
			return fmt.Errorf("upsert tool_daily_users: %w", err)
		}
	}
	return nil
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
	users     map[Day]map[userKey]struct{}
	toolUsers map[Day]map[toolUserKey]struct{}
}

func newSeenUsers() *seenUsers {
	return &seenUsers{users: map[Day]map[userKey]struct{}{}, toolUsers: map[Day]map[toolUserKey]struct{}{}}
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

// add records the user rows of a committed batch.
func (s *seenUsers) add(b *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range b.users {
		s.addUser(k)
	}
	for k := range b.toolUsers {
		s.addToolUser(k)
	}
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
func (s *seenUsers) keepDay(day Day) bool {
	// A day one map already keeps is not new: evicting for it would
	// drop a day each time the other map first sees it.
	if _, ok := s.users[day]; ok {
		return true
	}
	if _, ok := s.toolUsers[day]; ok {
		return true
	}
	days := make([]Day, 0, len(s.users)+1)
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
