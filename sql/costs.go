package sql

import (
	"cmp"
	"context"
	dbsql "database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/trackskills/trackskills"
)

// The cost ledger: the rollup of api_request events into api_requests and
// cost_daily (migration 0023), and its reads.

// costKey is a row of cost_daily.
type costKey struct {
	day                             Day
	skill, plugin, mcpServer, model string
}

// costAgg is the sum of a cost_daily row's requests.
type costAgg struct {
	requests, failed, cost, input, output, cacheRead, cacheCreation int64
}

func (a *costAgg) add(m *trackskills.APIMeta, failed bool) {
	a.requests++
	if failed {
		a.failed++
	}
	a.cost += m.CostMicros
	a.input += m.InputTokens
	a.output += m.OutputTokens
	a.cacheRead += m.CacheReadTokens
	a.cacheCreation += m.CacheCreationTokens
}

// costStmts are the writer's statements of the cost ledger.
type costStmts struct {
	insert, upDaily *dbsql.Stmt
}

func (s *costStmts) prepare(ctx context.Context, db *dbsql.DB) error {
	var err error
	if s.insert, err = db.PrepareContext(ctx, `INSERT INTO api_requests (id, ts, received_at, user_id_hash, session_hash,
			source, model, skill, plugin, agent, mcp_server, failed, cost_micros, input_tokens, output_tokens,
			cache_read_tokens, cache_creation_tokens)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("prepare api_requests insert: %w", err)
	}
	if s.upDaily, err = db.PrepareContext(ctx, `INSERT INTO cost_daily (day, skill, plugin, mcp_server, model, requests, failed,
			cost_micros, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (day, skill, plugin, mcp_server, model) DO UPDATE SET requests = requests + excluded.requests,
			failed = failed + excluded.failed, cost_micros = cost_micros + excluded.cost_micros,
			input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
			cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
			cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens`); err != nil {
		return fmt.Errorf("prepare cost_daily upsert: %w", err)
	}
	return nil
}

func (s *costStmts) list() []*dbsql.Stmt { return []*dbsql.Stmt{s.insert, s.upDaily} }

// costs rolls the batch's api_request events into the ledger: a request
// whose id is stored already (a redelivery, or a second source) adds
// nothing.
func (w *writer) costs(tx *dbsql.Tx, b *batch) error {
	var days map[costKey]*costAgg
	insert := tx.Stmt(w.stmt.costs.insert)
	for _, i := range b.marks {
		ev := &b.events[i]
		if ev.Kind != trackskills.KindAPIRequest {
			continue
		}
		var m trackskills.APIMeta
		_ = json.Unmarshal(ev.Metadata, &m) // ingest wrote it; a stranger's counts as a request of nothing
		if m.Model == "" {
			m.Model = ev.ToolName
		}
		failed := ev.Status != trackskills.StatusSuccess
		var session any
		if ev.SessionHash != "" {
			session = hashKey(ev.SessionHash)
		}
		res, err := insert.Exec(eventKey(ev.EventID), ev.Timestamp, ev.ReceivedAt, hashKey(ev.UserHash), session, ev.Source,
			m.Model, m.Skill, m.Plugin, m.Agent, m.MCPServer, failed, m.CostMicros, m.InputTokens, m.OutputTokens,
			m.CacheReadTokens, m.CacheCreationTokens)
		if err != nil {
			return fmt.Errorf("insert api_requests: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 { // sqlite3 always returns a count
			continue
		}
		if days == nil {
			days = map[costKey]*costAgg{}
		}
		k := costKey{DayOf(ev.Timestamp), m.Skill, m.Plugin, m.MCPServer, m.Model}
		a := days[k]
		if a == nil {
			a = &costAgg{}
			days[k] = a
		}
		a.add(&m, failed)
	}
	if len(days) == 0 {
		return nil
	}
	keys := make([]costKey, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	// In key order, so that the same events write the same way.
	slices.SortFunc(keys, func(x, y costKey) int {
		return cmp.Or(cmp.Compare(x.day, y.day), strings.Compare(x.skill, y.skill), strings.Compare(x.plugin, y.plugin),
			strings.Compare(x.mcpServer, y.mcpServer), strings.Compare(x.model, y.model))
	})
	up := tx.Stmt(w.stmt.costs.upDaily)
	for _, k := range keys {
		a := days[k]
		if _, err := up.Exec(k.day.String(), k.skill, k.plugin, k.mcpServer, k.model, a.requests, a.failed, a.cost,
			a.input, a.output, a.cacheRead, a.cacheCreation); err != nil {
			return fmt.Errorf("upsert cost_daily: %w", err)
		}
	}
	return nil
}

// CostRow is one row of cost_daily: the requests of a day attributed to
// one skill, plugin, MCP server and model ("" where none is).
type CostRow struct {
	Day                                  Day
	Skill, Plugin, MCPServer, Model      string
	Requests, Failed, CostMicros         int64
	InputTokens, OutputTokens            int64
	CacheReadTokens, CacheCreationTokens int64
}

// Costs returns the rows of cost_daily on the days of w, in day order.
// The ledger is kept by day, so a window of hours reads the whole days it
// touches.
func (d *DB) Costs(ctx context.Context, w Window) ([]CostRow, error) {
	rows, err := d.conn().QueryContext(ctx, `SELECT day, skill, plugin, mcp_server, model, requests, failed, cost_micros,
			input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens
		FROM cost_daily WHERE day >= ? AND day <= ? ORDER BY day, skill, plugin, mcp_server, model`,
		w.FirstDay().String(), w.LastDay().String())
	if err != nil {
		return nil, fmt.Errorf("costs: %w", err)
	}
	defer rows.Close()
	out := []CostRow{}
	for rows.Next() {
		var r CostRow
		var day string
		if err := rows.Scan(&day, &r.Skill, &r.Plugin, &r.MCPServer, &r.Model, &r.Requests, &r.Failed, &r.CostMicros,
			&r.InputTokens, &r.OutputTokens, &r.CacheReadTokens, &r.CacheCreationTokens); err != nil {
			return nil, fmt.Errorf("costs: %w", err)
		}
		if r.Day, err = ParseDay(day); err != nil {
			return nil, fmt.Errorf("costs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("costs: %w", err)
	}
	return out, nil
}
