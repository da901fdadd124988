package sql

import (
	"context"
	"errors"
	"fmt"
)

// Checkpoint copies every committed page of the write-ahead log into the
// database file and truncates the log (PRAGMA wal_checkpoint(TRUNCATE)), so
// that the size of the files on disk is the size of the data. It fails when
// a reader kept the checkpoint from completing.
func (d *DB) Checkpoint(ctx context.Context) error {
	if d.readOnly {
		return errors.New("checkpoint: database is open read-only")
	}
	d.ckptMu.Lock() // not beside the background checkpoint
	defer d.ckptMu.Unlock()
	var busy, logPages, done int
	if err := d.conn().QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpoint: blocked by a reader (%d of %d log pages copied)", done, logPages)
	}
	return nil
}
