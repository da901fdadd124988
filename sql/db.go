// Package sql is the one adapter that knows SQL: it opens the SQLite
// database, applies the embedded migrations and exposes domain methods, so
// that no other package imports database/sql.
package sql

import (
	"context"
	dbsql "database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the sqlite3 driver

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/runs"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the SQLite database of Track Skills.
type DB struct {
	pool     atomic.Pointer[dbsql.DB] // see conn
	path     string
	readOnly bool
	follow   *follower     // a read-only handle's watch of its path; nil for the writer
	w        writer        // the statements and memory of the writer; zero when read-only
	ckpt     *checkpointer // the writer's background checkpoint; nil when read-only
	ckptMu   sync.Mutex    // held by each checkpoint (checkpointer.mu)

	// SkipAggregates makes WriteBatch store raw rows only; benchmarks use
	// it to measure what the aggregates cost.
	SkipAggregates bool

	// Now is the clock; tests replace it.
	Now func() time.Time

	logger *slog.Logger // slow maintenance, such as migrations

	runIdle  time.Duration // the skill runs' idle timeout (WithRunIdleTimeout)
	skipRuns bool          // WithoutRuns

	pend        *pending       // the held events of a writer that defers its rollups (WithRollupDelay); nil if it does not
	rollupQuiet *time.Duration // WithRollupQuiet; nil: DefaultRollupQuiet

	runCacheSize int          // the run cache's bound (maxCachedSessions; tests set 0 for none)
	failCommit   func() error // when set, a batch fails with its error before the commit (tests)
}

// Option configures Open.
type Option func(*DB)

// WithRunIdleTimeout sets how long a session may stay quiet before its open
// skill runs end as abandoned (runs.DefaultIdleMs unless set).
func WithRunIdleTimeout(d time.Duration) Option {
	return func(db *DB) { db.runIdle = d }
}

// WithoutRuns makes the writer keep no skill runs; benchmarks use it to
// measure what the runs cost.
func WithoutRuns() Option {
	return func(db *DB) { db.skipRuns = true }
}

// WithLogger reports slow maintenance, such as migrations, to logger.
func WithLogger(logger *slog.Logger) Option {
	return func(d *DB) { d.logger = logger }
}

// stmts are the prepared statements of the writer.
type stmts struct {
	insert         *valuesStmt   // skill_usage_events
	insertedEvents *dbsql.Stmt   // skill_usage_events, the rows an insert stored
	dead           *dbsql.Stmt   // dead_letters
	upHourly       *dbsql.Stmt   // tool_hourly
	upDaily        *dbsql.Stmt   // tool_daily
	upErr          *dbsql.Stmt   // tool_daily_errors
	upUser         *dbsql.Stmt   // user_daily
	upFirst        *dbsql.Stmt   // user_first_seen
	upWeek         *dbsql.Stmt   // user_weekly
	upLast         *dbsql.Stmt   // user_last_seen
	toolUsers      userTables    // tool_user_daily, tool_user_last_seen, tool_last_seen_counts, tool_daily_users
	mcp            mcpStmts      // the MCP rollups (mcp.go)
	runs           runStmts      // the skill runs (runs.go)
	costs          costStmts     // the cost ledger (costs.go)
	coverage       coverageStmts // which sources report the calls (coverage.go)
}

// Open opens (creating it when needed) the database at path for writing and
// applies every pending migration. Only one writer should exist: writes are
// serialised on a single connection.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	registerDriver()
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database dir: %w", err)
		}
	}
	// Pragmas go in the DSN so that every pooled connection gets them.
	// synchronous=FULL: a commit is on disk before the consumer acks the
	// stream, so a power cut cannot lose an acknowledged batch; the cost is
	// one fsync per batch of up to ~1,000 events.
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "5000")
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	q.Set("_cache_size", fmt.Sprint(-normalCacheKiB))
	db, err := dbsql.Open(writerDriverName, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1)
	d := &DB{path: path, Now: time.Now, logger: slog.New(slog.DiscardHandler), runIdle: runs.DefaultIdleMs * time.Millisecond,
		runCacheSize: maxCachedSessions}
	d.pool.Store(db)
	for _, o := range opts {
		o(d)
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	if err := d.migrate(ctx); err != nil {
		_ = db.Close() // the migrate error is the one to report
		return nil, err
	}
	st, err := prepare(ctx, db)
	if err != nil {
		_ = db.Close() // the prepare error is the one to report
		return nil, err
	}
	d.w = writer{stmt: st, seen: newSeenUsers(), cache: newRunCache(d.runCacheSize), idleMs: d.runIdle.Milliseconds(), skipRuns: d.skipRuns}
	if d.ckpt, err = startCheckpointer(path, &d.ckptMu, d.logger); err != nil {
		_ = d.Close() // the checkpointer's error is the one to report
		return nil, err
	}
	if err := d.recoverPending(ctx); err != nil {
		_ = d.Close() // the recovery's error is the one to report
		return nil, err
	}
	if d.pend != nil {
		d.pend.setQuiet(d.rollupQuiet)
		d.startFlusher()
	}
	return d, nil
}

// OpenReadOnly opens an existing database for reading only. It waits, up to
// ctx, until the writer has created the schema. The handle follows its
// path: when another file is renamed into place (a rebuild adopted), it
// moves its reads to the new file within a second or two.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	d := &DB{path: path, readOnly: true, Now: time.Now, logger: slog.New(slog.DiscardHandler)}
	db, fi, err := d.openReadPool(ctx)
	if err != nil {
		return nil, err
	}
	d.pool.Store(db)
	d.follow = startFollower(d, fi)
	return d, nil
}

// openReadPool opens a read-only pool on the path and waits, up to ctx,
// until its schema is complete; it returns the file it opened.
func (d *DB) openReadPool(ctx context.Context) (*dbsql.DB, os.FileInfo, error) {
	registerDriver()
	// The file is named before the pool opens it: if it is replaced in
	// between, the follower sees a change and opens the new one.
	fi, _ := os.Stat(d.path) // a missing file is waited for below
	db, err := dbsql.Open(driverName, readOnlyDSN(d.path))
	if err != nil {
		return nil, nil, fmt.Errorf("open database read-only: %w", err)
	}
	for {
		var n int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations`).Scan(&n)
		if err == nil && n >= d.migrationCount() {
			if fi == nil {
				fi, _ = os.Stat(d.path)
			}
			return db, fi, nil
		}
		select {
		case <-ctx.Done():
			_ = db.Close() // the wait's end is the error to report
			if err == nil {
				err = fmt.Errorf("schema has %d of %d migrations", n, d.migrationCount())
			}
			return nil, nil, fmt.Errorf("wait for schema: %w (last: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close closes the database.
func (d *DB) Close() error {
	var errs []error
	if d.follow != nil {
		d.follow.stop()
	}
	if d.w.stmt != nil {
		errs = append(errs, d.stopFlusher())
	}
	if d.ckpt != nil {
		errs = append(errs, d.ckpt.close())
	}
	if d.w.stmt != nil {
		errs = append(errs, d.w.stmt.close())
	}
	errs = append(errs, d.conn().Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// conn returns the pool of the database: the writer's one connection, or a
// read-only handle's pool on the file its path names now.
func (d *DB) conn() *dbsql.DB { return d.pool.Load() }

// Path returns the file the database lives in.
func (d *DB) Path() string { return d.path }

// Ping checks that the database answers a query.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.conn().QueryRowContext(ctx, `SELECT 1 FROM migrations LIMIT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

func (d *DB) migrationNames() []string {
	names, _ := fs.Glob(migrations, "migrations/*.sql") // the pattern is constant and valid
	sort.Strings(names)
	return names
}

func (d *DB) migrationCount() int { return len(d.migrationNames()) }

// migrate applies, in name order and one transaction each, every embedded
// migration not yet recorded in the migrations table.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.conn().ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	for _, name := range d.migrationNames() {
		if err := d.migrateOne(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", filepath.Base(name), err)
		}
	}
	return nil
}

func (d *DB) migrateOne(ctx context.Context, name string) error {
	tx, err := d.conn().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, filepath.Base(name)).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	d.logger.Info("applying migration", "migration", filepath.Base(name))
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`,
		filepath.Base(name), d.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// prepare prepares the writer's statements on db.
func prepare(ctx context.Context, db *dbsql.DB) (*stmts, error) {
	s := &stmts{}
	if err := s.prepare(ctx, db); err != nil {
		_ = s.close() // the prepare error is the one to report
		return nil, err
	}
	return s, nil
}

func (s *stmts) prepare(ctx context.Context, db *dbsql.DB) error {
	var err error
	// The raw rows of a batch are bound values (valuesStmt): binding
	// them costs less than building and parsing one JSON argument, as the
	// rollups do for their fewer rows. An event id is a ULID's 16 bytes,
	// or text (eventKey). A statement's rows get row ids in the order of
	// its VALUES.
	s.insert, err = prepareValues(ctx, db, eventCols, `INSERT OR IGNORE INTO skill_usage_events (
		event_id, user_id_hash, session_hash, tool_name, tool_category, timestamp,
		duration_ms, status, error_type, error_message, request_size_bytes,
		response_size_bytes, metadata, source, received_at, stream_seq, mcp_server, mcp_tool
	) VALUES `, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "")
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	// The ids of the rows an insert stored: those after a row id.
	s.insertedEvents, err = db.PrepareContext(ctx, `SELECT event_id FROM skill_usage_events WHERE id > ?`)
	if err != nil {
		return fmt.Errorf("prepare inserted events read: %w", err)
	}
	s.dead, err = db.PrepareContext(ctx, `INSERT OR IGNORE INTO dead_letters (
		stream_seq, subject, reason, headers, payload, stored_at
	) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare dead letter insert: %w", err)
	}
	// The rollups read their rows from one JSON argument (jsonRows): text
	// and blobs in hex, so CAST(unhex(…) AS TEXT) and unhex(…). The SELECT
	// of an upsert needs its WHERE so that ON CONFLICT is not read as a
	// join constraint.
	for _, p := range []struct {
		stmt  **dbsql.Stmt
		table string
		key   string
	}{{&s.upHourly, "tool_hourly", "hour"}, {&s.upDaily, "tool_daily", "day"}} {
		// The table and key names are constants of this function.
		*p.stmt, err = db.PrepareContext(ctx, `INSERT INTO `+p.table+` (`+p.key+`, tool_name, tool_category,
			invocations, successes, errors, timeouts, duration_count, duration_sum, duration_max, latency_hist)
		SELECT value->>0, CAST(unhex(value->>1) AS TEXT), CAST(unhex(value->>2) AS TEXT), value->>3, value->>4,
			value->>5, value->>6, value->>7, value->>8, value->>9, unhex(value->>10)
		FROM jsonb_each(?) WHERE true
		ON CONFLICT (`+p.key+`, tool_name, tool_category) DO UPDATE SET
			invocations = invocations + excluded.invocations,
			successes = successes + excluded.successes,
			errors = errors + excluded.errors,
			timeouts = timeouts + excluded.timeouts,
			duration_count = duration_count + excluded.duration_count,
			duration_sum = duration_sum + excluded.duration_sum,
			duration_max = MAX(COALESCE(duration_max, excluded.duration_max), COALESCE(excluded.duration_max, duration_max)),
			latency_hist = hist_merge(latency_hist, excluded.latency_hist)`)
		if err != nil {
			return fmt.Errorf("prepare %s upsert: %w", p.table, err)
		}
	}
	s.upUser, err = db.PrepareContext(ctx, `INSERT INTO user_daily (day, user_id_hash)
		SELECT value->>0, unhex(value->>1) FROM jsonb_each(?) WHERE true
		ON CONFLICT DO NOTHING RETURNING day, user_id_hash`)
	if err != nil {
		return fmt.Errorf("prepare user_daily insert: %w", err)
	}
	s.upFirst, err = db.PrepareContext(ctx, `INSERT INTO user_first_seen (user_id_hash, day)
		SELECT unhex(value->>0), value->>1 FROM jsonb_each(?) WHERE true
		ON CONFLICT (user_id_hash) DO UPDATE SET day = excluded.day WHERE excluded.day < day`)
	if err != nil {
		return fmt.Errorf("prepare user_first_seen upsert: %w", err)
	}
	s.upLast, err = db.PrepareContext(ctx, `INSERT INTO user_last_seen (user_id_hash, day)
		SELECT unhex(value->>0), value->>2 FROM jsonb_each(?) WHERE true
		ON CONFLICT (user_id_hash) DO UPDATE SET day = excluded.day WHERE excluded.day > day`)
	if err != nil {
		return fmt.Errorf("prepare user_last_seen upsert: %w", err)
	}
	s.upWeek, err = db.PrepareContext(ctx, `INSERT OR IGNORE INTO user_weekly (week, user_id_hash)
		SELECT date(value->>0, 'weekday 0', '-6 days'), unhex(value->>1) FROM jsonb_each(?)`)
	if err != nil {
		return fmt.Errorf("prepare user_weekly insert: %w", err)
	}
	if s.toolUsers, err = prepareUserTables(ctx, db, userTableNames("tool"), "tool_name"); err != nil {
		return err
	}
	s.upErr, err = db.PrepareContext(ctx, `INSERT INTO tool_daily_errors (day, tool_name, tool_category, error_type, failures)
		SELECT value->>0, CAST(unhex(value->>1) AS TEXT), CAST(unhex(value->>2) AS TEXT), CAST(unhex(value->>3) AS TEXT), value->>4
		FROM jsonb_each(?) WHERE true
		ON CONFLICT (day, tool_name, tool_category, error_type) DO UPDATE SET failures = failures + excluded.failures`)
	if err != nil {
		return fmt.Errorf("prepare tool_daily_errors upsert: %w", err)
	}
	if err := s.mcp.prepare(ctx, db); err != nil {
		return err
	}
	if err := s.costs.prepare(ctx, db); err != nil {
		return err
	}
	if err := s.coverage.prepare(ctx, db); err != nil {
		return err
	}
	return s.runs.prepare(ctx, db)
}

// close closes every statement prepared.
func (s *stmts) close() error {
	var errs []error
	for _, v := range []*valuesStmt{s.insert, s.runs.logChunks, s.runs.upRuns} {
		if v != nil {
			errs = append(errs, v.close())
		}
	}
	for _, st := range append([]*dbsql.Stmt{s.insertedEvents, s.dead, s.upHourly, s.upDaily, s.upErr, s.upUser, s.upFirst, s.upWeek,
		s.upLast}, append(append(append(s.toolUsers.list(), s.mcp.list()...), s.runs.list()...), append(s.costs.list(), s.coverage.list()...)...)...) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// DeadLetter is a stream message that cannot be decoded, kept with its reason.
type DeadLetter struct {
	StreamSeq uint64
	Subject   string
	Reason    string
	Headers   string // JSON object of the message headers
	Payload   []byte
}

// BatchResult says what a WriteBatch stored.
type BatchResult struct {
	Inserted    int // new rows in skill_usage_events
	Ignored     int // tool calls already stored (redeliveries, retries)
	Marks       int // events that are no tool calls (a Kind): session marks, inventory
	DeadLetters int // dead-letter rows written
}

// WriteBatch stores events and dead letters in one transaction. Events whose
// event_id is already stored are ignored, so a redelivered batch changes
// nothing. When it returns nil the batch is committed and durable.
func (d *DB) WriteBatch(ctx context.Context, events []trackskills.Event, dead []DeadLetter) (BatchResult, error) {
	return d.writeBatch(ctx, events, dead, nil)
}

// writeBatch is WriteBatch; also, when not nil, runs inside the
// transaction, before the commit.
func (d *DB) writeBatch(ctx context.Context, events []trackskills.Event, dead []DeadLetter, also func(*dbsql.Tx) error) (BatchResult, error) {
	var res BatchResult
	if d.readOnly {
		return res, errors.New("write batch: database is open read-only")
	}
	// One batch at a time uses the run cache, from before its
	// transaction to after its commit is recorded.
	d.w.cache.mu.Lock()
	defer d.w.cache.mu.Unlock()
	// A deferring writer rolls up what it holds first when that is due,
	// and always before a batch that does not defer (one with also).
	deferring := d.pend != nil && also == nil && !d.SkipAggregates
	if d.pend != nil && (!deferring || d.pend.due(d.Now())) {
		if err := d.flushLocked(ctx); err != nil {
			return res, err
		}
	}
	tx, err := d.conn().BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("begin batch: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	b := newBatch()
	b.deferred = deferring
	if deferring {
		b.fresh = d.pend.spare[:0]
	}
	if b.runsOff = d.w.skipRuns; !b.runsOff && !deferring {
		b.runEvents = make([]runInput, 0, len(events))
	}
	defer b.buffers()()
	var next int64 // the row id of the batch's first raw row, for a deferral's first
	if deferring && !d.pend.started {
		if next, err = nextEventID(tx); err != nil {
			return res, err
		}
	}
	n, err := d.insertEvents(ctx, tx, events, b)
	if err != nil {
		return res, err
	}
	res.Inserted, res.Marks = n, len(b.marks)
	res.Ignored = len(events) - n - res.Marks
	if deferring {
		if err := d.deferBatch(tx, b, next); err != nil {
			return res, err
		}
	} else if err := d.w.write(tx, b); err != nil {
		return res, err
	}
	if len(dead) > 0 {
		dl := tx.StmtContext(ctx, d.w.stmt.dead)
		now := d.Now().UnixMilli()
		for _, m := range dead {
			r, err := dl.ExecContext(ctx, int64(m.StreamSeq), m.Subject, m.Reason, m.Headers, m.Payload, now)
			if err != nil {
				return res, fmt.Errorf("insert dead letter %d: %w", m.StreamSeq, err)
			}
			if n, _ := r.RowsAffected(); n > 0 { // a redelivered poison message is already kept
				res.DeadLetters++
			}
		}
	}
	if also != nil {
		if err := also(tx); err != nil {
			return res, err
		}
	}
	if d.failCommit != nil {
		if err := d.failCommit(); err != nil {
			return res, err
		}
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit batch: %w", err)
	}
	if deferring {
		if b.holds() {
			d.pend.held(b, d.Now())
		}
		return res, nil
	}
	d.w.committed(b)
	return res, nil
}

// CountEvents returns the number of stored events.
func (d *DB) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := d.conn().QueryRowContext(ctx, `SELECT COUNT(*) FROM skill_usage_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// DeadLetterReasons returns the reason of every dead letter, oldest first.
func (d *DB) DeadLetterReasons(ctx context.Context) ([]string, error) {
	rows, err := d.conn().QueryContext(ctx, `SELECT reason FROM dead_letters ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("scan dead letter: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// Events returns every stored event, in insertion order. It is meant for
// tests and small tools; analytics reads aggregates.
func (d *DB) Events(ctx context.Context) ([]trackskills.Event, error) {
	return eventsFrom(ctx, d.conn(), 0)
}

// queryer is a connection pool or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*dbsql.Rows, error)
}

// eventsFrom returns the stored events whose row id is from or above, in
// insertion order.
func eventsFrom(ctx context.Context, q queryer, from int64) ([]trackskills.Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT event_id_text(event_id), lower(hex(user_id_hash)), lower(hex(session_hash)),
		tool_name, tool_category, timestamp, duration_ms, status, COALESCE(error_type, ''),
		COALESCE(error_message, ''), request_size_bytes, response_size_bytes, COALESCE(metadata, ''),
		source, received_at, stream_seq, COALESCE(mcp_server, ''), COALESCE(mcp_tool, '') FROM skill_usage_events
		WHERE id >= ? ORDER BY id`, from)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []trackskills.Event
	for rows.Next() {
		var ev trackskills.Event
		var dur, req, resp dbsql.NullInt64
		var meta string
		var seq int64
		if err := rows.Scan(&ev.EventID, &ev.UserHash, &ev.SessionHash, &ev.ToolName, &ev.ToolCategory,
			&ev.Timestamp, &dur, &ev.Status, &ev.ErrorType, &ev.ErrorMessage, &req, &resp, &meta,
			&ev.Source, &ev.ReceivedAt, &seq, &ev.MCPServer, &ev.MCPTool); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		ev.DurationMs, ev.RequestSizeBytes, ev.ResponseSizeBytes = ptr(dur), ptr(req), ptr(resp)
		if meta != "" {
			ev.Metadata = []byte(meta)
		}
		ev.StreamSeq = uint64(seq)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

func ptr(n dbsql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// LimitSize caps the database file at about maxBytes: past it, writes fail
// with SQLITE_FULL exactly as on a full disk. It applies to the writer's
// single connection; 0 removes the cap.
func (d *DB) LimitSize(ctx context.Context, maxBytes int64) error {
	var pageSize int64
	if err := d.conn().QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return fmt.Errorf("read page size: %w", err)
	}
	pages := int64(1 << 31)
	if maxBytes > 0 {
		pages = max(maxBytes/pageSize, 1)
	}
	// PRAGMA takes no bound parameters; pages is an integer we computed.
	if _, err := d.conn().ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		return fmt.Errorf("set max page count: %w", err)
	}
	return nil
}
