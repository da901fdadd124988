package sql

import "context"

// LogRow is one event of the session log as the session_log table of
// migration 0017 held it, for the tests of migration 0019.
type LogRow struct {
	TS    int64
	ID    []byte
	Code  int64
	Name  string
	Agent []byte
}

// ChunkRows decodes a chunk of session_chunks into log rows.
func ChunkRows(chunk []byte) ([]LogRow, error) {
	evs, err := decodeChunk(chunk, nil)
	if err != nil {
		return nil, err
	}
	out := make([]LogRow, len(evs))
	for i := range evs {
		ev := &evs[i]
		out[i] = LogRow{TS: ev.TS, ID: ev.ID, Code: logCode(ev), Name: ev.Name}
		if ev.Agent != "" {
			out[i].Agent = []byte(ev.Agent)
		}
	}
	return out, nil
}

// WithRunCacheSize bounds the writer's run cache to n sessions; 0 keeps
// none, so that every batch reads its sessions' state from SQLite.
func WithRunCacheSize(n int) Option {
	return func(db *DB) { db.runCacheSize = n }
}

// FailCommits makes each batch call fail before its commit and, when it
// returns an error, fail with it (and roll back).
func FailCommits(db *DB, fail func() error) {
	db.failCommit = fail
}

// Kill closes db as a killed process leaves its file: the events it holds
// for their rollups (WithRollupDelay) are dropped, not rolled up.
func Kill(db *DB) error {
	if p := db.pend; p != nil {
		if p.stop != nil {
			close(p.stop)
			<-p.done
			p.stop = nil
		}
		p.events, p.started = nil, false
	}
	return db.Close()
}

// Held returns how many events db holds for their rollups.
func Held(db *DB) int {
	if db.pend == nil {
		return 0
	}
	db.w.cache.mu.Lock()
	defer db.w.cache.mu.Unlock()
	return len(db.pend.events)
}

// TempStore returns the temp_store setting of db's connections (0 the
// default, 1 files, 2 memory).
func TempStore(ctx context.Context, db *DB) (int, error) {
	var v int
	err := db.conn().QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&v)
	return v, err
}
