package sql

import (
	"context"
	dbsql "database/sql"
	"os"
	"sync"
	"time"
)

// followEvery is how often a read-only handle looks whether its path names
// another file than the one it reads (a rebuilt database renamed into
// place): one stat a second.
const followEvery = time.Second

// follower moves a read-only handle to the file its path names, when that
// changes: readers never keep answering from a file that was replaced.
type follower struct {
	d    *DB
	file os.FileInfo // the file the current pool reads; nil when unknown
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

func startFollower(d *DB, file os.FileInfo) *follower {
	f := &follower{d: d, file: file, quit: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	return f
}

func (f *follower) run() {
	defer close(f.done)
	t := time.NewTicker(followEvery)
	defer t.Stop()
	for {
		select {
		case <-f.quit:
			return
		case <-t.C:
			f.check()
		}
	}
}

// check opens a pool on the file the path names now, if it is another
// one with a complete schema, and swaps it in; the old pool closes once
// its queries in flight are done.
func (f *follower) check() {
	fi, err := os.Stat(f.d.path)
	if err != nil || (f.file != nil && os.SameFile(fi, f.file)) {
		return // gone for a moment (between two renames), or unchanged
	}
	ctx, cancel := context.WithTimeout(context.Background(), followEvery)
	defer cancel()
	db, opened, err := f.d.openReadPool(ctx)
	if err != nil {
		return // not ready yet: the next look tries again
	}
	old := f.d.pool.Swap(db)
	f.file = opened
	f.d.logger.Info("database file replaced: reading the new one", "db", f.d.path)
	go func(old *dbsql.DB) { _ = old.Close() }(old) // Close waits for the queries in flight
}

// stop ends the watch and waits for it.
func (f *follower) stop() {
	f.once.Do(func() { close(f.quit) })
	<-f.done
}
