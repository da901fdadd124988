package sql

import (
	"bytes"
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/trackskills/trackskills"
)

// The aggregate writer. WriteBatch inserts the raw events of a batch,
// groups the inserted ones in memory (batch), then runs every rollup of
// rollups: each upserts the rows of its tables once per batch, not once per
// event, and in one statement per table, not one per row. Days are Day values throughout; they become text (or the day
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

	// marks indexes the events of the batch that are no tool calls (a
	// Kind): session marks and inventory entries, in batch order, for the
	// rollups that read them.
	marks []int
	// events are the batch's events, which marks index.
	events []trackskills.Event

	// sources counts the batch's calls by day and source (coverage.go).
	sources map[sourceKey]int64

	// mcp groups the batch's MCP calls (mcp.go); nil when it has none.
	mcp *mcpBatch

	// runEvents are the events of sessions for the runs (runs.go), and
	// skillUsers and skillSessions the users and sessions of each skill
	// on a day (in toolUserKey, tool is the skill and user the user's or
	// the session's hash). runsOff (a database opened WithoutRuns)
	// leaves them empty.
	runEvents                 []runInput
	skillUsers, skillSessions map[toolUserKey]struct{}
	runsOff                   bool
	// runState is the run state of the sessions the batch walked or
	// swept, for the run cache once it commits (runcache.go).
	runState map[string]*cachedSession

	// deferred: the batch's rollups wait (deferred.go), so add keeps a
	// copy of each inserted tool call in fresh instead of grouping it.
	deferred bool
	fresh    []trackskills.Event

	// rows holds the rows of one rollup statement at a time, from
	// jsonPool, and args the bound values of the raw rows, from argsPool:
	// the buffers outlive the batch, but never two batches at once.
	rows *jsonRows
	args *[]any
}

// jsonPool keeps the JSON buffers of past batches.
var jsonPool = sync.Pool{New: func() any { return new(jsonRows) }}

// argsPool keeps the value buffers of past batches.
var argsPool = sync.Pool{New: func() any { return new([]any) }}

func newBatch() *batch {
	return &batch{
		hourly: map[toolKey]*toolAgg{}, daily: map[toolKey]*toolAgg{}, failures: map[errorKey]int64{},
		users: map[userKey]struct{}{}, toolUsers: map[toolUserKey]struct{}{}, days: map[Day]string{},
		skillUsers: map[toolUserKey]struct{}{}, skillSessions: map[toolUserKey]struct{}{},
		runState: map[string]*cachedSession{}, sources: map[sourceKey]int64{},
	}
}

// buffers gives b its buffers from the pools, and returns the function that
// puts them back.
func (b *batch) buffers() (release func()) {
	b.rows = jsonPool.Get().(*jsonRows)
	b.args = argsPool.Get().(*[]any)
	return func() {
		jsonPool.Put(b.rows)
		clear((*b.args)[:cap(*b.args)]) // no batch's values kept alive by the pool
		argsPool.Put(b.args)
	}
}

// add counts an inserted event; user is its user hash as stored (hashKey),
// computed once by the caller for the raw row and the rollups alike.
func (b *batch) add(ev *trackskills.Event, user []byte) {
	if b.deferred {
		e := *ev
		e.Metadata = bytes.Clone(e.Metadata) // the caller may reuse its buffers
		b.fresh = append(b.fresh, e)
		return
	}
	day := DayOf(ev.Timestamp)
	addTool(b.hourly, toolKey{floorDiv(ev.Timestamp, hourMs) * hourMs, ev.ToolName, ev.ToolCategory}, ev)
	addTool(b.daily, toolKey{int64(day), ev.ToolName, ev.ToolCategory}, ev)
	if ev.Status != trackskills.StatusSuccess {
		b.failures[errorKey{day, ev.ToolName, ev.ToolCategory, ev.ErrorType}]++
	}
	b.sources[sourceKey{day, ev.Source}]++
	u := string(user)
	b.users[userKey{day, u}] = struct{}{}
	b.toolUsers[toolUserKey{day, ev.ToolName, u}] = struct{}{}
	if server, tool := mcpOf(ev); server != "" {
		b.addMCP(ev, day, server, tool, u)
	}
	b.addRunEvent(ev, user)
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
	stmt  *stmts
	seen  *seenUsers
	cache *runCache // the run state of recent sessions (runcache.go)

	idleMs   int64 // the runs' idle timeout (runs.DefaultIdleMs unless set)
	skipRuns bool  // no skill runs: benchmarks measure what they cost
}

// rollups is every aggregate a batch updates, in the order they run; each
// upserts the rows of its tables for the whole batch inside tx, in one
// statement per table (json_each over the batch's merged rows, see
// jsonRows), not one per row.
var rollups = []func(w *writer, tx *dbsql.Tx, b *batch) error{
	(*writer).toolHourly,    // tool_hourly
	(*writer).toolDaily,     // tool_daily
	(*writer).toolErrors,    // tool_daily_errors
	(*writer).users,         // user_daily, user_first_seen, user_weekly, user_last_seen
	(*writer).toolUsers,     // tool_user_daily, tool_user_last_seen, tool_last_seen_counts, tool_daily_users
	(*writer).mcp,           // mcp_hourly, mcp_daily, mcp_daily_errors, and the users of each server (mcp.go)
	(*writer).inventory,     // known_skills, known_mcp_servers (inventory.go)
	(*writer).costs,         // api_requests, cost_daily (costs.go)
	(*writer).sourcesRollup, // source_daily (coverage.go)
	(*writer).runs,          // session_chunks, run_sessions, skill_runs and the run rollups (runs.go)
}

// write runs every rollup for b inside tx.
func (w *writer) write(tx *dbsql.Tx, b *batch) error {
	w.seen.drop(b)
	for _, r := range rollups {
		if err := r(w, tx, b); err != nil {
			return err
		}
	}
	return nil
}

// committed records the user rows of a committed batch as known, and the
// run state it wrote. The caller holds w.cache.mu.
func (w *writer) committed(b *batch) {
	w.seen.add(b)
	w.cache.put(b.runState)
}

// exec runs stmt in tx over rows, unless there are none.
func (w *writer) exec(tx *dbsql.Tx, stmt *dbsql.Stmt, rows *jsonRows, what string) error {
	if rows.n == 0 {
		return nil
	}
	return execText(tx, stmt, rows.text(), what)
}

// execText runs stmt in tx over the rows of arg.
func execText(tx *dbsql.Tx, stmt *dbsql.Stmt, arg, what string) error {
	if _, err := tx.Stmt(stmt).Exec(arg); err != nil {
		return fmt.Errorf("upsert %s: %w", what, err)
	}
	return nil
}

func (w *writer) toolHourly(tx *dbsql.Tx, b *batch) error {
	w.toolRows(b.rows, b.hourly, func(period int64) { b.rows.int(period) })
	return w.exec(tx, w.stmt.upHourly, b.rows, "tool_hourly")
}

func (w *writer) toolDaily(tx *dbsql.Tx, b *batch) error {
	w.toolRows(b.rows, b.daily, func(period int64) { b.rows.ascii(b.text(Day(period))) })
	return w.exec(tx, w.stmt.upDaily, b.rows, "tool_daily")
}

// toolRows puts the rows of m in j; key adds a row's period.
func (w *writer) toolRows(j *jsonRows, m map[toolKey]*toolAgg, key func(period int64)) {
	j.reset()
	var buf []byte
	for k, a := range m {
		j.row()
		key(k.period)
		j.hexString(k.tool)
		j.hexString(k.category)
		j.int(a.invocations)
		j.int(a.successes)
		j.int(a.errors)
		j.int(a.timeouts)
		j.int(a.durCount)
		j.int(a.durSum)
		if a.durCount > 0 {
			buf = a.hist.AppendBinary(buf[:0])
			j.int(a.durMax)
			j.hexBytes(buf)
		} else {
			j.null()
			j.null()
		}
	}
}

func (w *writer) toolErrors(tx *dbsql.Tx, b *batch) error {
	j := b.rows
	j.reset()
	for k, n := range b.failures {
		j.row()
		j.ascii(b.text(k.day))
		j.hexString(k.tool)
		j.hexString(k.category)
		j.hexString(k.errorType)
		j.int(n)
	}
	return w.exec(tx, w.stmt.upErr, b.rows, "tool_daily_errors")
}

// users adds the users active on a day: user_daily, and for a user new
// that day its first and last day and its week.
func (w *writer) users(tx *dbsql.Tx, b *batch) error {
	j := b.rows
	j.reset()
	for k := range b.users {
		j.row()
		j.ascii(b.text(k.day))
		j.hexString(k.user)
	}
	if j.n == 0 {
		return nil
	}
	// The rows inserted, those of users new on their day.
	rows, err := tx.Stmt(w.stmt.upUser).Query(j.text())
	if err != nil {
		return fmt.Errorf("insert user_daily: %w", err)
	}
	type span struct{ first, last Day }
	spans := map[string]span{} // by user: its first and last new day
	j.reset()                  // the new (day, user) rows, for their weeks
	for rows.Next() {
		var dayText string
		var user dbsql.RawBytes
		if err := rows.Scan(&dayText, &user); err != nil {
			rows.Close()
			return fmt.Errorf("insert user_daily: %w", err)
		}
		day, err := ParseDay(dayText)
		if err != nil {
			rows.Close()
			return fmt.Errorf("insert user_daily: %w", err)
		}
		j.row()
		j.ascii(dayText)
		j.hexBytes(user)
		sp, ok := spans[string(user)]
		if !ok {
			sp = span{day, day}
		}
		spans[string(user)] = span{min(sp.first, day), max(sp.last, day)}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("insert user_daily: %w", err)
	}
	if err := w.exec(tx, w.stmt.upWeek, b.rows, "user_weekly"); err != nil {
		return err
	}
	j.reset()
	for user, sp := range spans {
		j.row()
		j.hexString(user)
		j.ascii(b.text(sp.first))
		j.ascii(b.text(sp.last))
	}
	if err := w.exec(tx, w.stmt.upFirst, b.rows, "user_first_seen"); err != nil {
		return err
	}
	return w.exec(tx, w.stmt.upLast, b.rows, "user_last_seen")
}

// toolUser is a user of a tool, the key of tool_user_last_seen.
type toolUser struct{ tool, user string }

// toolDay is a tool on a day, the key of tool_daily_users and
// tool_last_seen_counts.
type toolDay struct {
	day  Day
	tool string
}

// userTables are the tables that count the users of a key (a tool, an
// MCP server) per day, with the statements that write them: presence per
// day and key (insert, returning the new rows), the last day of each
// user of a key (read and upsert), how many users of a key were last seen
// on each day, and how many users each key had on each day.
type userTables struct {
	insert, getLast, upLast, upCounts, upDay *dbsql.Stmt
	names                                    [4]string // the tables, in that order, for errors
}

// userTableNames are the user tables of a key named by prefix:
// <prefix>_user_daily, <prefix>_user_last_seen, <prefix>_last_seen_counts
// and <prefix>_daily_users.
func userTableNames(prefix string) [4]string {
	return [4]string{prefix + "_user_daily", prefix + "_user_last_seen", prefix + "_last_seen_counts", prefix + "_daily_users"}
}

// prepareUserTables prepares the statements of the user tables names (in
// the order of userTables.names) of one key, keyed by the column key
// (tool_name for tools, mcp_server for MCP servers, skill for skills).
// names and key are constants of the callers.
func prepareUserTables(ctx context.Context, db *dbsql.DB, names [4]string, key string) (userTables, error) {
	u := userTables{names: names}
	var err error
	if u.insert, err = db.PrepareContext(ctx, `INSERT INTO `+u.names[0]+` (day, `+key+`, user_id_hash)
		SELECT value->>0, CAST(unhex(value->>1) AS TEXT), unhex(value->>2) FROM jsonb_each(?) WHERE true
		ON CONFLICT DO NOTHING RETURNING day, `+key+`, user_id_hash`); err != nil {
		return u, fmt.Errorf("prepare %s insert: %w", u.names[0], err)
	}
	// The days as numbers (Day), read as integers with the keys.
	if u.getLast, err = db.PrepareContext(ctx, `SELECT json_group_array(json_array(j.key,
			CAST(julianday(t.day) - 2440587.5 AS INTEGER)))
		FROM jsonb_each(?) AS j
		JOIN `+u.names[1]+` AS t ON t.`+key+` = CAST(unhex(j.value->>0) AS TEXT) AND t.user_id_hash = unhex(j.value->>1)`); err != nil {
		return u, fmt.Errorf("prepare %s read: %w", u.names[1], err)
	}
	if u.upLast, err = db.PrepareContext(ctx, `INSERT INTO `+u.names[1]+` (`+key+`, user_id_hash, day)
		SELECT CAST(unhex(value->>0) AS TEXT), unhex(value->>1), value->>2 FROM jsonb_each(?) WHERE true
		ON CONFLICT (`+key+`, user_id_hash) DO UPDATE SET day = excluded.day WHERE excluded.day > day`); err != nil {
		return u, fmt.Errorf("prepare %s upsert: %w", u.names[1], err)
	}
	for _, p := range []struct {
		stmt  **dbsql.Stmt
		table string
	}{{&u.upCounts, u.names[2]}, {&u.upDay, u.names[3]}} {
		if *p.stmt, err = db.PrepareContext(ctx, `INSERT INTO `+p.table+` (day, `+key+`, users)
			SELECT value->>0, CAST(unhex(value->>1) AS TEXT), value->>2 FROM jsonb_each(?) WHERE true
			ON CONFLICT (day, `+key+`) DO UPDATE SET users = users + excluded.users`); err != nil {
			return u, fmt.Errorf("prepare %s upsert: %w", p.table, err)
		}
	}
	return u, nil
}

// list returns the statements of u, for closing.
func (u *userTables) list() []*dbsql.Stmt {
	return []*dbsql.Stmt{u.insert, u.getLast, u.upLast, u.upCounts, u.upDay}
}

// toolUsers adds the users of a tool on a day: tool_user_daily, and for a
// user new to the tool that day its count in tool_daily_users and its last
// day with the tool (tool_user_last_seen, counted by tool_last_seen_counts).
func (w *writer) toolUsers(tx *dbsql.Tx, b *batch) error {
	return w.keyUsers(tx, b, b.toolUsers, &w.stmt.toolUsers)
}

// keyUsers adds the users of a key on a day (keys: toolUserKey's tool is
// the key) to the tables of t: presence, and for a user new to the key
// that day its count per day and its last day with the key, counted per
// last day.
func (w *writer) keyUsers(tx *dbsql.Tx, b *batch, keys map[toolUserKey]struct{}, t *userTables) error {
	j := b.rows
	j.reset()
	tools := map[string]string{} // the batch's keys, to read names back without a copy
	for k := range keys {
		tools[k.tool] = k.tool
		j.row()
		j.int(int64(k.day))
		j.hexString(k.tool)
		j.hexString(k.user)
	}
	if j.n == 0 {
		return nil
	}
	// The rows inserted: users new to a tool on their day. (RETURNING is
	// cheaper than asking first which keys are missing: one search of the
	// key per row instead of two.)
	rows, err := tx.Stmt(t.insert).Query(j.text())
	if err != nil {
		return fmt.Errorf("insert %s: %w", t.names[0], err)
	}
	dayUsers := map[toolDay]int64{} // new users of a tool on a day
	newLast := map[toolUser]Day{}   // the last new day of each user of a tool
	for rows.Next() {
		var day int64
		var tool, user dbsql.RawBytes
		if err := rows.Scan(&day, &tool, &user); err != nil {
			rows.Close()
			return fmt.Errorf("insert %s: %w", t.names[0], err)
		}
		name, ok := tools[string(tool)]
		if !ok {
			name = string(tool)
		}
		dayUsers[toolDay{Day(day), name}]++
		k := toolUser{name, string(user)}
		if last, ok := newLast[k]; !ok || Day(day) > last {
			newLast[k] = Day(day)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("insert %s: %w", t.names[0], err)
	}

	// The last days stored before this batch, of the users of tools that
	// have a new day: pairs of (index into pairs, day) in one row.
	pairs := make([]toolUser, 0, len(newLast))
	j.reset()
	for k := range newLast {
		pairs = append(pairs, k)
		j.row()
		j.hexString(k.tool)
		j.hexString(k.user)
	}
	last := make([]Day, len(pairs))
	known := make([]bool, len(pairs))
	if len(pairs) > 0 {
		got, err := w.indexes(tx, t.getLast, j.text(), nil, t.names[1])
		if err != nil {
			return err
		}
		if len(got)%2 != 0 {
			return fmt.Errorf("read %s: %d numbers, want pairs", t.names[1], len(got))
		}
		for n := 0; n < len(got); n += 2 {
			i := got[n]
			if i < 0 || i >= int64(len(pairs)) {
				return fmt.Errorf("read %s: row %d of %d", t.names[1], i, len(pairs))
			}
			last[i], known[i] = Day(got[n+1]), true
		}
	}

	counts := map[toolDay]int64{} // change of the users last seen per day
	j.reset()
	for i, k := range pairs {
		day := newLast[k]
		if known[i] {
			if day <= last[i] {
				continue
			}
			counts[toolDay{last[i], k.tool}]--
		}
		counts[toolDay{day, k.tool}]++
		j.row()
		j.hexString(k.tool)
		j.hexString(k.user)
		j.ascii(b.text(day))
	}
	if err := w.exec(tx, t.upLast, b.rows, t.names[1]); err != nil {
		return err
	}
	j.reset()
	for k, n := range counts {
		if n == 0 {
			continue
		}
		j.row()
		j.ascii(b.text(k.day))
		j.hexString(k.tool)
		j.int(n)
	}
	if err := w.exec(tx, t.upCounts, b.rows, t.names[2]); err != nil {
		return err
	}
	j.reset()
	for k, n := range dayUsers {
		j.row()
		j.ascii(b.text(k.day))
		j.hexString(k.tool)
		j.int(n)
	}
	return w.exec(tx, t.upDay, b.rows, t.names[3])
}

// indexes runs the query stmt over arg (and more, unless nil), whose one
// row is a JSON array of integers (json_group_array), and returns them.
func (w *writer) indexes(tx *dbsql.Tx, stmt *dbsql.Stmt, arg any, more any, what string) ([]int64, error) {
	var text string
	args := []any{arg}
	if more != nil {
		args = append(args, more)
	}
	if err := tx.Stmt(stmt).QueryRow(args...).Scan(&text); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	out, err := parseInts(text)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
}

// parseInts reads the integers of a JSON array of integers (or of arrays
// of integers), in order.
func parseInts(s string) ([]int64, error) {
	var out []int64
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			n, err := strconv.ParseInt(s[i:j], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse %q: %w", s[i:j], err)
			}
			out = append(out, n)
			i = j
		case c == '[' || c == ']' || c == ',' || c == ' ':
			i++
		default:
			return nil, fmt.Errorf("parse integers: unexpected %q", c)
		}
	}
	return out, nil
}

// seenDays is how many recent UTC days seenUsers remembers; events of older
// days (late or replayed) simply pay an INSERT OR IGNORE.
const seenDays = 3

// seenUsers remembers which user rows of the last few days exist, so that
// the writer skips a known user instead of inserting it again: in a busy
// hour most events come from users already active that day. It keeps the
// users of each day (user_daily) and the keys of each set of keyUsers
// (keySets: the users of each tool, server and skill, the sessions of each
// skill).
type seenUsers struct {
	// mu guards the maps: WriteBatch may be called from several
	// goroutines, and it reads them inside a transaction but fills them
	// after the commit.
	mu    sync.Mutex
	users map[Day]map[userKey]struct{}
	keys  map[Day]map[seenKey]struct{}
}

// seenKey is a key of one of a batch's keySets.
type seenKey struct {
	set int // its index in keySets
	toolUserKey
}

func newSeenUsers() *seenUsers {
	return &seenUsers{users: map[Day]map[userKey]struct{}{}, keys: map[Day]map[seenKey]struct{}{}}
}

// keySets returns the sets of b that keyUsers writes, always in the same
// order (seenKey.set); a set b does not have is nil.
func (b *batch) keySets() [4]map[toolUserKey]struct{} {
	var mcp map[toolUserKey]struct{}
	if b.mcp != nil {
		mcp = b.mcp.users
	}
	return [4]map[toolUserKey]struct{}{b.toolUsers, mcp, b.skillUsers, b.skillSessions}
}

// drop removes from b the user rows known to exist, under one lock.
func (s *seenUsers) drop(b *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range b.users {
		if _, ok := s.users[k.day][k]; ok {
			delete(b.users, k)
		}
	}
	for i, set := range b.keySets() {
		for k := range set {
			if _, ok := s.keys[k.day][seenKey{i, k}]; ok {
				delete(set, k)
			}
		}
	}
}

// add records the user rows of a committed batch.
func (s *seenUsers) add(b *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range b.users {
		s.addUser(k)
	}
	for i, set := range b.keySets() {
		for k := range set {
			s.addKey(seenKey{i, k})
		}
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

func (s *seenUsers) addKey(k seenKey) {
	m := s.keys[k.day]
	if m == nil {
		if !s.keepDay(k.day) {
			return
		}
		m = map[seenKey]struct{}{}
		s.keys[k.day] = m
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
	if _, ok := s.keys[day]; ok {
		return true
	}
	days := make([]Day, 0, len(s.users)+1)
	for d := range s.users {
		days = append(days, d)
	}
	for d := range s.keys {
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
	delete(s.keys, oldest)
	return true
}
