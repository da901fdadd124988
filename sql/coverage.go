package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"slices"

	"github.com/trackskills/trackskills"
)

// Coverage: the rollups of which source reports the tool calls (migration
// 0024), and their reads.

// sourceKey is a row of source_daily.
type sourceKey struct {
	day    Day
	source string
}

// sourceBit is the bit of source in call_sources.sources: its place in
// trackskills.Sources, or 0 for a source that is none of them.
func sourceBit(source string) int64 {
	if i := slices.Index(trackskills.Sources, source); i >= 0 {
		return 1 << i
	}
	return 0
}

// sourcesRollup upserts the batch's calls per day and source.
func (w *writer) sourcesRollup(tx *dbsql.Tx, b *batch) error {
	if len(b.sources) == 0 {
		return nil
	}
	keys := make([]sourceKey, 0, len(b.sources))
	for k := range b.sources {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y sourceKey) int {
		if x.day != y.day {
			return int(x.day - y.day)
		}
		if x.source < y.source {
			return -1
		} else if x.source > y.source {
			return 1
		}
		return 0
	})
	up := tx.Stmt(w.stmt.coverage.upDaily)
	for _, k := range keys {
		if _, err := up.Exec(b.text(k.day), k.source, b.sources[k]); err != nil {
			return fmt.Errorf("upsert source_daily: %w", err)
		}
	}
	return nil
}

// coverageStmts are the writer's statements of coverage.
type coverageStmts struct {
	upDaily, storedSource, upCall *dbsql.Stmt
}

func (s *coverageStmts) prepare(ctx context.Context, db *dbsql.DB) error {
	for _, p := range []struct {
		stmt **dbsql.Stmt
		what string
		q    string
	}{
		{&s.upDaily, "source_daily upsert", `INSERT INTO source_daily (day, source, calls) VALUES (?, ?, ?)
			ON CONFLICT (day, source) DO UPDATE SET calls = calls + excluded.calls`},
		{&s.storedSource, "stored source read", `SELECT source, timestamp FROM skill_usage_events WHERE event_id = ?`},
		{&s.upCall, "call_sources upsert", `INSERT INTO call_sources (id, day, first, sources) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET sources = sources | excluded.sources`},
	} {
		var err error
		if *p.stmt, err = db.PrepareContext(ctx, p.q); err != nil {
			return fmt.Errorf("prepare %s: %w", p.what, err)
		}
	}
	return nil
}

func (s *coverageStmts) list() []*dbsql.Stmt {
	return []*dbsql.Stmt{s.upDaily, s.storedSource, s.upCall}
}

// recordSources records, for each event of dups (events of the batch whose
// id was stored already, before the batch or earlier in it), the source
// that reported it again when that is not the source stored: the call is
// then seen by more than one.
func (w *writer) recordSources(tx *dbsql.Tx, b *batch, events []trackskills.Event, dups []int) error {
	if len(dups) == 0 {
		return nil
	}
	read, up := tx.Stmt(w.stmt.coverage.storedSource), tx.Stmt(w.stmt.coverage.upCall)
	for _, i := range dups {
		ev := &events[i]
		key := eventKey(ev.EventID)
		var first string
		var ts int64
		if err := read.QueryRow(key).Scan(&first, &ts); err != nil {
			return fmt.Errorf("read the stored source of a repeated call: %w", err)
		}
		if first == ev.Source {
			continue // a redelivery, or a retry of the same client
		}
		// The stored row's day, as source_daily counted it.
		if _, err := up.Exec(key, b.text(DayOf(ts)), first, sourceBit(first)|sourceBit(ev.Source)); err != nil {
			return fmt.Errorf("upsert call_sources: %w", err)
		}
	}
	return nil
}

// SourceCoverage is what one source reported of the tool calls of a
// window.
type SourceCoverage struct {
	Source string
	Stored int64 // calls stored from it: it reported them first
	Seen   int64 // calls it reported: Stored, and those another source had reported first
	Shared int64 // calls it reported that another source reported too
}

// Coverage returns, for every source that reported a call on the days of
// w, what it reported, by source name.
func (d *DB) Coverage(ctx context.Context, w Window) ([]SourceCoverage, error) {
	from, to := w.FirstDay().String(), w.LastDay().String()
	by := map[string]*SourceCoverage{}
	get := func(s string) *SourceCoverage {
		c := by[s]
		if c == nil {
			c = &SourceCoverage{Source: s}
			by[s] = c
		}
		return c
	}
	rows, err := d.conn().QueryContext(ctx, `SELECT source, SUM(calls) FROM source_daily WHERE day >= ? AND day <= ? GROUP BY source`, from, to)
	if err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("coverage: %w", err)
		}
		c := get(s)
		c.Stored += n
		c.Seen += n
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	for i, s := range trackskills.Sources {
		var shared, later int64
		if err := d.conn().QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(first != ?), 0) FROM call_sources
			WHERE day >= ? AND day <= ? AND sources & ? != 0`, s, from, to, int64(1)<<i).Scan(&shared, &later); err != nil {
			return nil, fmt.Errorf("coverage: %w", err)
		}
		if shared > 0 {
			c := get(s)
			c.Shared, c.Seen = shared, c.Seen+later
		}
	}
	out := make([]SourceCoverage, 0, len(by))
	for _, c := range by {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(x, y SourceCoverage) int {
		if x.Seen != y.Seen {
			return int(y.Seen - x.Seen)
		}
		if x.Source < y.Source {
			return -1
		}
		return 1
	})
	return out, nil
}

// SessionsWithout counts the sessions last active in w's window whose
// events came from source with and none from source without: with otlp
// and hook, the sessions telemetry saw and the hook did not (a missing
// hook install). It reads run_sessions (sources, migration 0026), by its
// last_ts index.
func (d *DB) SessionsWithout(ctx context.Context, w Window, with, without string) (int64, error) {
	var n int64
	err := d.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM run_sessions
		WHERE last_ts >= ? AND last_ts < ? AND sources & ? != 0 AND sources & ? = 0`,
		w.From, w.To, sourceBit(with), sourceBit(without)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sessions without %s: %w", without, err)
	}
	return n, nil
}

// RedactedName is a placeholder Claude Code sent for a name, and how often
// it came in the window.
type RedactedName struct {
	Name, Where string // Where: tool_calls or model_requests
	Count       int64
}

// RedactedNames counts the placeholders among the window's tool names and
// the skills of its model requests.
func (d *DB) RedactedNames(ctx context.Context, w Window, names []string) ([]RedactedName, error) {
	var out []RedactedName
	from, to := w.FirstDay().String(), w.LastDay().String()
	for _, name := range names {
		var calls, reqs int64
		if err := d.conn().QueryRowContext(ctx, `SELECT COALESCE(SUM(invocations), 0) FROM tool_daily WHERE day >= ? AND day <= ? AND tool_name = ?`,
			from, to, name).Scan(&calls); err != nil {
			return nil, fmt.Errorf("redacted names: %w", err)
		}
		if err := d.conn().QueryRowContext(ctx, `SELECT COALESCE(SUM(requests), 0) FROM cost_daily WHERE day >= ? AND day <= ? AND skill = ?`,
			from, to, name).Scan(&reqs); err != nil {
			return nil, fmt.Errorf("redacted names: %w", err)
		}
		if calls > 0 {
			out = append(out, RedactedName{Name: name, Where: "tool_calls", Count: calls})
		}
		if reqs > 0 {
			out = append(out, RedactedName{Name: name, Where: "model_requests", Count: reqs})
		}
	}
	return out, nil
}
