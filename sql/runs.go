package sql

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/runs"
)

// Skill runs (migration 0017): the writer logs every event of a session
// (session_chunks, sessionlog.go), walks each session of a batch from its stored state
// (run_sessions and its open skill_runs) and writes the runs it touched,
// with the change they make to the run rollups, in the batch's
// transaction. Events of a session that arrive after later ones re-walk it
// from the last reset before them (runs.Reset), so that any arrival order
// gives the runs of the session in time order. A sweep ends the runs of
// sessions quiet for the idle timeout, measured against the newest event
// of the batch, as a later event would.

// Log codes: an event's kind and flags in the session log (sessionlog.go).
const (
	codeKindMask  = 0x0f
	codeFailed    = 1 << 4
	codeInterrupt = 1 << 5
	codeSkill     = 1 << 6
	codeSubagent  = 1 << 7
	codeUserSlash = 1 << 8
	codeReset     = 1 << 9
)

// logKinds are the kinds a log code names, by their index (0: a tool call).
var logKinds = []string{"", trackskills.KindPrompt, trackskills.KindStop, trackskills.KindStopFailure,
	trackskills.KindSubagentStart, trackskills.KindSubagentStop, trackskills.KindSessionStart,
	trackskills.KindSessionEnd, trackskills.KindDenied}

// logCode is the code of a run event.
func logCode(ev *runs.Event) int64 {
	c := int64(slices.Index(logKinds, ev.Kind))
	if ev.Status != trackskills.StatusSuccess {
		c |= codeFailed
	}
	if ev.Interrupt {
		c |= codeInterrupt
	}
	switch ev.Category {
	case "skill":
		c |= codeSkill
	case "subagent":
		c |= codeSubagent
	}
	if ev.UserSlash {
		c |= codeUserSlash
	}
	if runs.Reset(ev) {
		c |= codeReset
	}
	return c
}

// logEvent is the run event a log row holds.
func logEvent(ts int64, id []byte, code int64, name string, agent []byte) runs.Event {
	ev := runs.Event{TS: ts, ID: id, Name: name, Status: trackskills.StatusSuccess, Agent: string(agent)}
	if k := int(code & codeKindMask); k < len(logKinds) {
		ev.Kind = logKinds[k]
	}
	if code&codeFailed != 0 {
		ev.Status = trackskills.StatusError
	}
	ev.Interrupt = code&codeInterrupt != 0
	switch {
	case code&codeSkill != 0:
		ev.Category = "skill"
	case code&codeSubagent != 0:
		ev.Category = "subagent"
	}
	ev.UserSlash = code&codeUserSlash != 0
	return ev
}

// runEventOf is what runs need of ev.
func runEventOf(ev *trackskills.Event) runs.Event {
	id := eventKey(ev.EventID)
	var idb []byte
	switch k := id.(type) {
	case []byte:
		idb = k
	case string:
		idb = []byte(k) // text ids as bytes: one BLOB order for every id
	}
	out := runs.Event{TS: ev.Timestamp, ID: idb, Kind: ev.Kind, Name: ev.ToolName, Category: ev.ToolCategory,
		Status: ev.Status, Interrupt: ev.ErrorType == "interrupt"}
	if ev.AgentHash != "" {
		out.Agent = string(hashKey(ev.AgentHash))
	}
	if ev.ToolCategory == "skill" && len(ev.Metadata) > 0 {
		var m struct {
			Trigger   string `json:"trigger"`
			HookEvent string `json:"hook_event"`
		}
		if json.Unmarshal(ev.Metadata, &m) == nil {
			out.UserSlash = m.Trigger == "user-slash" || m.HookEvent == "UserPromptExpansion"
		}
	}
	return out
}

// runInput is one fresh event of a session in a batch.
type runInput struct {
	session, user string // stored hashes
	source        string
	ev            runs.Event
}

// addRunEvent queues ev, an event of a session, for the runs of the batch.
func (b *batch) addRunEvent(ev *trackskills.Event, user []byte) {
	if b.runsOff || ev.SessionHash == "" || !trackskills.InRuns(ev.Kind) {
		return
	}
	if user == nil {
		user = hashKey(ev.UserHash)
	}
	b.runEvents = append(b.runEvents, runInput{session: string(hashKey(ev.SessionHash)), user: string(user), source: ev.Source,
		ev: runEventOf(ev)})
	if ev.Kind == "" && ev.ToolCategory == "skill" {
		day := DayOf(ev.Timestamp)
		b.skillUsers[toolUserKey{day, ev.ToolName, string(user)}] = struct{}{}
		b.skillSessions[toolUserKey{day, ev.ToolName, string(hashKey(ev.SessionHash))}] = struct{}{}
	}
}

// runStmts are the writer's statements of the runs.
type runStmts struct {
	logChunks, upRuns                         *valuesStmt // session_chunks, skill_runs: bound values
	sessions, open, delRun, upSessions, stale *dbsql.Stmt
	lastChunk, chain                          *dbsql.Stmt
	upDaily, upTools, upMCP                   *dbsql.Stmt
	users, sessionsOf                         userTables
}

func (s *runStmts) prepare(ctx context.Context, db *dbsql.DB) error {
	for _, p := range []struct {
		stmt **dbsql.Stmt
		what string
		q    string
	}{
		{&s.sessions, "run_sessions read", `SELECT s.session, s.last_ts, s.last_id, s.open_last IS NOT NULL, s.swept,
				coalesce(s.last_chunk, 0)
			FROM jsonb_each(?) AS j JOIN run_sessions AS s ON s.session = unhex(j.value->>0)`},
		{&s.open, "open runs read", `SELECT ` + runColumns + ` FROM jsonb_each(?) AS j
			JOIN skill_runs AS r ON r.session = unhex(j.value->>0) WHERE r.state = 'open'`},
		{&s.delRun, "skill_runs delete", `DELETE FROM skill_runs WHERE (start_ms, session, start_id) IN
			(SELECT value->>1, unhex(value->>0), unhex(value->>2) FROM jsonb_each(?))`},
		{&s.upSessions, "run_sessions upsert", `INSERT INTO run_sessions (session, user_id_hash, last_ts, last_id, open_last, swept,
				last_chunk, sources)
			SELECT unhex(value->>0), unhex(value->>1), value->>2, unhex(value->>3), value->>4, value->>5, value->>6, value->>7
			FROM jsonb_each(?) WHERE true
			ON CONFLICT (session) DO UPDATE SET last_ts = excluded.last_ts, last_id = excluded.last_id,
				open_last = excluded.open_last, swept = excluded.swept, last_chunk = excluded.last_chunk,
				sources = sources | excluded.sources`},
		{&s.lastChunk, "session_chunks last id", `SELECT coalesce(MAX(id), 0) FROM session_chunks`},
		{&s.chain, "session_chunks chain", `WITH RECURSIVE chain (id) AS (SELECT ? ` + chainStep + `)
			SELECT c.session, c.events FROM chain JOIN session_chunks AS c USING (id)`},
		{&s.stale, "stale sessions read", `SELECT session, user_id_hash FROM run_sessions
			WHERE open_last IS NOT NULL AND open_last < ? ORDER BY open_last LIMIT ?`},
		{&s.upDaily, "skill_daily upsert", `INSERT INTO skill_daily (day, skill, runs, completed, failed, interrupted, abandoned,
				open, calls, failed_calls, denied_calls, subagents, wall_sum, walls, walls_off)
			SELECT value->>0, CAST(unhex(value->>1) AS TEXT), value->>2, value->>3, value->>4, value->>5, value->>6,
				value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, unhex(value->>13), unhex(value->>14)
			FROM jsonb_each(?) WHERE true
			ON CONFLICT (day, skill) DO UPDATE SET runs = runs + excluded.runs, completed = completed + excluded.completed,
				failed = failed + excluded.failed, interrupted = interrupted + excluded.interrupted,
				abandoned = abandoned + excluded.abandoned, open = open + excluded.open, calls = calls + excluded.calls,
				failed_calls = failed_calls + excluded.failed_calls, denied_calls = denied_calls + excluded.denied_calls,
				subagents = subagents + excluded.subagents, wall_sum = wall_sum + excluded.wall_sum,
				walls = CASE WHEN excluded.walls IS NULL THEN walls ELSE hist_merge(walls, excluded.walls) END,
				walls_off = CASE WHEN excluded.walls_off IS NULL THEN walls_off ELSE hist_merge(walls_off, excluded.walls_off) END`},
	} {
		var err error
		if *p.stmt, err = db.PrepareContext(ctx, p.q); err != nil {
			return fmt.Errorf("prepare %s: %w", p.what, err)
		}
	}
	for _, p := range []struct {
		stmt  **dbsql.Stmt
		table string
		key   string
	}{{&s.upTools, "skill_daily_tools", "tool_name"}, {&s.upMCP, "skill_daily_mcp", "mcp_server"}} {
		var err error
		// The table and key names are constants of this function.
		if *p.stmt, err = db.PrepareContext(ctx, `INSERT INTO `+p.table+` (day, skill, `+p.key+`, runs, calls, failed_calls)
			SELECT value->>0, CAST(unhex(value->>1) AS TEXT), CAST(unhex(value->>2) AS TEXT), value->>3, value->>4, value->>5
			FROM jsonb_each(?) WHERE true
			ON CONFLICT (day, skill, `+p.key+`) DO UPDATE SET runs = runs + excluded.runs, calls = calls + excluded.calls,
				failed_calls = failed_calls + excluded.failed_calls`); err != nil {
			return fmt.Errorf("prepare %s upsert: %w", p.table, err)
		}
	}
	var err error
	// The chunks' BLOBs go in as bound values, not as hex in JSON.
	if s.logChunks, err = prepareValues(ctx, db, 7, `INSERT INTO session_chunks (id, session, first_ts, first_id, last_ts, events, prev)
		VALUES `, "(?, ?, ?, ?, ?, ?, ?)", ""); err != nil {
		return fmt.Errorf("prepare session_chunks insert: %w", err)
	}
	// The runs too: their ids and hashes as BLOBs, their tools as text.
	if s.upRuns, err = prepareValues(ctx, db, runCols, `INSERT INTO skill_runs (session, start_ms, start_id, skill,
		user_id_hash, parent_start_ms, parent_id, agent, user_slash, end_ms, last_ms, state, calls, failed_calls,
		denied_calls, subagent_starts, subagent_calls, tools) VALUES `, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		` ON CONFLICT (start_ms, session, start_id) DO UPDATE SET parent_start_ms = excluded.parent_start_ms,
				parent_id = excluded.parent_id, agent = excluded.agent, end_ms = excluded.end_ms, last_ms = excluded.last_ms,
				state = excluded.state, calls = excluded.calls, failed_calls = excluded.failed_calls,
				denied_calls = excluded.denied_calls, subagent_starts = excluded.subagent_starts,
				subagent_calls = excluded.subagent_calls, tools = excluded.tools`); err != nil {
		return fmt.Errorf("prepare skill_runs upsert: %w", err)
	}
	if s.users, err = prepareUserTables(ctx, db, userTableNames("skill"), "skill"); err != nil {
		return err
	}
	s.sessionsOf, err = prepareUserTables(ctx, db, [4]string{"skill_session_daily", "skill_session_last_seen",
		"skill_session_last_seen_counts", "skill_daily_sessions"}, "skill")
	return err
}

func (s *runStmts) list() []*dbsql.Stmt {
	return append(append([]*dbsql.Stmt{s.sessions, s.open, s.delRun, s.upSessions, s.stale,
		s.lastChunk, s.chain, s.upDaily, s.upTools, s.upMCP}, s.users.list()...), s.sessionsOf.list()...)
}

// runColumns are the columns of a run, in the order scanRun reads them.
const runColumns = `r.session, r.start_ms, r.start_id, r.skill, r.user_id_hash, r.parent_start_ms, r.parent_id, r.agent,
	r.user_slash, r.end_ms, r.last_ms, r.state, r.calls, r.failed_calls, r.denied_calls, r.subagent_starts,
	r.subagent_calls, r.tools`

// storedRun is a run with its session and user, as skill_runs holds it.
type storedRun struct {
	session, user string
	*runs.Run
}

func scanRun(rows *dbsql.Rows) (storedRun, error) {
	var r runs.Run
	var session, user, agent []byte
	var parentStart dbsql.NullInt64
	var tools string
	var slash int64
	if err := rows.Scan(&session, &r.Start, &r.ID, &r.Skill, &user, &parentStart, &r.ParentID, &agent, &slash,
		&r.End, &r.Last, &r.State, &r.Calls, &r.FailedCalls, &r.DeniedCalls, &r.SubagentStarts, &r.SubagentCalls,
		&tools); err != nil {
		return storedRun{}, err
	}
	r.ParentStart, r.Agent, r.UserSlash = parentStart.Int64, string(agent), slash != 0
	if err := decodeTools(tools, &r); err != nil {
		return storedRun{}, err
	}
	return storedRun{session: string(session), user: string(user), Run: &r}, nil
}

// encodeTools is the tools column of a run: {"tool": [calls, failed]}.
func encodeTools(r *runs.Run) string {
	m := make(map[string][2]int64, len(r.Tools))
	for k, t := range r.Tools {
		m[k] = [2]int64{t.Calls, t.Failed}
	}
	b, _ := json.Marshal(m) // a map of strings to numbers always encodes
	return string(b)
}

func decodeTools(s string, r *runs.Run) error {
	var m map[string][2]int64
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return fmt.Errorf("run tools: %w", err)
	}
	r.Tools = make(map[string]runs.Tally, len(m))
	for k, v := range m {
		r.Tools[k] = runs.Tally{Calls: v[0], Failed: v[1]}
	}
	return nil
}

// runDelta is the change a batch makes to the run rollups.
type runDelta struct {
	daily map[skillDayKey]*[11]int64 // runs, completed, failed, interrupted, abandoned, open, calls, failed, denied, subagents, wall
	walls map[skillBucketKey]int64
	tools map[skillToolKey]*[3]int64 // runs, calls, failed calls
	mcp   map[skillToolKey]*[3]int64
}

type skillDayKey struct {
	day   Day
	skill string
}
type skillBucketKey struct {
	day    Day
	skill  string
	bucket int
}
type skillToolKey struct {
	day         Day
	skill, name string
}

func newRunDelta() *runDelta {
	return &runDelta{daily: map[skillDayKey]*[11]int64{}, walls: map[skillBucketKey]int64{},
		tools: map[skillToolKey]*[3]int64{}, mcp: map[skillToolKey]*[3]int64{}}
}

// add counts r in the rollups with sign s (+1 to add, -1 to take off).
func (d *runDelta) add(r *runs.Run, s int64) {
	day := DayOf(r.Start)
	k := skillDayKey{day, r.Skill}
	a := d.daily[k]
	if a == nil {
		a = &[11]int64{}
		d.daily[k] = a
	}
	a[0] += s
	a[1+slices.Index(runs.States, r.State)] += s
	a[6] += s * r.Calls
	a[7] += s * r.FailedCalls
	a[8] += s * r.DeniedCalls
	a[9] += s * r.Subagents()
	if r.State != runs.Open {
		a[10] += s * r.WallMs()
		d.walls[skillBucketKey{day, r.Skill, trackskills.HistBucket(r.WallMs())}] += s
	}
	servers := map[string][2]int64{}
	for name, t := range r.Tools {
		addTally(d.tools, skillToolKey{day, r.Skill, name}, s, t.Calls, t.Failed)
		if server, _ := trackskills.SplitMCP(name); server != "" {
			v := servers[server]
			servers[server] = [2]int64{v[0] + t.Calls, v[1] + t.Failed}
		}
	}
	for server, v := range servers {
		addTally(d.mcp, skillToolKey{day, r.Skill, server}, s, v[0], v[1])
	}
}

func addTally(m map[skillToolKey]*[3]int64, k skillToolKey, s, calls, failed int64) {
	a := m[k]
	if a == nil {
		a = &[3]int64{}
		m[k] = a
	}
	a[0] += s
	a[1] += s * calls
	a[2] += s * failed
}

// runSession is one session walked in a batch.
type runSession struct {
	key, user string
	events    []runs.Event // the batch's fresh events, in session order
	known     bool         // run_sessions has it
	lastTS    int64
	lastID    []byte
	hasOpen   bool
	swept     bool
	lastChunk int64       // rowid of its last chunk in session_chunks, 0 for none
	chunk     int64       // rowid of the chunk this batch appends
	old       []storedRun // its runs as stored before the walk, that the walk may change
	rewalked  bool        // walked again from the log: every run of old is replaced
	walker    runs.Walker
	cached    *cachedSession // its state from the run cache, nil when read from SQLite
	sources   int64          // the sources of its events in the batch (sourceBit)
}

// runs walks the sessions of b and writes their runs (skill_runs,
// session_chunks, run_sessions, the run rollups and the users and sessions
// of each skill).
func (w *writer) runs(tx *dbsql.Tx, b *batch) error {
	if w.skipRuns {
		return nil
	}
	if err := w.keyUsers(tx, b, b.skillUsers, &w.stmt.runs.users); err != nil {
		return err
	}
	if err := w.keyUsers(tx, b, b.skillSessions, &w.stmt.runs.sessionsOf); err != nil {
		return err
	}
	sessions := b.runSessions()
	delta := newRunDelta()
	var newest int64
	for _, s := range sessions {
		newest = max(newest, s.events[len(s.events)-1].TS)
	}
	if err := w.walkSessions(tx, b, sessions, delta); err != nil {
		return err
	}
	if len(sessions) > 0 && w.idleMs > 0 {
		// As many as the batch has sessions: about as many go quiet as
		// were active, so the sweep keeps up with any batch size.
		if _, err := w.sweep(tx, b, newest-w.idleMs, max(1000, 2*len(sessions)), delta); err != nil {
			return err
		}
	}
	return w.writeRunDelta(tx, b, delta)
}

// runSessions returns the sessions of the batch's session events, each
// with its events in session order, once each (a batch may hold a mark
// twice). Whether the log holds them already is for walkSessions.
func (b *batch) runSessions() map[string]*runSession {
	for _, i := range b.marks {
		b.addRunEvent(&b.events[i], nil)
	}
	if len(b.runEvents) == 0 {
		return nil
	}
	// The sessions' events share one slice, each session its part of it,
	// sized by a first count.
	out := map[string]*runSession{}
	count := map[*runSession]int{}
	for i := range b.runEvents {
		in := &b.runEvents[i]
		s := out[in.session]
		if s == nil {
			s = &runSession{key: in.session, user: in.user}
			out[in.session] = s
		}
		s.sources |= sourceBit(in.source)
		count[s]++
	}
	all := make([]runs.Event, 0, len(b.runEvents))
	for s, n := range count {
		s.events, all = all[len(all):len(all):len(all)+n], all[:len(all)+n]
	}
	for i := range b.runEvents {
		in := &b.runEvents[i]
		s := out[in.session]
		s.events = append(s.events, in.ev)
	}
	for _, s := range out {
		slices.SortStableFunc(s.events, func(a, c runs.Event) int { return runs.Compare(&a, &c) })
		s.events = slices.CompactFunc(s.events, func(a, c runs.Event) bool { return runs.Compare(&a, &c) == 0 })
	}
	return out
}

// walkSessions walks each session of the batch from its stored state,
// adding the change of its runs to delta and writing them.
func (w *writer) walkSessions(tx *dbsql.Tx, b *batch, sessions map[string]*runSession, delta *runDelta) error {
	if len(sessions) == 0 {
		return nil
	}
	keys := make([]string, 0, len(sessions))
	for k := range sessions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// The sessions the run cache has are known; the others are read.
	j := b.rows
	j.reset()
	for _, k := range keys {
		if c, ok := w.cache.take(k); ok {
			s := sessions[k]
			s.cached, s.known, s.lastTS, s.lastID = c, true, c.state.LastTS, c.state.LastID
			s.hasOpen, s.swept, s.lastChunk = c.state.Top != nil, c.swept, c.lastChunk
			continue
		}
		j.row()
		j.hexString(k)
	}
	if j.n > 0 {
		if err := w.readSessions(tx, j.text(), sessions); err != nil {
			return err
		}
	}

	// In order (the common case): resume from the open runs. Otherwise
	// re-walk from the log.
	var fast, slow []*runSession
	for _, k := range keys {
		s := sessions[k]
		first := &s.events[0]
		last := runs.Event{TS: s.lastTS, ID: s.lastID}
		switch {
		case !s.known:
			fast = append(fast, s)
		case runs.Less(&last, first) && !(s.swept && first.TS-s.lastTS <= w.idleMs):
			fast = append(fast, s)
		default:
			slow = append(slow, s)
		}
	}
	if err := w.loadOpen(tx, b, fast); err != nil {
		return err
	}
	for _, s := range fast {
		s.walker.IdleMs = w.idleMs
		for i := range s.events {
			s.walker.Feed(&s.events[i])
		}
	}
	all := fast
	for _, s := range slow {
		fresh, err := w.rewalk(tx, s)
		if err != nil {
			return err
		}
		if fresh {
			all = append(all, s)
		}
	}
	if len(all) == 0 {
		return nil
	}
	// The chunks' rowids, so that run_sessions can name them: the next
	// ones after the table's last (this transaction is the only writer).
	var last int64
	if err := tx.Stmt(w.stmt.runs.lastChunk).QueryRow().Scan(&last); err != nil {
		return fmt.Errorf("read session_chunks: %w", err)
	}
	for i, s := range all {
		s.chunk = last + 1 + int64(i)
	}
	if err := w.writeWalks(tx, b, all, delta); err != nil {
		return err
	}
	if err := w.logEvents(tx, all); err != nil {
		return err
	}
	for _, s := range all {
		b.runState[s.key] = &cachedSession{state: s.walker.State, lastChunk: s.chunk}
	}
	return nil
}

// readSessions reads the state of the sessions arg names (a JSON array of
// their hashes' hex) from run_sessions into sessions.
func (w *writer) readSessions(tx *dbsql.Tx, arg string, sessions map[string]*runSession) error {
	rows, err := tx.Stmt(w.stmt.runs.sessions).Query(arg)
	if err != nil {
		return fmt.Errorf("read run_sessions: %w", err)
	}
	for rows.Next() {
		var key []byte
		var st runSession
		if err := rows.Scan(&key, &st.lastTS, &st.lastID, &st.hasOpen, &st.swept, &st.lastChunk); err != nil {
			rows.Close()
			return fmt.Errorf("read run_sessions: %w", err)
		}
		s := sessions[string(key)]
		s.known, s.lastTS, s.lastID, s.hasOpen, s.swept, s.lastChunk = true, st.lastTS, st.lastID, st.hasOpen, st.swept, st.lastChunk
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read run_sessions: %w", err)
	}
	return nil
}

// logEvents writes the fresh events of each session as one chunk of the
// session log, the next link of its chain.
func (w *writer) logEvents(tx *dbsql.Tx, sessions []*runSession) error {
	const cols = 7
	args := make([]any, 0, cols*len(sessions))
	for _, s := range sessions {
		first, last := &s.events[0], &s.events[len(s.events)-1]
		var prev any
		if s.lastChunk != 0 {
			prev = s.lastChunk
		}
		args = append(args, s.chunk, []byte(s.key), first.TS, first.ID, last.TS, encodeChunk(s.events), prev)
	}
	return w.stmt.runs.logChunks.each(len(sessions), func(st *dbsql.Stmt, from, n int) error {
		if _, err := tx.Stmt(st).Exec(args[from*cols : (from+n)*cols]...); err != nil {
			return fmt.Errorf("insert session_chunks: %w", err)
		}
		return nil
	})
}

// loadOpen loads the open runs of the sessions into their walkers.
func (w *writer) loadOpen(tx *dbsql.Tx, b *batch, sessions []*runSession) error {
	by := map[string]*runSession{}
	j := b.rows
	j.reset()
	for _, s := range sessions {
		if c := s.cached; c != nil {
			s.walker.State = c.state
			for _, r := range append([]*runs.Run{c.state.Top}, c.state.Nested...) {
				if r != nil {
					s.old = append(s.old, storedRun{session: s.key, user: s.user, Run: r.Clone()})
				}
			}
			continue
		}
		s.walker.State = runs.State{LastTS: s.lastTS, LastID: s.lastID}
		if s.hasOpen {
			by[s.key] = s
			j.row()
			j.hexString(s.key)
		}
	}
	if len(by) == 0 {
		return nil
	}
	rows, err := tx.Stmt(w.stmt.runs.open).Query(j.text())
	if err != nil {
		return fmt.Errorf("read open runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return fmt.Errorf("read open runs: %w", err)
		}
		s := by[r.session]
		s.old = append(s.old, storedRun{session: r.session, user: r.user, Run: r.Clone()})
		if r.ParentID == nil {
			s.walker.State.Top = r.Run
		} else {
			s.walker.State.Nested = append(s.walker.State.Nested, r.Run)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read open runs: %w", err)
	}
	for _, s := range by {
		// Nested runs in the order they started, as the walk keeps them.
		slices.SortFunc(s.walker.State.Nested, func(a, c *runs.Run) int {
			ea, ec := runs.Event{TS: a.Start, ID: a.ID}, runs.Event{TS: c.Start, ID: c.ID}
			return runs.Compare(&ea, &ec)
		})
	}
	return nil
}

// rewalk walks a session again from the last reset before its first new
// event: the runs it had from there on are taken off and walked anew. The
// batch's events the log holds already (a redelivery) are dropped from
// s.events first; it returns false, and walks nothing, when none is left.
func (w *writer) rewalk(tx *dbsql.Tx, s *runSession) (bool, error) {
	var logged []runs.Event
	rows, err := tx.Stmt(w.stmt.runs.chain).Query(s.lastChunk)
	if err != nil {
		return false, fmt.Errorf("rewalk session: %w", err)
	}
	for rows.Next() {
		var session, chunk []byte
		err := rows.Scan(&session, &chunk)
		if err == nil && string(session) != s.key {
			err = fmt.Errorf("%w: the chain of session %x holds a chunk of session %x", errCorruptChunk, s.key, session)
		}
		if err == nil {
			logged, err = decodeChunk(chunk, logged)
		}
		if err != nil {
			rows.Close()
			return false, fmt.Errorf("rewalk session: %w", err)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return false, fmt.Errorf("rewalk session: %w", err)
	}
	// Chunks may overlap in time; each event is in one of them.
	slices.SortFunc(logged, func(a, c runs.Event) int { return runs.Compare(&a, &c) })
	fresh := s.events[:0]
	for _, ev := range s.events {
		if _, found := slices.BinarySearchFunc(logged, ev, func(a, c runs.Event) int { return runs.Compare(&a, &c) }); !found {
			fresh = append(fresh, ev)
		}
	}
	s.events = fresh
	if len(fresh) == 0 {
		return false, nil
	}
	all := mergeEvents(logged, fresh)

	// The walk starts at the last reset before the first new event, or at
	// the session's first event when none is.
	from, fromTS, fromID := 0, int64(-1<<62), []byte{}
	for i := 0; i < len(all) && runs.Less(&all[i], &fresh[0]); i++ {
		if runs.Reset(&all[i]) {
			from, fromTS, fromID = i, all[i].TS, all[i].ID
		}
	}
	rs, err := tx.Query(`SELECT `+runColumns+` FROM skill_runs AS r WHERE r.session = ?
		AND (r.start_ms > ? OR (r.start_ms = ? AND r.start_id >= ?))`, []byte(s.key), fromTS, fromTS, fromID)
	if err != nil {
		return false, fmt.Errorf("rewalk session: %w", err)
	}
	for rs.Next() {
		r, err := scanRun(rs)
		if err != nil {
			rs.Close()
			return false, fmt.Errorf("rewalk session: %w", err)
		}
		s.old = append(s.old, r)
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil {
		return false, fmt.Errorf("rewalk session: %w", err)
	}
	s.walker = runs.Walker{IdleMs: w.idleMs}
	s.rewalked = true
	for i := from; i < len(all); i++ {
		s.walker.Feed(&all[i])
	}
	return true, nil
}

// mergeEvents merges two slices of events in session order.
func mergeEvents(a, c []runs.Event) []runs.Event {
	out := make([]runs.Event, 0, len(a)+len(c))
	for len(a) > 0 && len(c) > 0 {
		if runs.Less(&c[0], &a[0]) {
			out, c = append(out, c[0]), c[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), c...)
}

// writeWalks writes the runs the walks touched and the sessions' state,
// and counts the change in delta.
func (w *writer) writeWalks(tx *dbsql.Tx, b *batch, sessions []*runSession, delta *runDelta) error {
	j := b.rows
	// Runs taken off that the walk did not give back: deleted.
	j.reset()
	for _, s := range sessions {
		kept := map[string]bool{}
		for _, r := range s.walker.Touched {
			kept[runName(r)] = true
		}
		for _, o := range s.old {
			switch {
			case kept[runName(o.Run)]:
				delta.add(o.Run, -1) // its new figures are added below
			case s.rewalked:
				delta.add(o.Run, -1)
				j.row()
				j.hexString(s.key)
				j.int(o.Start)
				j.hexBytes(o.ID)
			}
		}
	}
	if err := w.exec(tx, w.stmt.runs.delRun, j, "skill_runs"); err != nil {
		return err
	}
	if err := w.upsertTouched(tx, b, sessions, delta); err != nil {
		return err
	}
	j.reset()
	for _, s := range sessions {
		st := &s.walker.State
		j.row()
		j.hexString(s.key)
		j.hexString(s.user)
		j.int(st.LastTS)
		j.hexBytes(st.LastID)
		if last, ok := openLast(st); ok {
			j.int(last)
		} else {
			j.null()
		}
		j.int(0)
		j.int(s.chunk)
		j.int(s.sources)
	}
	return w.exec(tx, w.stmt.runs.upSessions, j, "run_sessions")
}

// upsertTouched writes the runs the walks of sessions touched and adds
// their figures to delta.
func (w *writer) upsertTouched(tx *dbsql.Tx, b *batch, sessions []*runSession, delta *runDelta) error {
	args := (*b.args)[:0]
	for _, s := range sessions {
		for _, r := range s.walker.Touched {
			delta.add(r, 1)
			args = appendRun(args, s.key, s.user, r)
		}
	}
	*b.args = args[:0]
	return w.stmt.runs.upRuns.each(len(args)/runCols, func(st *dbsql.Stmt, from, n int) error {
		if _, err := tx.Stmt(st).Exec(args[from*runCols : (from+n)*runCols]...); err != nil {
			return fmt.Errorf("upsert skill_runs: %w", err)
		}
		return nil
	})
}

// runName names a run in its session.
func runName(r *runs.Run) string {
	return fmt.Sprintf("%d/%x", r.Start, r.ID)
}

// openLast is the last event of the open runs of st, if any is open.
func openLast(st *runs.State) (int64, bool) {
	if st.Top == nil {
		return 0, false
	}
	last := st.Top.Last
	for _, r := range st.Nested {
		last = max(last, r.Last)
	}
	return last, true
}

// runCols is how many values appendRun appends.
const runCols = 18

// appendRun appends the values of r's row in skill_runs to args.
func appendRun(args []any, session, user string, r *runs.Run) []any {
	var parentStart, parentID, agent any
	if r.ParentID != nil {
		parentStart, parentID = r.ParentStart, r.ParentID
	}
	if r.Agent != "" {
		agent = []byte(r.Agent)
	}
	slash := 0
	if r.UserSlash {
		slash = 1
	}
	return append(args, []byte(session), r.Start, r.ID, r.Skill, []byte(user), parentStart, parentID, agent, slash,
		r.End, r.Last, r.State, r.Calls, r.FailedCalls, r.DeniedCalls, r.SubagentStarts, r.SubagentCalls, encodeTools(r))
}

// sweep ends, as abandoned, the open runs of the sessions whose last event
// came before quietBefore (up to limit of them, the quietest first) and
// returns how many sessions it swept.
func (w *writer) sweep(tx *dbsql.Tx, b *batch, quietBefore int64, limit int, delta *runDelta) (int, error) {
	rows, err := tx.Stmt(w.stmt.runs.stale).Query(quietBefore, limit)
	if err != nil {
		return 0, fmt.Errorf("read quiet sessions: %w", err)
	}
	var quiet []*runSession
	for rows.Next() {
		var key, user []byte
		if err := rows.Scan(&key, &user); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read quiet sessions: %w", err)
		}
		s := &runSession{key: string(key), user: string(user), hasOpen: true}
		// Its state as this batch wrote it, or as the cache has it.
		if c, ok := b.runState[s.key]; ok && c != nil {
			s.cached = c
		} else if c, ok := w.cache.take(s.key); ok {
			s.cached = c
		}
		quiet = append(quiet, s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("read quiet sessions: %w", err)
	}
	if len(quiet) == 0 {
		return 0, nil
	}
	if err := w.loadOpen(tx, b, quiet); err != nil {
		return 0, err
	}
	for _, s := range quiet {
		s.walker.Expire()
		// Swept, its last event unchanged. A session read from SQLite
		// stays out of the cache: its last chunk was not read.
		var c *cachedSession
		if s.cached != nil {
			c = &cachedSession{state: s.walker.State, swept: true, lastChunk: s.cached.lastChunk}
		}
		b.runState[s.key] = c
	}
	return len(quiet), w.writeSwept(tx, b, quiet, delta)
}

// writeSwept writes swept sessions: their runs, and their state marked
// swept, its last event unchanged.
func (w *writer) writeSwept(tx *dbsql.Tx, b *batch, sessions []*runSession, delta *runDelta) error {
	j := b.rows
	for _, s := range sessions {
		for _, o := range s.old {
			delta.add(o.Run, -1) // every open run: Expire ended them all
		}
	}
	if err := w.upsertTouched(tx, b, sessions, delta); err != nil {
		return err
	}
	j.reset()
	for _, s := range sessions {
		j.row()
		j.hexString(s.key)
	}
	if _, err := tx.Exec(`UPDATE run_sessions SET open_last = NULL, swept = 1
		WHERE session IN (SELECT unhex(value->>0) FROM jsonb_each(?))`, j.text()); err != nil {
		return fmt.Errorf("update run_sessions: %w", err)
	}
	return nil
}

// writeRunDelta writes the change of the run rollups.
func (w *writer) writeRunDelta(tx *dbsql.Tx, b *batch, d *runDelta) error {
	// The run times of a day and skill go in as two histograms: the runs
	// counted in a bucket, and those taken off one (migration 0018).
	walls := map[skillDayKey]*[2]trackskills.Histogram{}
	for k, n := range d.walls {
		if n == 0 {
			continue
		}
		dk := skillDayKey{k.day, k.skill}
		h := walls[dk]
		if h == nil {
			h = &[2]trackskills.Histogram{}
			walls[dk] = h
			if d.daily[dk] == nil {
				d.daily[dk] = &[11]int64{}
			}
		}
		if n > 0 {
			h[0].AddCount(k.bucket, uint64(n))
		} else {
			h[1].AddCount(k.bucket, uint64(-n))
		}
	}
	j := b.rows
	j.reset()
	var enc []byte
	for k, a := range d.daily {
		h := walls[k]
		if *a == ([11]int64{}) && h == nil {
			continue
		}
		j.row()
		j.ascii(b.text(k.day))
		j.hexString(k.skill)
		for _, v := range a {
			j.int(v)
		}
		for i := range 2 {
			if h == nil || h[i].Count() == 0 {
				j.null()
				continue
			}
			enc = h[i].AppendBinary(enc[:0])
			j.hexBytes(enc)
		}
	}
	if err := w.exec(tx, w.stmt.runs.upDaily, j, "skill_daily"); err != nil {
		return err
	}
	for _, t := range []struct {
		m    map[skillToolKey]*[3]int64
		stmt *dbsql.Stmt
		what string
	}{{d.tools, w.stmt.runs.upTools, "skill_daily_tools"}, {d.mcp, w.stmt.runs.upMCP, "skill_daily_mcp"}} {
		j.reset()
		for k, a := range t.m {
			if *a == ([3]int64{}) {
				continue
			}
			j.row()
			j.ascii(b.text(k.day))
			j.hexString(k.skill)
			j.hexString(k.name)
			for _, v := range a {
				j.int(v)
			}
		}
		if err := w.exec(tx, t.stmt, j, t.what); err != nil {
			return err
		}
	}
	return nil
}

// ExpireIdleRuns ends, as abandoned, the open runs of every session quiet
// for the idle timeout by the clock (d.Now), where ExpireRuns goes by a
// given time: the consumer calls it while no batch comes, so that the runs
// of a quiet server end without waiting for the next event. A session
// swept too early (a client's clock behind, events still on their way) is
// walked again when its next event comes, as after the writer's sweep. It
// does nothing on a database opened WithoutRuns.
func (d *DB) ExpireIdleRuns(ctx context.Context) error {
	if d.w.skipRuns || d.w.idleMs <= 0 {
		return nil
	}
	return d.ExpireRuns(ctx, d.Now().Add(-time.Duration(d.w.idleMs)*time.Millisecond))
}

// ExpireRuns ends, as abandoned, the open runs of every session whose last
// event came before before, as the writer's sweep does against the newest
// event of each batch.
func (d *DB) ExpireRuns(ctx context.Context, before time.Time) error {
	if d.readOnly {
		return errors.New("expire runs: database is open read-only")
	}
	d.w.cache.mu.Lock()
	defer d.w.cache.mu.Unlock()
	// The held events first: one of them may keep a session alive.
	if err := d.flushLocked(ctx); err != nil {
		return fmt.Errorf("expire runs: %w", err)
	}
	tx, err := d.conn().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("expire runs: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	b := newBatch()
	defer b.buffers()()
	delta := newRunDelta()
	for {
		n, err := d.w.sweep(tx, b, before.UnixMilli(), 1000, delta)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	if err := d.w.writeRunDelta(tx, b, delta); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("expire runs: %w", err)
	}
	d.w.cache.put(b.runState)
	return nil
}
