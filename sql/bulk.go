package sql

import (
	"context"
	"errors"
	"fmt"
)

// The settings of the writer's connection for a bulk load (SetBulkLoad),
// and the ordinary ones they replace, as Open sets them.
const (
	// bulkCacheKiB holds the dirty pages of a large transaction: a page
	// that does not fit is spilled to the log before the commit, and
	// written again by it.
	bulkCacheKiB   = 256 * 1024
	normalCacheKiB = 32000
	// bulkCheckpointPages lets the log grow to about 256 MB between two
	// checkpoints (the background one, checkpoint.go; the writer's own at
	// twice that is its backstop): a page that many transactions change is
	// copied into the database once per checkpoint.
	bulkCheckpointPages   = 65536
	normalCheckpointPages = 1000 // SQLite's default
)

// SetBulkLoad switches the writer's connection to the settings of a
// history load (seed, replay) and back. On, commits are synchronous=NORMAL
// (durable at the next checkpoint; a power cut may undo the last ones, but
// never leaves a transaction half done), the page cache is 256 MiB and the
// log is checkpointed every 64k pages instead of every thousand. The
// consumer must not use it: its acknowledgements need each commit on disk.
// A load that records its position in the same transaction as its rows
// (WriteBatchAt) resumes correctly after such a cut. The settings live on
// the writer's one connection (Open keeps a single one).
func (d *DB) SetBulkLoad(ctx context.Context, on bool) error {
	if d.readOnly {
		return errors.New("bulk load: database is open read-only")
	}
	sync, cache, ckpt, backstop := "FULL", normalCacheKiB, 0, normalCheckpointPages
	if on {
		sync, cache, ckpt, backstop = "NORMAL", bulkCacheKiB, bulkCheckpointPages, 2*bulkCheckpointPages
	}
	// PRAGMA takes no bound parameters; the values are constants above.
	for _, q := range []string{
		`PRAGMA synchronous = ` + sync,
		fmt.Sprintf(`PRAGMA cache_size = %d`, -cache),
		fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, backstop),
	} {
		if _, err := d.conn().ExecContext(ctx, q); err != nil {
			if on {
				// Back to the ordinary settings, so that a half-switched
				// connection never commits with synchronous=NORMAL.
				_ = d.SetBulkLoad(context.WithoutCancel(ctx), false) // the first error is the one to report
			}
			return fmt.Errorf("bulk load: %w", err)
		}
	}
	if d.ckpt != nil {
		d.ckpt.setPages(uint32(ckpt)) // 0: off, SQLite's own runs
	}
	return nil
}
