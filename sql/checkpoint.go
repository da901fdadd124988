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

// The background checkpoint. SQLite's own (wal_autocheckpoint) runs inside
// the commit that crosses its threshold: every few hundred milliseconds
// under load one commit also copies some thousand pages into the database
// file and syncs it, and every event of that batch waits for it. The writer
// instead leaves the copying to a connection of its own that runs a PASSIVE
// checkpoint once the log holds checkpointPages not yet copied, the
// threshold SQLite's own would use: it never waits for the writer nor holds
// it up, the log starts over from its beginning once it has all been
// copied, and a page written by many commits is copied once per
// checkpoint, as before (checkpointing more often writes more: every 100
// ms took a steady 2,000 events/s from 1.7 to 2.2 KB written per event).
// The writer keeps an automatic checkpoint at backstopPages, in case the
// background one cannot keep up.

const (
	// checkpointPages is how many pages the log gathers before the
	// background checkpoint copies them: SQLite's default automatic one.
	checkpointPages = 1000
	// checkpointPoll is how often the background checkpoint looks at the
	// log. At 50,000 events/s the log grows about 150 pages in that time.
	checkpointPoll = 20 * time.Millisecond
	// checkpointBlind is how often it checkpoints when it cannot read the
	// log's size.
	checkpointBlind = time.Second
	// backstopPages is the writer's wal_autocheckpoint: 32 MiB of 4 KiB
	// pages.
	backstopPages = 8192
)

// checkpointer runs the background checkpoint of one database file.
type checkpointer struct {
	db     *dbsql.DB
	shm    string        // the wal-index file, whose header says how long the log is
	pages  atomic.Uint32 // checkpointPages, or bulkCheckpointPages during a bulk load
	logger *slog.Logger
	// mu is held by each checkpoint, the background one and DB.Checkpoint
	// alike: two at once would report each other as busy.
	mu     *sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
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
	c := &checkpointer{db: db, shm: path + "-shm", logger: logger, mu: mu, cancel: cancel, done: make(chan struct{})}
	c.pages.Store(checkpointPages)
	go c.run(ctx)
	return c, nil
}

// run checkpoints whenever the log holds checkpointPages not yet copied,
// until ctx ends. A failure (a full disk) is logged when it starts and when
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
		if shm == nil {
			shm, _ = os.Open(c.shm) // made with the log; until then, blind
		}
		pending, known := walPending(shm)
		if known && pending < c.pages.Load() || !known && time.Since(last) < checkpointBlind {
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

// close stops the background checkpoint and closes its connection.
func (c *checkpointer) close() error {
	c.cancel()
	<-c.done
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("close checkpoint connection: %w", err)
	}
	return nil
}
