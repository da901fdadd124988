package sql

import "os"

// HashKey is hashKey, for tests that read the stored form.
var HashKey = hashKey

// SetExportChunkRows makes Export read n rows per query until the test
// ends.
func SetExportChunkRows(tb interface{ Cleanup(func()) }, n int) {
	old := exportChunkRows
	exportChunkRows = n
	tb.Cleanup(func() { exportChunkRows = old })
}

// WALPending is walPending on the wal-index of db's file, and the frames
// its log holds and has copied, as SQLite itself reports them after a
// PASSIVE checkpoint run on the writer's connection.
func WALPending(db *DB) (before uint32, known bool, logFrames, copied int, after uint32, err error) {
	shm, err := os.Open(db.path + "-shm")
	if err != nil {
		return 0, false, 0, 0, 0, err
	}
	defer shm.Close()
	before, known = walPending(shm)
	var busy int
	if err := db.conn().QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied); err != nil {
		return 0, false, 0, 0, 0, err
	}
	after, _ = walPending(shm)
	return before, known, logFrames, copied, after, nil
}

// SetBulkCheckpointPages sets the pages the background checkpoint of db
// waits for, as SetBulkLoad(true) does with bulkCheckpointPages.
func SetBulkCheckpointPages(db *DB, n uint32) { db.ckpt.setPages(n) }
