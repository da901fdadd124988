package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"

	"github.com/trackskills/trackskills"
)

// MCP servers as a dimension (migration 0015): a tool call named
// mcp__<server>__<tool> keeps its server and tool in the raw row
// (mcp_server, mcp_tool) and in rollups of its own, per hour or day, server
// and tool (mcp_hourly, mcp_daily), its failures per status and error type
// (mcp_daily_errors) and the users of each server, kept as those of each
// tool (mcp_user_daily, mcp_user_last_seen, mcp_last_seen_counts,
// mcp_daily_users).

// mcpOf returns the MCP server and tool of a tool call: those ingest split
// off its name, or, for an event without them (an older stream message),
// the same split done here. Both are empty for a tool that is no MCP tool.
func mcpOf(ev *trackskills.Event) (server, tool string) {
	if ev.MCPServer != "" {
		return ev.MCPServer, ev.MCPTool
	}
	return trackskills.SplitMCP(ev.ToolName)
}

// mcpServerOf is the SQL function mcp_server_of(tool_name): the server of
// an MCP tool name, NULL for any other name.
func mcpServerOf(name any) any {
	server, _ := trackskills.SplitMCP(textOf(name))
	if server == "" {
		return nil
	}
	return server
}

// mcpToolOf is the SQL function mcp_tool_of(tool_name): the tool of an MCP
// tool name, NULL for any other name or one that names no tool.
func mcpToolOf(name any) any {
	_, tool := trackskills.SplitMCP(textOf(name))
	if tool == "" {
		return nil
	}
	return tool
}

// textOf reads a TEXT argument; anything else is "".
func textOf(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	return ""
}

// mcpErrorKey names a row of mcp_daily_errors.
type mcpErrorKey struct {
	day                             Day
	server, tool, status, errorType string
}

// mcpBatch groups the MCP calls of one batch. Its keys reuse those of the
// tools: in toolKey, tool is the server and category the MCP tool; in
// toolUserKey, tool is the server.
type mcpBatch struct {
	hourly, daily map[toolKey]*toolAgg
	failures      map[mcpErrorKey]int64
	users         map[toolUserKey]struct{}
}

// addMCP counts an inserted MCP call of server and tool on day; user is its
// stored user hash.
func (b *batch) addMCP(ev *trackskills.Event, day Day, server, tool, user string) {
	m := b.mcp
	if m == nil {
		m = &mcpBatch{hourly: map[toolKey]*toolAgg{}, daily: map[toolKey]*toolAgg{},
			failures: map[mcpErrorKey]int64{}, users: map[toolUserKey]struct{}{}}
		b.mcp = m
	}
	addTool(m.hourly, toolKey{floorDiv(ev.Timestamp, hourMs) * hourMs, server, tool}, ev)
	addTool(m.daily, toolKey{int64(day), server, tool}, ev)
	if ev.Status != trackskills.StatusSuccess {
		m.failures[mcpErrorKey{day, server, tool, ev.Status, ev.ErrorType}]++
	}
	m.users[toolUserKey{day, server, user}] = struct{}{}
}

// mcpStmts are the writer's statements of the MCP rollups.
type mcpStmts struct {
	upHourly, upDaily, upErr *dbsql.Stmt
	users                    userTables // mcp_user_daily, mcp_user_last_seen, mcp_last_seen_counts, mcp_daily_users
}

// prepare prepares the MCP rollups' statements on db; they read their rows
// from one JSON argument, as the tool rollups do (jsonRows).
func (s *mcpStmts) prepare(ctx context.Context, db *dbsql.DB) error {
	var err error
	for _, p := range []struct {
		stmt  **dbsql.Stmt
		table string
		key   string
	}{{&s.upHourly, "mcp_hourly", "hour"}, {&s.upDaily, "mcp_daily", "day"}} {
		// The table and key names are constants of this function.
		*p.stmt, err = db.PrepareContext(ctx, `INSERT INTO `+p.table+` (`+p.key+`, mcp_server, mcp_tool,
			invocations, successes, errors, timeouts, duration_count, duration_sum, duration_max, latency_hist)
		SELECT value->>0, CAST(unhex(value->>1) AS TEXT), CAST(unhex(value->>2) AS TEXT), value->>3, value->>4,
			value->>5, value->>6, value->>7, value->>8, value->>9, unhex(value->>10)
		FROM jsonb_each(?) WHERE true
		ON CONFLICT (`+p.key+`, mcp_server, mcp_tool) DO UPDATE SET
			invocations = invocations + excluded.invocations,
			successes = successes + excluded.successes,
			errors = errors + excluded.errors,
			timeouts = timeouts + excluded.timeouts,
			duration_count = duration_count + excluded.duration_count,
			duration_sum = duration_sum + excluded.duration_sum,
			duration_max = MAX(COALESCE(duration_max, excluded.duration_max), COALESCE(excluded.duration_max, duration_max)),
			latency_hist = hist_merge(latency_hist, excluded.latency_hist)`)
		if err != nil {
			return fmt.Errorf("prepare %s upsert: %w", p.table, err)
		}
	}
	s.upErr, err = db.PrepareContext(ctx, `INSERT INTO mcp_daily_errors (day, mcp_server, mcp_tool, status, error_type, failures)
		SELECT value->>0, CAST(unhex(value->>1) AS TEXT), CAST(unhex(value->>2) AS TEXT), value->>3,
			CAST(unhex(value->>4) AS TEXT), value->>5
		FROM jsonb_each(?) WHERE true
		ON CONFLICT (day, mcp_server, mcp_tool, status, error_type) DO UPDATE SET failures = failures + excluded.failures`)
	if err != nil {
		return fmt.Errorf("prepare mcp_daily_errors upsert: %w", err)
	}
	// The users of each server, as those of each tool (keyUsers).
	if s.users, err = prepareUserTables(ctx, db, userTableNames("mcp"), "mcp_server"); err != nil {
		return err
	}
	return nil
}

// list returns every statement, for closing.
func (s *mcpStmts) list() []*dbsql.Stmt {
	return append([]*dbsql.Stmt{s.upHourly, s.upDaily, s.upErr}, s.users.list()...)
}

// mcp writes the MCP rollups of b: mcp_hourly, mcp_daily, mcp_daily_errors
// and the users of each server (mcp_user_daily, mcp_user_last_seen,
// mcp_last_seen_counts, mcp_daily_users). A batch without an MCP call
// costs nothing.
func (w *writer) mcp(tx *dbsql.Tx, b *batch) error {
	m := b.mcp
	if m == nil {
		return nil
	}
	w.toolRows(b.rows, m.hourly, func(period int64) { b.rows.int(period) })
	if err := w.exec(tx, w.stmt.mcp.upHourly, b.rows, "mcp_hourly"); err != nil {
		return err
	}
	w.toolRows(b.rows, m.daily, func(period int64) { b.rows.ascii(b.text(Day(period))) })
	if err := w.exec(tx, w.stmt.mcp.upDaily, b.rows, "mcp_daily"); err != nil {
		return err
	}
	j := b.rows
	j.reset()
	for k, n := range m.failures {
		j.row()
		j.ascii(b.text(k.day))
		j.hexString(k.server)
		j.hexString(k.tool)
		j.ascii(k.status) // a status of trackskills.Statuses: no escaping needed
		j.hexString(k.errorType)
		j.int(n)
	}
	if err := w.exec(tx, w.stmt.mcp.upErr, b.rows, "mcp_daily_errors"); err != nil {
		return err
	}
	return w.keyUsers(tx, b, m.users, &w.stmt.mcp.users)
}

// mcpTable is the MCP rollup a window reads.
func mcpTable(w Window) string {
	if w.Hourly {
		return "mcp_hourly"
	}
	return "mcp_daily"
}

// MCPToolStats are the figures of one tool of an MCP server in a window;
// ToolStats.ToolName is the MCP tool ("" for calls that named none) and
// ToolStats.Users is not set.
type MCPToolStats struct {
	Server string
	ToolStats
}

// MCPTools returns the figures of every tool of every MCP server called in
// a window (of one server when server is set), by server, then most
// called first (ties by tool).
func (d *DB) MCPTools(ctx context.Context, w Window, server string) ([]MCPToolStats, error) {
	cond, args := w.where()
	if server != "" {
		cond += ` AND mcp_server = ?`
		args = append(args, server)
	}
	// The table name comes from mcpTable, a constant.
	rows, err := d.conn().QueryContext(ctx, `SELECT mcp_server, mcp_tool, `+statsColumns+` FROM `+mcpTable(w)+`
		WHERE `+cond+` GROUP BY mcp_server, mcp_tool ORDER BY mcp_server, 3 DESC, mcp_tool`, args...)
	if err != nil {
		return nil, fmt.Errorf("mcp tools: %w", err)
	}
	defer rows.Close()
	out := []MCPToolStats{}
	for rows.Next() {
		var st MCPToolStats
		if err := scanStats(rows, &st.ToolStats, &st.Server, &st.ToolName); err != nil {
			return nil, fmt.Errorf("mcp tools: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mcp tools: %w", err)
	}
	return out, nil
}

// MCPUsers returns the distinct users of each MCP server (of one when
// server is set) over the UTC days [first, last]; a server without users
// there is absent. When no user was seen after last (every window that
// ends now), they are the users last seen on or after first: a sum of a
// few counts per server instead of a DISTINCT over every user-day.
func (d *DB) MCPUsers(ctx context.Context, first, last Day, server string) (map[string]int64, error) {
	return d.keyUserCounts(ctx, userTableNames("mcp"), "mcp_server", first, last, server)
}

// keyUserCounts returns the distinct users of each key (of one when only
// is set) over the UTC days [first, last], from the user tables names (in
// the order of userTables.names) keyed by the column key; a key without
// users there is absent. When no user was seen after last (every window
// that ends now), they are the users last seen on or after first: a sum of
// a few counts per key instead of a DISTINCT over every user-day. names
// and key are constants of the callers.
func (d *DB) keyUserCounts(ctx context.Context, names [4]string, key string, first, last Day, only string) (map[string]int64, error) {
	var newest string
	if err := d.conn().QueryRowContext(ctx, `SELECT COALESCE((SELECT day FROM `+names[2]+`
		WHERE users > 0 ORDER BY day DESC LIMIT 1), '')`).Scan(&newest); err != nil {
		return nil, fmt.Errorf("%s: %w", names[0], err)
	}
	q, args := `SELECT `+key+`, COUNT(DISTINCT user_id_hash) FROM `+names[0]+` WHERE day >= ? AND day <= ?`,
		[]any{int64(first), int64(last)}
	if last.String() >= newest { // text days compare as the days they name
		q, args = `SELECT `+key+`, SUM(users) FROM `+names[2]+` WHERE day >= ?`, []any{first.String()}
	}
	if only != "" {
		q += ` AND ` + key + ` = ?`
		args = append(args, only)
	}
	rows, err := d.conn().QueryContext(ctx, q+` GROUP BY `+key, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", names[0], err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", names[0], err)
		}
		if n > 0 {
			out[s] = n
		}
	}
	return out, rows.Err()
}

// MCPDailyUsers returns the users of one MCP server on each UTC day of
// [first, last] that had any.
func (d *DB) MCPDailyUsers(ctx context.Context, first, last Day, server string) (map[Day]int64, error) {
	rows, err := d.conn().QueryContext(ctx, `SELECT day, users FROM mcp_daily_users
		WHERE day >= ? AND day <= ? AND mcp_server = ? AND users > 0`, first.String(), last.String(), server)
	if err != nil {
		return nil, fmt.Errorf("mcp daily users: %w", err)
	}
	defer rows.Close()
	out := map[Day]int64{}
	var text string
	for rows.Next() {
		var n int64
		if err := rows.Scan(&text, &n); err != nil {
			return nil, fmt.Errorf("mcp daily users: %w", err)
		}
		day, err := ParseDay(text)
		if err != nil {
			return nil, fmt.Errorf("mcp daily users: %w", err)
		}
		out[day] = n
	}
	return out, rows.Err()
}

// MCPErrorCount is the failures of one status (error or timeout) and error
// type ("" for none) of an MCP server in a window.
type MCPErrorCount struct {
	Server    string
	Status    string
	ErrorType string
	Count     int64
}

// MCPErrorTypes returns the failures of every MCP server (of one when
// server is set) in a window per status and error type, by server, then
// most first (ties by status and type). Day windows read mcp_daily_errors;
// hourly ones the raw failures of every hour the window touches, as the
// hourly rollups beside them count.
func (d *DB) MCPErrorTypes(ctx context.Context, w Window, server string) ([]MCPErrorCount, error) {
	var q string
	var args []any
	if w.Hourly {
		q = `SELECT mcp_server, status, COALESCE(error_type, ''), COUNT(*) FROM skill_usage_events
			WHERE status <> 'success' AND timestamp >= ? AND timestamp < ? AND mcp_server IS NOT NULL`
		args = []any{floorDiv(w.From, hourMs) * hourMs, (floorDiv(w.To-1, hourMs) + 1) * hourMs}
	} else {
		q = `SELECT mcp_server, status, error_type, SUM(failures) FROM mcp_daily_errors WHERE day >= ? AND day <= ?`
		args = []any{w.FirstDay().String(), w.LastDay().String()}
	}
	if server != "" {
		q += ` AND mcp_server = ?`
		args = append(args, server)
	}
	rows, err := d.conn().QueryContext(ctx, q+` GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2, 3`, args...)
	if err != nil {
		return nil, fmt.Errorf("mcp error types: %w", err)
	}
	defer rows.Close()
	out := []MCPErrorCount{}
	for rows.Next() {
		var c MCPErrorCount
		if err := rows.Scan(&c.Server, &c.Status, &c.ErrorType, &c.Count); err != nil {
			return nil, fmt.Errorf("mcp error types: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mcp error types: %w", err)
	}
	return out, nil
}

// MCPDaily returns the non-empty UTC days of one MCP server's calls in a
// window, oldest first. A day window reads mcp_daily; an hourly one the
// hours of mcp_hourly grouped by day, so that its ends are kept to the
// hour.
func (d *DB) MCPDaily(ctx context.Context, w Window, server string) ([]Point, error) {
	expr := `CAST(strftime('%s', day) AS INTEGER) * 1000`
	if w.Hourly {
		expr = `(hour / 86400000) * 86400000`
	}
	cond, args := w.where()
	// expr and the table are constants chosen above.
	rows, err := d.conn().QueryContext(ctx, `SELECT `+expr+`, COALESCE(SUM(invocations), 0), COALESCE(SUM(successes), 0),
		COALESCE(SUM(errors), 0), COALESCE(SUM(timeouts), 0), hist_sum(latency_hist)
		FROM `+mcpTable(w)+` WHERE `+cond+` AND mcp_server = ? GROUP BY 1 ORDER BY 1`, append(args, server)...)
	if err != nil {
		return nil, fmt.Errorf("mcp daily: %w", err)
	}
	defer rows.Close()
	out := []Point{}
	for rows.Next() {
		var p Point
		var hist []byte
		if err := rows.Scan(&p.Start, &p.Invocations, &p.Successes, &p.Errors, &p.Timeouts, &hist); err != nil {
			return nil, fmt.Errorf("mcp daily: %w", err)
		}
		if err := trackskills.DecodeHistogram(hist, &p.Latency); err != nil {
			return nil, fmt.Errorf("mcp daily: %w", err)
		}
		p.Tool = server
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mcp daily: %w", err)
	}
	return out, nil
}
