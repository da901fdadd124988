package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"

	"github.com/trackskills/trackskills"
)

// WriteBatchAt is WriteBatch for a replay of the stream: in the same
// transaction it records streamSeq, the last stream sequence of the batch,
// as the replay position, so that a batch and the position that says it is
// done commit together.
func (d *DB) WriteBatchAt(ctx context.Context, events []trackskills.Event, dead []DeadLetter, streamSeq uint64) (BatchResult, error) {
	return d.writeBatch(ctx, events, dead, func(tx *dbsql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO replay_position (id, stream_seq, updated_at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET stream_seq = excluded.stream_seq, updated_at = excluded.updated_at`,
			int64(streamSeq), d.Now().UnixMilli()); err != nil {
			return fmt.Errorf("record replay position: %w", err)
		}
		return nil
	})
}

// ReplayPosition returns the last stream sequence a replay committed into
// this database, or 0 when no replay has written it.
func (d *DB) ReplayPosition(ctx context.Context) (uint64, error) {
	var seq int64
	err := d.conn().QueryRowContext(ctx, `SELECT stream_seq FROM replay_position WHERE id = 1`).Scan(&seq)
	if errors.Is(err, dbsql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read replay position: %w", err)
	}
	return uint64(seq), nil
}

// CountEventsBeforeSeq counts the stored events that came from stream
// messages before seq: those a replay of the stream from seq would not
// bring back. It reads every row; it is for rare operations (a rebuild).
func (d *DB) CountEventsBeforeSeq(ctx context.Context, seq uint64) (int64, error) {
	var n int64
	if err := d.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM skill_usage_events WHERE stream_seq < ?`, int64(seq)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events before stream seq %d: %w", seq, err)
	}
	return n, nil
}
