package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"

	"github.com/trackskills/trackskills"
)

// DeleteEventsBefore deletes raw events (and dead letters) received before
// cutoff (Unix ms), in transactions of at most chunk rows each, so that
// the consumer's batches, which share the single writer connection, never
// wait for more than one chunk. It returns the number of events deleted.
//
// It goes by received_at, the stream's clock: the stream keeps a message
// for its max age after it was published, and an event may be sent up to
// 7 days after it happened. Deleting by the event's own time could drop
// the row of a message still in the stream, whose redelivery would then be
// stored and counted again.
func (d *DB) DeleteEventsBefore(ctx context.Context, cutoff int64, chunk int) (int64, error) {
	if d.readOnly {
		return 0, errors.New("delete old events: database is open read-only")
	}
	if chunk < 1 {
		chunk = 5000
	}
	// The held events' rollups first, while their raw rows are there.
	if err := d.Flush(ctx); err != nil {
		return 0, fmt.Errorf("delete old events: %w", err)
	}
	// First by row id: rows are numbered in commit order, which follows
	// the order ingest received them in, so the rows received before the
	// cutoff are the lowest, up to a bound found by halving. Each chunk
	// finds its rows at the start of the table. Walking the timestamp
	// index instead would visit, on every chunk, each row that happened
	// long ago but was received recently (an imported history) and skip
	// it again.
	bound, err := d.receivedBefore(ctx, cutoff)
	if err != nil {
		return 0, fmt.Errorf("delete old events: %w", err)
	}
	total, err := d.deleteChunks(ctx, chunk, `DELETE FROM skill_usage_events WHERE id IN (
		SELECT id FROM skill_usage_events WHERE id <= ? AND received_at < ? AND timestamp < ? ORDER BY id LIMIT ?)`,
		bound, cutoff, cutoff+trackskills.MaxFuture.Milliseconds(), chunk)
	if err != nil {
		return total, err
	}
	// Then whatever a commit out of receipt order left above the bound,
	// by the timestamp index: an event's time is at most MaxFuture after
	// it was received. Its one pass goes over the imported rows once.
	n, err := d.deleteChunks(ctx, chunk, `DELETE FROM skill_usage_events WHERE id IN (
		SELECT id FROM skill_usage_events WHERE timestamp < ? AND received_at < ?
		ORDER BY timestamp LIMIT ?)`, cutoff+trackskills.MaxFuture.Milliseconds(), cutoff, chunk)
	total += n
	if err != nil {
		return total, err
	}
	if _, err := d.conn().ExecContext(ctx, `DELETE FROM dead_letters WHERE stored_at < ?`, cutoff); err != nil {
		return total, fmt.Errorf("delete old dead letters: %w", err)
	}
	// The model requests by the same clock: cost_daily keeps their sums.
	if _, err := d.conn().ExecContext(ctx, `DELETE FROM api_requests WHERE received_at < ?`, cutoff); err != nil {
		return total, fmt.Errorf("delete old model requests: %w", err)
	}
	// The runs' state and log go with the raw rows, a whole session at a
	// time, once its last event is older than the cutoff less the most an
	// event may come late: a session quiet since then has nothing left to
	// re-walk.
	old := cutoff - trackskills.MaxFuture.Milliseconds()
	// In one transaction: a batch between the statements could bring a
	// session back whose chunks were gone. The run cache forgets every
	// session, deleted or not.
	d.w.cache.mu.Lock()
	defer d.w.cache.mu.Unlock()
	defer d.w.cache.clear()
	tx, err := d.conn().BeginTx(ctx, nil)
	if err != nil {
		return total, fmt.Errorf("delete old runs: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		// A session's chunks are found by its chain (migration 0021).
		`WITH RECURSIVE chain (id) AS (
			SELECT last_chunk FROM run_sessions WHERE last_ts < ?1 AND open_last IS NULL AND last_chunk IS NOT NULL
			` + chainStep + `)
		DELETE FROM session_chunks WHERE id IN (SELECT id FROM chain)`,
		`DELETE FROM skill_runs WHERE start_ms < ? AND state <> 'open'`,
		`DELETE FROM run_sessions WHERE last_ts < ? AND open_last IS NULL`,
	} {
		if _, err := tx.ExecContext(ctx, q, old); err != nil {
			return total, fmt.Errorf("delete old runs: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return total, fmt.Errorf("delete old runs: %w", err)
	}
	return total, nil
}

// OldestAggregateDay returns the first day the daily aggregates hold, and
// false when they hold none.
func (d *DB) OldestAggregateDay(ctx context.Context) (Day, bool, error) {
	var oldest dbsql.NullString
	if err := d.conn().QueryRowContext(ctx, `SELECT MIN(day) FROM tool_daily`).Scan(&oldest); err != nil {
		return 0, false, fmt.Errorf("find the oldest aggregate day: %w", err)
	}
	if !oldest.Valid {
		return 0, false, nil
	}
	day, err := ParseDay(oldest.String)
	if err != nil {
		return 0, false, fmt.Errorf("oldest aggregate day: %w", err)
	}
	return day, true, nil
}

// deleteChunks runs the delete q with args, each run its own transaction,
// until one deletes fewer than chunk rows, and returns how many it deleted.
func (d *DB) deleteChunks(ctx context.Context, chunk int, q string, args ...any) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("delete old events: %w", err)
		}
		res, err := d.conn().ExecContext(ctx, q, args...)
		if err != nil {
			return total, fmt.Errorf("delete old events: %w", err)
		}
		n, _ := res.RowsAffected() // sqlite3 always returns a count
		total += n
		if n < int64(chunk) {
			return total, nil
		}
	}
}

// receivedBefore returns the row id up to which the raw rows were
// received before cutoff, if rows are in receipt order: the largest id
// whose row was, found by halving the ids (a row a probe, by the row id's
// B-tree). 0 when the first row was received after the cutoff. Rows out
// of order only move the bound: what it leaves is found by the timestamp.
func (d *DB) receivedBefore(ctx context.Context, cutoff int64) (int64, error) {
	var lo, hi dbsql.NullInt64
	if err := d.conn().QueryRowContext(ctx, `SELECT MIN(id), MAX(id) FROM skill_usage_events`).Scan(&lo, &hi); err != nil {
		return 0, err
	}
	if !lo.Valid {
		return 0, nil
	}
	probe := func(at int64) (id, received int64, err error) {
		err = d.conn().QueryRowContext(ctx, `SELECT id, received_at FROM skill_usage_events WHERE id >= ? ORDER BY id LIMIT 1`, at).
			Scan(&id, &received)
		return id, received, err
	}
	first, received, err := probe(lo.Int64)
	if err != nil {
		return 0, err
	}
	if received >= cutoff {
		return 0, nil
	}
	// The row at first was received before the cutoff; find the last such.
	low, high := first, hi.Int64
	for low < high {
		mid := low + (high-low+1)/2
		id, received, err := probe(mid)
		if errors.Is(err, dbsql.ErrNoRows) {
			break // the rows above went meanwhile
		} else if err != nil {
			return 0, err
		}
		if received < cutoff {
			low = id
			if id >= high {
				break
			}
		} else {
			high = mid - 1
		}
	}
	return low, nil
}

// DeleteAggregatesBefore deletes aggregate rows of hours and days before
// cutoff (Unix ms). It goes a day at a time from the oldest stored day, each
// statement its own short transaction, so that the first run after the
// retention is shortened (or on a database that kept everything) never holds
// the writer for long. In steady state, called every RetentionEvery, it
// removes at most a day.
func (d *DB) DeleteAggregatesBefore(ctx context.Context, cutoff int64) (int64, error) {
	if err := d.Flush(ctx); err != nil { // nothing old rolled up after the delete
		return 0, fmt.Errorf("delete old aggregates: %w", err)
	}
	end := DayOf(cutoff)
	oldest, any, err := d.OldestAggregateDay(ctx)
	if err != nil {
		return 0, err
	}
	bound := end
	if any && oldest < end {
		bound = oldest + 1
	}
	var total int64
	for {
		bound = min(bound, end)
		n, err := d.deleteAggregatesBeforeDay(ctx, bound, bound == end, cutoff)
		total += n
		if err != nil {
			return total, err
		}
		if bound == end {
			return total, nil
		}
		bound++
	}
}

// deleteAggregatesBeforeDay deletes the aggregate rows of days before day
// and of the hours before its start. The last step (last) cuts the hours at
// cutoff's hour and also runs the deletes that scan a whole table (no index
// on day), so that catching up many days scans them once.
func (d *DB) deleteAggregatesBeforeDay(ctx context.Context, day Day, last bool, cutoff int64) (int64, error) {
	hour := day.StartMs()
	if last {
		hour = floorDiv(cutoff, hourMs) * hourMs
	}
	text := day.String() // as the text-keyed tables store it
	var total int64
	for _, q := range []struct {
		sql  string
		arg  any
		last bool // only on the last step
	}{
		{`DELETE FROM tool_hourly WHERE hour < ?`, hour, false},
		{`DELETE FROM tool_daily WHERE day < ?`, text, false},
		{`DELETE FROM user_daily WHERE day < ?`, text, false},
		{`DELETE FROM tool_user_daily WHERE day < ?`, int64(day), false},
		// Weeks that ended before the cutoff day. user_first_seen stays:
		// one row per user, and a cohort needs the true first day.
		{`DELETE FROM user_weekly WHERE week < date(?, '-6 days')`, text, false},
		{`DELETE FROM tool_daily_users WHERE day < ?`, text, false},
		{`DELETE FROM tool_daily_errors WHERE day < ?`, text, false},
		// Users last seen before the cutoff are outside every window
		// kept; one who comes back gets a fresh row.
		{`DELETE FROM user_last_seen WHERE day < ?`, text, false},
		{`DELETE FROM tool_user_last_seen WHERE day < ?`, text, true}, // a full scan since 0009
		{`DELETE FROM tool_last_seen_counts WHERE day < ?`, text, false},
		{`DELETE FROM mcp_hourly WHERE hour < ?`, hour, false},
		{`DELETE FROM mcp_daily WHERE day < ?`, text, false},
		{`DELETE FROM mcp_daily_errors WHERE day < ?`, text, false},
		{`DELETE FROM mcp_user_daily WHERE day < ?`, int64(day), false},
		{`DELETE FROM mcp_daily_users WHERE day < ?`, text, false},
		{`DELETE FROM mcp_user_last_seen WHERE day < ?`, text, true}, // keyed by server: a full scan
		{`DELETE FROM mcp_last_seen_counts WHERE day < ?`, text, false},
		{`DELETE FROM skill_daily WHERE day < ?`, text, false},
		{`DELETE FROM skill_daily_tools WHERE day < ?`, text, false},
		{`DELETE FROM skill_daily_mcp WHERE day < ?`, text, false},
		{`DELETE FROM skill_user_daily WHERE day < ?`, int64(day), false},
		{`DELETE FROM skill_daily_users WHERE day < ?`, text, false},
		{`DELETE FROM skill_user_last_seen WHERE day < ?`, text, true}, // keyed by skill: a full scan
		{`DELETE FROM skill_last_seen_counts WHERE day < ?`, text, false},
		{`DELETE FROM skill_session_daily WHERE day < ?`, int64(day), false},
		{`DELETE FROM skill_daily_sessions WHERE day < ?`, text, false},
		{`DELETE FROM skill_session_last_seen WHERE day < ?`, text, true},
		{`DELETE FROM skill_session_last_seen_counts WHERE day < ?`, text, false},
		{`DELETE FROM cost_daily WHERE day < ?`, text, false},
		{`DELETE FROM source_daily WHERE day < ?`, text, false},
		{`DELETE FROM call_sources WHERE day < ?`, text, false}, // by call_sources_day
	} {
		if q.last && !last {
			continue
		}
		res, err := d.conn().ExecContext(ctx, q.sql, q.arg)
		if err != nil {
			return total, fmt.Errorf("delete old aggregates: %w", err)
		}
		n, _ := res.RowsAffected() // sqlite3 always returns a count
		total += n
	}
	return total, nil
}
