package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"os"
	"time"
)

// DBStatus is what the status command reports about a database; every
// field is read without a lock or a write.
type DBStatus struct {
	Path              string           // the database file
	FileBytes         int64            // size of the main file (the WAL not counted)
	WALBytes          int64            // size of the -wal file, 0 when there is none
	Events            int64            // rows of skill_usage_events
	LastEventAt       time.Time        // the newest event's timestamp, zero without events
	Migrations        int              // migrations applied
	KnownMigrations   int              // migrations this binary knows
	ReplayPosition    uint64           // the last stream sequence a replay committed, 0 = none
	DeadLetters       int64            // rows of dead_letters
	DeadLetterReasons map[string]int64 // dead letters counted by reason
}

// Status reads the state of the database: row counts, file sizes, the
// newest event, the schema version, the replay position and the dead
// letters by reason.
func (d *DB) Status(ctx context.Context) (DBStatus, error) {
	st := DBStatus{Path: d.path, KnownMigrations: d.migrationCount(), DeadLetterReasons: map[string]int64{}}
	if fi, err := os.Stat(d.path); err == nil {
		st.FileBytes = fi.Size()
	}
	if fi, err := os.Stat(d.path + "-wal"); err == nil {
		st.WALBytes = fi.Size()
	}
	var err error
	if st.Events, err = d.CountEvents(ctx); err != nil {
		return st, err
	}
	var last dbsql.NullInt64
	if err := d.conn().QueryRowContext(ctx, `SELECT MAX(timestamp) FROM skill_usage_events`).Scan(&last); err != nil {
		return st, fmt.Errorf("read last event time: %w", err)
	}
	if last.Valid {
		st.LastEventAt = time.UnixMilli(last.Int64).UTC()
	}
	if err := d.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations`).Scan(&st.Migrations); err != nil {
		return st, fmt.Errorf("count migrations: %w", err)
	}
	if st.ReplayPosition, err = d.ReplayPosition(ctx); err != nil {
		return st, err
	}
	rows, err := d.conn().QueryContext(ctx, `SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason ORDER BY reason`)
	if err != nil {
		return st, fmt.Errorf("count dead letters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			return st, fmt.Errorf("scan dead letters: %w", err)
		}
		st.DeadLetterReasons[reason] = n
		st.DeadLetters += n
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("count dead letters: %w", err)
	}
	return st, nil
}
