package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trackskills/trackskills"
)

// ErrNoDeadLetter reports a dead-letter id that is not in dead_letters.
var ErrNoDeadLetter = errors.New("no such dead letter")

// StoredDeadLetter is a row of dead_letters: the dead letter with its id and
// the time it was stored.
type StoredDeadLetter struct {
	ID       int64
	StoredAt time.Time
	DeadLetter
}

const deadLetterColumns = `id, stream_seq, subject, reason, COALESCE(headers, ''), payload, stored_at`

func scanDeadLetter(sc interface{ Scan(...any) error }) (StoredDeadLetter, error) {
	var dl StoredDeadLetter
	var seq, stored int64
	if err := sc.Scan(&dl.ID, &seq, &dl.Subject, &dl.Reason, &dl.Headers, &dl.Payload, &stored); err != nil {
		return dl, err
	}
	dl.StreamSeq, dl.StoredAt = uint64(seq), time.UnixMilli(stored).UTC()
	return dl, nil
}

// ListDeadLetters returns up to limit dead letters (all when limit <= 0),
// newest first.
func (d *DB) ListDeadLetters(ctx context.Context, limit int) ([]StoredDeadLetter, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := d.conn().QueryContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	var out []StoredDeadLetter
	for rows.Next() {
		dl, err := scanDeadLetter(rows)
		if err != nil {
			return nil, fmt.Errorf("scan dead letter: %w", err)
		}
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// GetDeadLetter returns the dead letter id, or an error wrapping
// ErrNoDeadLetter.
func (d *DB) GetDeadLetter(ctx context.Context, id int64) (StoredDeadLetter, error) {
	dl, err := scanDeadLetter(d.conn().QueryRowContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = ?`, id))
	if errors.Is(err, dbsql.ErrNoRows) {
		return dl, fmt.Errorf("dead letter %d: %w", id, ErrNoDeadLetter)
	}
	if err != nil {
		return dl, fmt.Errorf("get dead letter %d: %w", id, err)
	}
	return dl, nil
}

// RetryDeadLetter writes events, the decoded dead letter id, as WriteBatch
// does (events already stored are ignored), and deletes the dead letter in
// the same transaction. It returns an error wrapping ErrNoDeadLetter, and
// writes nothing, when id is not stored.
func (d *DB) RetryDeadLetter(ctx context.Context, id int64, events []trackskills.Event) (BatchResult, error) {
	return d.writeBatch(ctx, events, nil, func(tx *dbsql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM dead_letters WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete dead letter %d: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 { // sqlite3 always returns a count
			return fmt.Errorf("dead letter %d: %w", id, ErrNoDeadLetter)
		}
		return nil
	})
}

// SetDeadLetterReason replaces the reason of the dead letter id, for one
// that a retry still cannot decode.
func (d *DB) SetDeadLetterReason(ctx context.Context, id int64, reason string) error {
	if d.readOnly {
		return errors.New("set dead letter reason: database is open read-only")
	}
	r, err := d.conn().ExecContext(ctx, `UPDATE dead_letters SET reason = ? WHERE id = ?`, reason, id)
	if err != nil {
		return fmt.Errorf("set dead letter %d reason: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("dead letter %d: %w", id, ErrNoDeadLetter)
	}
	return nil
}

// CountDeadLetters returns the number of dead letters stored before the
// time before, or of all of them when before is zero.
func (d *DB) CountDeadLetters(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	if err := d.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM dead_letters WHERE stored_at < ?`, beforeMilli(before)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return n, nil
}

// PurgeDeadLetters deletes the dead letters stored before the time before,
// or all of them when before is zero, and returns how many it deleted.
func (d *DB) PurgeDeadLetters(ctx context.Context, before time.Time) (int64, error) {
	if d.readOnly {
		return 0, errors.New("purge dead letters: database is open read-only")
	}
	r, err := d.conn().ExecContext(ctx, `DELETE FROM dead_letters WHERE stored_at < ?`, beforeMilli(before))
	if err != nil {
		return 0, fmt.Errorf("purge dead letters: %w", err)
	}
	n, _ := r.RowsAffected() // sqlite3 always returns a count
	return n, nil
}

// beforeMilli is the stored_at bound of before: every row when it is zero.
func beforeMilli(before time.Time) int64 {
	if before.IsZero() {
		return 1<<63 - 1
	}
	return before.UnixMilli()
}
