package sql

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/trackskills/trackskills"
)

// The skill inventory: the rollup of skill_known and mcp_known events into
// known_skills and known_mcp_servers (migration 0016), and its reads, with
// the uses the portfolio sets against it.

// inventoryMeta is the metadata of an inventory event (ingest.SkillMeta,
// ingest.MCPMeta, trackskills.PluginMeta).
type inventoryMeta struct {
	Description string `json:"description"`
	SizeBytes   int64  `json:"size_bytes"`
	Source      string `json:"source"`
	Plugin      string `json:"plugin"`
	trackskills.PluginMeta
}

// knownAgg is one name of the inventory events of a batch: the span of its
// scans, the details of the latest, and its users (stored form, hashKey).
type knownAgg struct {
	first, last int64
	meta        inventoryMeta
	users       map[string]struct{}
}

func (a *knownAgg) add(ev *trackskills.Event) {
	if a.users == nil {
		a.first, a.last, a.users = ev.Timestamp, ev.Timestamp, map[string]struct{}{}
		a.meta = parseInventoryMeta(ev.Metadata)
	} else {
		a.first = min(a.first, ev.Timestamp)
		if ev.Timestamp >= a.last { // the latest scan's details; a tie goes to the later event
			a.last, a.meta = ev.Timestamp, parseInventoryMeta(ev.Metadata)
		}
	}
	a.users[string(hashKey(ev.UserHash))] = struct{}{}
}

func parseInventoryMeta(raw json.RawMessage) inventoryMeta {
	var m inventoryMeta
	_ = json.Unmarshal(raw, &m) // ingest wrote it; a stranger's keeps empty details
	return m
}

// inventory rolls the batch's skill_known, mcp_known and plugin_known
// events into the inventory tables.
func (w *writer) inventory(tx *dbsql.Tx, b *batch) error {
	skills, servers, plugins := map[string]*knownAgg{}, map[string]*knownAgg{}, map[string]*knownAgg{}
	for _, i := range b.marks {
		ev := &b.events[i]
		var m map[string]*knownAgg
		switch ev.Kind {
		case trackskills.KindSkillKnown:
			m = skills
		case trackskills.KindMCPKnown:
			m = servers
		case trackskills.KindPluginKnown:
			m = plugins
		default:
			continue
		}
		a := m[ev.ToolName]
		if a == nil {
			a = &knownAgg{}
			m[ev.ToolName] = a
		}
		a.add(ev)
	}
	for _, k := range []struct {
		t    knownTable
		aggs map[string]*knownAgg
	}{{knownSkills, skills}, {knownMCPServers, servers}, {knownPlugins, plugins}} {
		if err := k.t.upsert(tx, k.aggs); err != nil {
			return err
		}
	}
	return nil
}

// knownTable is a table of the inventory: its users' table, and the
// columns of the details the latest scan (or load) gives, with their values.
type knownTable struct {
	table, users string
	details      []string
	values       func(m *inventoryMeta) []any
}

// The inventory's tables.
var (
	knownSkills = knownTable{"known_skills", "known_skill_users", []string{"description", "size_bytes", "source", "plugin"},
		func(m *inventoryMeta) []any { return []any{m.Description, m.SizeBytes, m.Source, m.Plugin} }}
	knownMCPServers = knownTable{"known_mcp_servers", "known_mcp_server_users", []string{"source"},
		func(m *inventoryMeta) []any { return []any{m.Source} }}
	knownPlugins = knownTable{"known_plugins", "known_plugin_users",
		[]string{"scope", "enabled_via", "skills", "commands", "has_hooks", "has_mcp"},
		func(m *inventoryMeta) []any {
			return []any{m.Scope, m.EnabledVia, m.Skills, m.Commands, m.HasHooks, m.HasMCP}
		}}
)

// upsert writes the names of aggs, one row at a time (inventory events are
// few): first_seen only goes down, the details and last_seen only move to
// a later scan, and a user counts once (the users' table).
func (k knownTable) upsert(tx *dbsql.Tx, aggs map[string]*knownAgg) error {
	if len(aggs) == 0 {
		return nil
	}
	// The table and column names are constants of this file.
	set := make([]string, 0, len(k.details))
	for _, c := range k.details {
		set = append(set, fmt.Sprintf("%s = CASE WHEN excluded.last_seen > last_seen THEN excluded.%s ELSE %s END", c, c, c))
	}
	q := `INSERT INTO ` + k.table + ` (name, first_seen, last_seen, ` + strings.Join(k.details, ", ") + `, users)
		VALUES (?, ?, ?` + strings.Repeat(", ?", len(k.details)) + `, ?)
		ON CONFLICT (name) DO UPDATE SET
			first_seen = MIN(first_seen, excluded.first_seen),
			` + strings.Join(set, ",\n\t\t\t") + `,
			last_seen = MAX(last_seen, excluded.last_seen),
			users = users + excluded.users`
	for _, name := range sortedKeys(aggs) {
		a := aggs[name]
		n, err := newUsers(tx, `INSERT INTO `+k.users+` (name, user_id_hash) VALUES (?, ?) ON CONFLICT DO NOTHING`, name, a.users)
		if err != nil {
			return fmt.Errorf("insert %s: %w", k.users, err)
		}
		args := append(append([]any{name, a.first, a.last}, k.values(&a.meta)...), n)
		if _, err := tx.Exec(q, args...); err != nil {
			return fmt.Errorf("upsert %s: %w", k.table, err)
		}
	}
	return nil
}

// newUsers inserts the users of name with query and returns how many were
// new.
func newUsers(tx *dbsql.Tx, query, name string, users map[string]struct{}) (int64, error) {
	var n int64
	for u := range users {
		r, err := tx.Exec(query, name, []byte(u))
		if err != nil {
			return 0, err
		}
		got, _ := r.RowsAffected() // sqlite3 always returns a count
		n += got
	}
	return n, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// KnownSkill is a skill that scans registered.
type KnownSkill struct {
	Name                string
	FirstSeen, LastSeen int64 // Unix ms of the first and the latest scan that registered it
	Description         string
	SizeBytes           int64
	Source, Plugin      string
	Users               int64 // distinct users that registered it
}

// KnownSkills returns every skill that scans registered, by name.
func (d *DB) KnownSkills(ctx context.Context) ([]KnownSkill, error) {
	rows, err := d.conn().QueryContext(ctx, `SELECT name, first_seen, last_seen, description, size_bytes, source, plugin, users
		FROM known_skills ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("known skills: %w", err)
	}
	defer rows.Close()
	out := []KnownSkill{}
	for rows.Next() {
		var k KnownSkill
		if err := rows.Scan(&k.Name, &k.FirstSeen, &k.LastSeen, &k.Description, &k.SizeBytes, &k.Source, &k.Plugin, &k.Users); err != nil {
			return nil, fmt.Errorf("known skills: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("known skills: %w", err)
	}
	return out, nil
}

// KnownMCPServer is an MCP server that scans found configured.
type KnownMCPServer struct {
	Name                string
	FirstSeen, LastSeen int64
	Source              string
	Users               int64
}

// KnownMCPServers returns every MCP server that scans registered, by name.
func (d *DB) KnownMCPServers(ctx context.Context) ([]KnownMCPServer, error) {
	rows, err := d.conn().QueryContext(ctx, `SELECT name, first_seen, last_seen, source, users FROM known_mcp_servers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("known mcp servers: %w", err)
	}
	defer rows.Close()
	out := []KnownMCPServer{}
	for rows.Next() {
		var k KnownMCPServer
		if err := rows.Scan(&k.Name, &k.FirstSeen, &k.LastSeen, &k.Source, &k.Users); err != nil {
			return nil, fmt.Errorf("known mcp servers: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("known mcp servers: %w", err)
	}
	return out, nil
}

// KnownPlugin is a plugin that Claude Code loaded.
type KnownPlugin struct {
	Name                string
	FirstSeen, LastSeen int64
	trackskills.PluginMeta
	Users int64
}

// KnownPlugins returns every plugin that telemetry reported loaded, by
// name.
func (d *DB) KnownPlugins(ctx context.Context) ([]KnownPlugin, error) {
	rows, err := d.conn().QueryContext(ctx, `SELECT name, first_seen, last_seen, scope, enabled_via, skills, commands, has_hooks,
		has_mcp, users FROM known_plugins ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("known plugins: %w", err)
	}
	defer rows.Close()
	out := []KnownPlugin{}
	for rows.Next() {
		var k KnownPlugin
		if err := rows.Scan(&k.Name, &k.FirstSeen, &k.LastSeen, &k.Scope, &k.EnabledVia, &k.Skills, &k.Commands, &k.HasHooks,
			&k.HasMCP, &k.Users); err != nil {
			return nil, fmt.Errorf("known plugins: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("known plugins: %w", err)
	}
	return out, nil
}

// PluginRequests returns the model requests attributed to each plugin in
// a window (the cost ledger), by plugin name.
func (d *DB) PluginRequests(ctx context.Context, w Window) (map[string]int64, error) {
	rows, err := d.conn().QueryContext(ctx, `SELECT plugin, SUM(requests) FROM cost_daily WHERE day >= ? AND day <= ? AND plugin != ''
		GROUP BY plugin`, w.FirstDay().String(), w.LastDay().String())
	if err != nil {
		return nil, fmt.Errorf("plugin requests: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("plugin requests: %w", err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("plugin requests: %w", err)
	}
	return out, nil
}

// Use is how much a skill (or server) was used in a window, and how many
// of those uses failed (error or timeout).
type Use struct {
	Uses, Failures int64
}

// SkillUse returns the use of each skill used in a window, by skill name.
// It is the one definition of a skill's use: its invocations (the tool
// calls of category "skill", a Skill call or a typed /skill, by that tool
// name, from the tool rollups: each starts a run when it has a session),
// and as failures its failed runs (a run that ended on an API error, or a
// skill that did not load) or, where more, its failed invocations (from
// clients that send no session, so no run).
func (d *DB) SkillUse(ctx context.Context, w Window) (map[string]Use, error) {
	cond, args := w.where()
	// The table name comes from Window.table, a constant.
	rows, err := d.conn().QueryContext(ctx, `SELECT tool_name, SUM(invocations), SUM(errors + timeouts)
		FROM `+w.table()+` WHERE `+cond+` AND tool_category = 'skill' GROUP BY tool_name`, args...)
	if err != nil {
		return nil, fmt.Errorf("skill use: %w", err)
	}
	defer rows.Close()
	out := map[string]Use{}
	for rows.Next() {
		var name string
		var u Use
		if err := rows.Scan(&name, &u.Uses, &u.Failures); err != nil {
			return nil, fmt.Errorf("skill use: %w", err)
		}
		out[name] = u
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("skill use: %w", err)
	}
	stats, err := d.SkillCounts(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("skill use: %w", err)
	}
	for _, st := range stats {
		u := out[st.Skill]
		u.Uses = max(u.Uses, st.Runs)
		u.Failures = max(u.Failures, st.States["failed"])
		out[st.Skill] = u
	}
	return out, nil
}

// MCPServerCalls returns the calls of each MCP server called in a window,
// by server name. It is the one definition of a server's calls: today the
// tool calls named mcp__<server>__<tool> in the tool rollups.
func (d *DB) MCPServerCalls(ctx context.Context, w Window) (map[string]int64, error) {
	cond, args := w.where()
	// "mcp__" <= name < "mcp_`" is the prefix as a key range ('`' follows
	// '_'), which the tool name column of the rollups' keys can serve.
	rows, err := d.conn().QueryContext(ctx, `SELECT tool_name, SUM(invocations) FROM `+w.table()+`
		WHERE `+cond+` AND tool_name >= 'mcp__' AND tool_name < 'mcp_`+"`"+`' GROUP BY tool_name`, args...)
	if err != nil {
		return nil, fmt.Errorf("mcp server calls: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("mcp server calls: %w", err)
		}
		if server, _ := trackskills.SplitMCP(name); server != "" && strings.HasPrefix(name, "mcp__") {
			out[server] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mcp server calls: %w", err)
	}
	return out, nil
}
