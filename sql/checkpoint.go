package sql

import (
	"context"
	dbsql "database/sql"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The background checkpoint of a bulk load. SQLite's own
// (wal_autocheckpoint) runs inside the commit that crosses its threshold,
// and a bulk load lets the log grow to bulkCheckpointPages (256 MB) before
// one commit copies it all into the database file, while the load waits.
// During a bulk load a connection of its own runs a PASSIVE checkpoint
// instead once the log holds that many pages not yet copied: it never waits
// for the writer nor holds it up, and the writer's own automatic
// checkpoint, at twice that, is only a backstop. Outside a bulk load the
// background checkpoint is off and SQLite's own runs every 1,000 pages, as
// before: measured at 50,000 events/s offered in batches, a background one
// at 1,000 pages made the ack -> row p99 worse (368-514 ms against 166-258
// in runs side by side), as did the extra writes of one every 100 ms at a
// steady 2,000 events/s (2.2 KB written per event against 1.7).

const (
	// checkpointPoll is how often the background checkpoint looks at the
	// log's length.
	checkpointPoll = 20 * time.Millisecond
	// checkpointBlind is how often it checkpoints when it cannot read the
	// log's length.
	checkpointBlind = time.Second
)

// checkpointer runs the background checkpoint of one database file.
type checkpointer struct {
	db     *dbsql.DB
	shm    string        // the wal-index file, whose header says how long the log is
	pages  atomic.Uint32 // bulkCheckpointPages during a bulk load; 0: off
	logger *slog.Logger
	// mu is held by each checkpoint, the background one and DB.Checkpoint
	// alike: two at once would report each other as busy.
	mu     *sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	on     chan struct{} // a bulk load has begun: see setPages
}

// startCheckpointer opens a connection of its own to the WAL database at
// path and starts the background checkpoint on it.
func startCheckpointer(path string, mu *sync.Mutex, logger *slog.Logger) (*checkpointer, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL") // the copy is synced before the log starts over
	q.Set("_busy_timeout", "0")   // PASSIVE never waits
	db, err := dbsql.Open(driverName, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open checkpoint connection: %w", err)
	}
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, shm: path + "-shm", logger: logger, mu: mu, cancel: cancel, done: make(chan struct{}), on: make(chan struct{}, 1)}
	go c.run(ctx)
	return c, nil
}

// run checkpoints whenever the log holds pages not yet copied, until ctx
// ends. A failure (a full disk) is logged when it starts and when
// it ends, not at every attempt.
func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(checkpointPoll)
	defer t.Stop()
	var failing error
	var shm *os.File
	defer func() {
		if shm != nil {
			shm.Close()
		}
	}()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pages := c.pages.Load()
		if pages == 0 {
			// Off: sleep until a bulk load begins, not a poll at a time.
			select {
			case <-ctx.Done():
				return
			case <-c.on:
			}
			continue
		}
		if shm == nil {
			shm, _ = os.Open(c.shm) // made with the log; until then, blind
		}
		pending, known := walPending(shm)
		if known && pending < pages || !known && time.Since(last) < checkpointBlind {
			continue
		}
		last = time.Now()
		err := c.once(ctx)
		switch {
		case err != nil && failing == nil && ctx.Err() == nil:
			c.logger.Warn("background checkpoint failed: the write-ahead log grows until it succeeds", "err", err)
		case err == nil && failing != nil:
			c.logger.Info("background checkpoint works again")
		}
		failing = err
	}
}

// walPending returns how many frames of the log are not yet copied into
// the database file, from the wal-index header at the start of the -shm
// file (SQLite's WAL format: in the machine's byte order, the last valid
// frame mxFrame at byte 16 and the frames already copied, nBackfill, at
// byte 96). known is false when the file cannot be read; a read torn by a
// concurrent commit only moves the next checkpoint by one poll.
func walPending(shm *os.File) (pending uint32, known bool) {
	if shm == nil {
		return 0, false
	}
	var hdr [100]byte
	if _, err := shm.ReadAt(hdr[:], 0); err != nil {
		return 0, false
	}
	mx := binary.NativeEndian.Uint32(hdr[16:])
	backfill := binary.NativeEndian.Uint32(hdr[96:])
	if backfill > mx { // the log started over since the last checkpoint
		return mx, true
	}
	return mx - backfill, true
}

// once runs one PASSIVE checkpoint.
func (c *checkpointer) once(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var busy, logPages, done int
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// setPages sets the pages the background checkpoint waits for; 0 turns it
// off.
func (c *checkpointer) setPages(n uint32) {
	c.pages.Store(n)
	if n > 0 {
		select {
		case c.on <- struct{}{}:
		default: // already woken
		}
	}
}

// close stops the background checkpoint and closes its connection.
func (c *checkpointer) close() error {
	c.cancel()
	<-c.done
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("close checkpoint connection: %w", err)
	}
	return nil
}
