package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"
)

// The background checkpoint. SQLite's own (wal_autocheckpoint) runs inside
// the commit that crosses its threshold: every few hundred milliseconds
// under load one commit also copies some thousand pages into the database
// file and syncs it, and every event of that batch waits for it. The writer
// instead leaves the copying to a connection of its own that runs a PASSIVE
// checkpoint every checkpointEvery: it never waits for the writer nor holds
// it up, and the log starts over from its beginning once it has all been
// copied. The writer keeps an automatic checkpoint at backstopPages, far
// beyond what the background one lets the log grow to, in case that one
// cannot keep up.

const (
	// checkpointEvery is how often the background checkpoint runs. At
	// 50,000 events/s the log grows about 3 MB in that time.
	checkpointEvery = 100 * time.Millisecond
	// backstopPages is the writer's wal_autocheckpoint: 32 MiB of 4 KiB
	// pages.
	backstopPages = 8192
)

// checkpointer runs the background checkpoint of one database file.
type checkpointer struct {
	db     *dbsql.DB
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
	c := &checkpointer{db: db, logger: logger, mu: mu, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

// run checkpoints every checkpointEvery until ctx ends. A failure (a full
// disk) is logged when it starts and when it ends, not at every attempt.
func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var failing error
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
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
