package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/trackskills/trackskills/lockfile"
	"github.com/trackskills/trackskills/sql"
)

// One process owns a data dir's JetStream store and one owns a database:
// a second NATS server on the same store corrupts it, and a second writer
// on the same database fights the first. serve and nats lock the store
// (a lock file inside <data-dir>/nats, beside JetStream's own directory);
// serve, consumer, seed, replay and deadletters retry and purge lock the
// database (<db>.lock beside the SQLite file, so that a --db outside the
// data dir is guarded too). The locks are taken after the flags are
// checked and before anything is created or started, and released last.
// analytics, status and backup (readers) and ingest (no local state but
// the hash key) take none.

// natsLockPath returns the lock file of the JetStream store.
func (o *options) natsLockPath() string {
	return filepath.Join(o.dataDir, "nats", "trackskills.lock")
}

// dbLockPath returns the lock file of the SQLite database.
func (o *options) dbLockPath() string { return o.dbPath() + ".lock" }

// lockNATSStore takes the JetStream store of the data dir for this process.
func (o *options) lockNATSStore() (*lockfile.Lock, error) {
	return acquireLock(o.natsLockPath(), "data dir "+o.dataDir, "give this one its own --data-dir")
}

// lockDB takes the SQLite database for this process.
func (o *options) lockDB() (*lockfile.Lock, error) {
	return acquireLock(o.dbLockPath(), "database "+o.dbPath(), "give this one its own --db (or --data-dir)")
}

// standbyPoll is how often a standby tries the lock again; flock is
// released the moment its holder exits, even on kill -9.
const standbyPoll = 200 * time.Millisecond

// awaitDBLock takes the database lock, waiting while another process
// holds it: the standby of `consumer --standby`. It logs once that it
// stands by, naming the holder, and returns ctx's error if ctx ends first.
func (o *options) awaitDBLock(ctx context.Context, logger *slog.Logger) (*lockfile.Lock, error) {
	logged := false
	for {
		lock, err := o.lockDB()
		if !errors.Is(err, lockfile.ErrHeld) {
			if err == nil && logged {
				logger.Info("database free: taking over", "db", o.dbPath())
			}
			return lock, err
		}
		if !logged {
			logger.Info("standing by", "reason", err.Error())
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(standbyPoll):
		}
	}
}

// openLockedDB takes the database lock, then opens the database for
// writing; closeDB closes the database, then releases the lock.
func (o *options) openLockedDB(ctx context.Context, opts ...sql.Option) (db *sql.DB, closeDB func() error, err error) {
	lock, err := o.lockDB()
	if err != nil {
		return nil, nil, err
	}
	if db, err = sql.Open(ctx, o.dbPath(), opts...); err != nil {
		_ = lock.Close() // the open error is the one to report
		return nil, nil, err
	}
	return db, func() error { return errors.Join(db.Close(), lock.Close()) }, nil
}

// acquireLock takes the lock file at path; when another process holds it,
// the error names what and says how to get out of the way.
func acquireLock(path, what, fix string) (*lockfile.Lock, error) {
	l, err := lockfile.Acquire(path)
	if held := (*lockfile.HeldError)(nil); errors.As(err, &held) {
		held.What, held.Fix = what, fix
	}
	return l, err
}
