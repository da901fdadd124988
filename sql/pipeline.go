package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"time"
)

// PipelineScanRows bounds the rows PipelineStats reads to count the recent
// events: the newest this many by rowid. Past that, the rate is measured
// over the span those rows cover instead of the whole window, so a read
// costs the same at 10 events a second as at 50,000, and at 10 million rows
// as at 10.
const PipelineScanRows = 20_000

// PipelineStats is what the pipeline health reads from the database. Every
// figure comes from the rowid (rows are numbered in commit order: SQLite
// has one writer, and fresh rows are never deleted) or from an index, so
// that a read costs the same whatever the size of the tables.
type PipelineStats struct {
	// LastReceivedAt is the received_at (unix ms) of the newest row, the
	// last event written; 0 without events.
	LastReceivedAt int64
	// Recent is the number of events received since RecentSince (unix
	// ms), among the newest PipelineScanRows rows.
	Recent int64
	// RecentSince is the start of the span Recent was counted over: the
	// since given to PipelineStats, or later when more rows than
	// PipelineScanRows were received since then (the oldest of the rows
	// read).
	RecentSince int64
	// DeadLetters is the number of dead letters.
	DeadLetters int64
	// LastDeadLetterAt is the stored_at (unix ms) of the newest dead
	// letter; 0 without any.
	LastDeadLetterAt int64
}

// PipelineStats reads the newest event, how many events were received
// since since, and the dead letters.
func (d *DB) PipelineStats(ctx context.Context, since time.Time) (PipelineStats, error) {
	st := PipelineStats{RecentSince: since.UnixMilli()}
	var maxID int64
	err := d.conn().QueryRowContext(ctx, `SELECT id, received_at FROM skill_usage_events ORDER BY id DESC LIMIT 1`).
		Scan(&maxID, &st.LastReceivedAt)
	if err != nil && !errors.Is(err, dbsql.ErrNoRows) {
		return st, fmt.Errorf("read newest event: %w", err)
	}
	if maxID > 0 {
		lo := maxID - PipelineScanRows
		// The newest rows, by a range of the rowid: the rows in the span,
		// the oldest of them, and whether older rows exist at all.
		var n, oldest int64
		var older bool
		err := d.conn().QueryRowContext(ctx, `
			SELECT COUNT(*), COALESCE(MIN(received_at), 0), COALESCE(SUM(received_at >= ?), 0),
			       EXISTS (SELECT 1 FROM skill_usage_events WHERE id <= ?)
			FROM skill_usage_events WHERE id > ?`, st.RecentSince, lo, lo).Scan(&n, &oldest, &st.Recent, &older)
		if err != nil {
			return st, fmt.Errorf("count recent events: %w", err)
		}
		if older && n > 0 && oldest >= st.RecentSince {
			// Every row read is recent and there are more: the rate is
			// that of the span they cover.
			st.Recent, st.RecentSince = n, oldest
		}
	}
	// COUNT(*) alone reads the smallest index; the newest by its rowid.
	if err := d.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM dead_letters`).Scan(&st.DeadLetters); err != nil {
		return st, fmt.Errorf("count dead letters: %w", err)
	}
	if st.DeadLetters > 0 {
		err := d.conn().QueryRowContext(ctx, `SELECT stored_at FROM dead_letters ORDER BY id DESC LIMIT 1`).Scan(&st.LastDeadLetterAt)
		if err != nil && !errors.Is(err, dbsql.ErrNoRows) {
			return st, fmt.Errorf("read newest dead letter: %w", err)
		}
	}
	return st, nil
}
