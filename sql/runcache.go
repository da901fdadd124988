package sql

import (
	"sync"

	"github.com/trackskills/trackskills/runs"
)

// The writer keeps the run state of the sessions it walked in memory
// (runCache), so that a batch of busy sessions resumes their walks
// without reading run_sessions and their open runs back first. SQLite
// stays the record: the cache holds what the last committed batch wrote,
// and a batch that finds a session missing reads it as before.
//
//   - A batch takes the sessions it walks out of the cache (take) and puts
//     their new state in its own list (batch.runState); the commit puts
//     those back (put). A batch that fails leaves the sessions it
//     took out missing, so that the next one reads what SQLite kept.
//   - One batch uses the cache at a time (runCache.mu, held from before a
//     batch's transaction begins to after its commit is recorded): the
//     writer's connection serialises transactions, but not what follows a
//     commit.
//   - ExpireRuns uses the cache as a batch does; the retention, which
//     deletes run state, clears it; and the data directory's lock keeps a
//     second process off the database.

// maxCachedSessions bounds the sessions the cache keeps: a team's busy
// sessions at any moment are a few hundred to a few thousand, and an
// entry is its open runs, a few hundred bytes each.
const maxCachedSessions = 20_000

// cachedSession is a session's run state as the writer committed it.
type cachedSession struct {
	state     runs.State // its open runs and last event walked
	swept     bool
	lastChunk int64 // rowid of its last chunk in session_chunks, 0 for none
}

// The cache's state of a session is what SQLite holds: run_sessions'
// last_ts, last_id, swept and last_chunk, open_last set when state.Top is,
// and the open runs of skill_runs (state.Top and state.Nested, in the
// order they started).

// runCache is the run state of recently walked sessions, by stored session
// hash.
type runCache struct {
	mu       sync.Mutex
	sessions map[string]*cachedSession
	limit    int // at most this many sessions; 0 keeps none
}

func newRunCache(limit int) *runCache {
	return &runCache{sessions: map[string]*cachedSession{}, limit: limit}
}

// take removes and returns the state of session, if the cache has it.
// The caller holds c.mu.
func (c *runCache) take(session string) (*cachedSession, bool) {
	s, ok := c.sessions[session]
	if ok {
		delete(c.sessions, session)
	}
	return s, ok
}

// put records the state a batch committed: nil entries are sessions
// whose state the batch changed without knowing all of it. The caller
// holds c.mu.
func (c *runCache) put(states map[string]*cachedSession) {
	for k, s := range states {
		if s == nil || c.limit == 0 {
			delete(c.sessions, k)
			continue
		}
		c.sessions[k] = s
	}
	if len(c.sessions) <= c.limit {
		return
	}
	// Past the bound: drop sessions until a quarter of the room is free,
	// the ones without open runs first (re-reading one costs a row).
	target := c.limit - c.limit/4
	for _, open := range []bool{false, true} {
		for k, s := range c.sessions {
			if len(c.sessions) <= target {
				return
			}
			if (s.state.Top != nil) == open {
				delete(c.sessions, k)
			}
		}
	}
}

// clear forgets every session. The caller holds c.mu.
func (c *runCache) clear() {
	clear(c.sessions)
}
