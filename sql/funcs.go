package sql

import (
	dbsql "database/sql"
	"fmt"
	"sync"

	"github.com/mattn/go-sqlite3"

	"github.com/trackskills/trackskills"
)

// driverName is go-sqlite3 with Track Skills' SQL functions on every
// connection: hist_merge(a, b) merges two encoded latency histograms (for
// ON CONFLICT updates), the aggregates hist_of(duration_ms) builds one from
// raw durations, hist_buckets(bucket, n) from counts per bucket and
// hist_sum(hist) merges the histograms of a window;
// hash8, event_key and event_id_text convert identity hashes and event ids
// to and from their stored forms (keys.go); mcp_server_of(tool_name) and
// mcp_tool_of(tool_name) split an MCP tool name as trackskills.SplitMCP
// does (mcp.go); log_chunk and chunk_first_id move the session log into
// chunks (migration 0019, sessionlog.go).
const driverName = "sqlite3_trackskills"

// writerDriverName is driverName for the writer's connection, which also
// keeps SQLite's temporary files in memory (PRAGMA temp_store = MEMORY):
// the statement journals of its larger upserts and its temporary b-trees,
// which SQLite would otherwise write to files on disk during most of its
// transactions, a syscall per page (BENCHMARKS.md, "temporary files").
// Readers keep the default, so that a large sort of theirs cannot grow the
// process's memory.
const writerDriverName = "sqlite3_trackskills_writer"

var registerOnce sync.Once

func registerDriver() {
	registerOnce.Do(func() {
		dbsql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: registerFuncs})
		dbsql.Register(writerDriverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			if _, err := c.Exec("PRAGMA temp_store = MEMORY", nil); err != nil {
				return fmt.Errorf("keep temporary files in memory: %w", err)
			}
			return registerFuncs(c)
		}})
	})
}

// sqlFuncs are the SQL functions of driverName, by name; aggregates are
// registered as such.
var sqlFuncs = []struct {
	name      string
	impl      any
	aggregate bool
}{
	{"hist_merge", histMerge, false},
	{"hist_of", newHistOf, true},
	{"hist_sum", newHistSum, true},
	{"hist_buckets", newHistBuckets, true},
	{"log_chunk", newLogChunk, true},
	{"chunk_first_id", chunkFirstID, false},
	{"hash8", hash8SQL, false},
	{"event_key", eventKeySQL, false},
	{"event_id_text", eventIDText, false},
	{"mcp_server_of", mcpServerOf, false},
	{"mcp_tool_of", mcpToolOf, false},
}

// registerFuncs registers the SQL functions of driverName (sqlFuncs) on c,
// each pure.
func registerFuncs(c *sqlite3.SQLiteConn) error {
	for _, f := range sqlFuncs {
		register := c.RegisterFunc
		if f.aggregate {
			register = c.RegisterAggregator
		}
		if err := register(f.name, f.impl, true); err != nil {
			return fmt.Errorf("register %s: %w", f.name, err)
		}
	}
	return nil
}

// blobArg reads a BLOB argument that may be NULL.
func blobArg(v any) ([]byte, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return b, nil
	case string:
		return []byte(b), nil
	}
	return nil, fmt.Errorf("histogram must be a BLOB, not %T", v)
}

func histMerge(a, b any) ([]byte, error) {
	ab, err := blobArg(a)
	if err != nil {
		return nil, err
	}
	bb, err := blobArg(b)
	if err != nil {
		return nil, err
	}
	return trackskills.MergeBinary(ab, bb)
}

// histOf is the hist_of aggregate: a histogram of raw durations.
type histOf struct{ h trackskills.Histogram }

func newHistOf() *histOf { return &histOf{} }

func (a *histOf) Step(v any) {
	if ms, ok := v.(int64); ok {
		a.h.Add(ms)
	}
}

func (a *histOf) Done() []byte { return a.h.AppendBinary(nil) }

// histSum is the hist_sum aggregate: the merge of encoded histograms.
type histSum struct {
	h   trackskills.Histogram
	err error
}

func newHistSum() *histSum { return &histSum{} }

func (a *histSum) Step(v any) {
	b, err := blobArg(v)
	if err == nil {
		err = trackskills.DecodeHistogram(b, &a.h)
	}
	if err != nil && a.err == nil {
		a.err = err
	}
}

func (a *histSum) Done() ([]byte, error) {
	if a.err != nil {
		return nil, a.err
	}
	return a.h.AppendBinary(nil), nil
}

// histBuckets is the hist_buckets aggregate: a histogram of counts per
// bucket (a bucket out of range, or a count that is not a positive
// integer, is an error).
type histBuckets struct {
	h   trackskills.Histogram
	err error
}

func newHistBuckets() *histBuckets { return &histBuckets{} }

func (a *histBuckets) Step(bucket, n any) {
	b, bok := bucket.(int64)
	c, cok := n.(int64)
	switch {
	case a.err != nil:
	case !bok || !cok || b < 0 || b >= trackskills.HistBuckets || c <= 0:
		a.err = fmt.Errorf("hist_buckets(%v, %v): want a bucket in [0, %d) and a positive count", bucket, n, trackskills.HistBuckets)
	default:
		a.h.AddCount(int(b), uint64(c))
	}
}

func (a *histBuckets) Done() ([]byte, error) {
	if a.err != nil {
		return nil, a.err
	}
	return a.h.AppendBinary(nil), nil
}
