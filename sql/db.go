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
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the sqlite3 driver

	"github.com/trackskills/trackskills"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the SQLite database of Track Skills.
type DB struct {
	db       *dbsql.DB
	path     string
	readOnly bool
	insert   *dbsql.Stmt
	dead     *dbsql.Stmt
	upHourly *dbsql.Stmt
	upDaily  *dbsql.Stmt
	upUser   *dbsql.Stmt
	upTool   *dbsql.Stmt
	upFirst  *dbsql.Stmt
	upWeek   *dbsql.Stmt
	upLast   *dbsql.Stmt
	upTLast  *dbsql.Stmt
	getTLast *dbsql.Stmt
	upTCount *dbsql.Stmt
	upTDay   *dbsql.Stmt
	upErr    *dbsql.Stmt

	// SkipAggregates makes WriteBatch store raw rows only; benchmarks use
	// it to measure what the aggregates cost.
	SkipAggregates bool

	// seen remembers the (day, user) and (day, tool, user) rows known to
	// exist, for the writer to skip; it is only touched after a commit.
	seen *seenUsers

	// Now is the clock; tests replace it.
	Now func() time.Time

	// Logf, when set, reports slow maintenance such as migrations.
	Logf func(format string, args ...any)
}

// Option configures Open.
type Option func(*DB)

// WithLogf reports slow maintenance, such as migrations, through logf.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(d *DB) { d.Logf = logf }
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
	q.Set("_cache_size", "-32000")
	db, err := dbsql.Open(driverName, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1)
	d := &DB{db: db, path: path, Now: time.Now, seen: newSeenUsers()}
	for _, o := range opts {
		o(d)
	}
	if err := d.migrate(ctx); err != nil {
		_ = db.Close() // the migrate error is the one to report
		return nil, err
	}
	if err := d.prepare(ctx); err != nil {
		_ = db.Close() // the prepare error is the one to report
		return nil, err
	}
	return d, nil
}

// OpenReadOnly opens an existing database for reading only. It waits, up to
// ctx, until the writer has created the schema.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	registerDriver()
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "5000")
	db, err := dbsql.Open(driverName, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database read-only: %w", err)
	}
	d := &DB{db: db, path: path, readOnly: true, Now: time.Now}
	for {
		var n int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations`).Scan(&n)
		if err == nil && n >= d.migrationCount() {
			return d, nil
		}
		select {
		case <-ctx.Done():
			_ = db.Close() // the wait's end is the error to report
			if err == nil {
				err = fmt.Errorf("schema has %d of %d migrations", n, d.migrationCount())
			}
			return nil, fmt.Errorf("wait for schema: %w (last: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close closes the database.
func (d *DB) Close() error {
	var errs []error
	for _, s := range []*dbsql.Stmt{d.insert, d.dead, d.upHourly, d.upDaily, d.upUser, d.upTool, d.upFirst, d.upWeek, d.upLast, d.upTLast, d.getTLast, d.upTCount, d.upTDay, d.upErr} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	errs = append(errs, d.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// Path returns the file the database lives in.
func (d *DB) Path() string { return d.path }

// Ping checks that the database answers a query.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.db.QueryRowContext(ctx, `SELECT 1 FROM migrations LIMIT 1`).Scan(&one); err != nil {
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
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
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
	tx, err := d.db.BeginTx(ctx, nil)
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
	if d.Logf != nil {
		d.Logf("applying migration %s", filepath.Base(name))
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`,
		filepath.Base(name), d.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

func (d *DB) prepare(ctx context.Context) error {
	var err error
	d.insert, err = d.db.PrepareContext(ctx, `INSERT OR IGNORE INTO skill_usage_events (
		event_id, user_id_hash, session_hash, tool_name, tool_category, timestamp,
		duration_ms, status, error_type, error_message, request_size_bytes,
		response_size_bytes, metadata, source, received_at, stream_seq
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	d.dead, err = d.db.PrepareContext(ctx, `INSERT OR IGNORE INTO dead_letters (
		stream_seq, subject, reason, headers, payload, stored_at
	) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare dead letter insert: %w", err)
	}
	for _, p := range []struct {
		stmt  **dbsql.Stmt
		table string
		key   string
	}{{&d.upHourly, "tool_hourly", "hour"}, {&d.upDaily, "tool_daily", "day"}} {
		// The table and key names are constants of this function.
		*p.stmt, err = d.db.PrepareContext(ctx, `INSERT INTO `+p.table+` (`+p.key+`, tool_name, tool_category,
			invocations, successes, errors, timeouts, duration_count, duration_sum, duration_max, latency_hist)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
	d.upUser, err = d.db.PrepareContext(ctx, `INSERT OR IGNORE INTO user_daily (day, user_id_hash) VALUES (?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare user_daily insert: %w", err)
	}
	d.upFirst, err = d.db.PrepareContext(ctx, `INSERT INTO user_first_seen (user_id_hash, day) VALUES (?, ?)
		ON CONFLICT (user_id_hash) DO UPDATE SET day = excluded.day WHERE excluded.day < day`)
	if err != nil {
		return fmt.Errorf("prepare user_first_seen upsert: %w", err)
	}
	d.upLast, err = d.db.PrepareContext(ctx, `INSERT INTO user_last_seen (user_id_hash, day) VALUES (?, ?)
		ON CONFLICT (user_id_hash) DO UPDATE SET day = excluded.day WHERE excluded.day > day`)
	if err != nil {
		return fmt.Errorf("prepare user_last_seen upsert: %w", err)
	}
	d.upTLast, err = d.db.PrepareContext(ctx, `INSERT INTO tool_user_last_seen (tool_name, user_id_hash, day) VALUES (?, ?, ?)
		ON CONFLICT (tool_name, user_id_hash) DO UPDATE SET day = excluded.day WHERE excluded.day > day`)
	if err != nil {
		return fmt.Errorf("prepare tool_user_last_seen upsert: %w", err)
	}
	d.getTLast, err = d.db.PrepareContext(ctx, `SELECT day FROM tool_user_last_seen WHERE tool_name = ? AND user_id_hash = ?`)
	if err != nil {
		return fmt.Errorf("prepare tool_user_last_seen read: %w", err)
	}
	d.upTCount, err = d.db.PrepareContext(ctx, `INSERT INTO tool_last_seen_counts (tool_name, day, users) VALUES (?, ?, ?)
		ON CONFLICT (tool_name, day) DO UPDATE SET users = users + excluded.users`)
	if err != nil {
		return fmt.Errorf("prepare tool_last_seen_counts upsert: %w", err)
	}
	d.upTDay, err = d.db.PrepareContext(ctx, `INSERT INTO tool_daily_users (tool_name, day, users) VALUES (?, ?, ?)
		ON CONFLICT (tool_name, day) DO UPDATE SET users = users + excluded.users`)
	if err != nil {
		return fmt.Errorf("prepare tool_daily_users upsert: %w", err)
	}
	d.upErr, err = d.db.PrepareContext(ctx, `INSERT INTO tool_daily_errors (day, tool_name, tool_category, error_type, failures)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (tool_name, day, tool_category, error_type) DO UPDATE SET failures = failures + excluded.failures`)
	if err != nil {
		return fmt.Errorf("prepare tool_daily_errors upsert: %w", err)
	}
	d.upWeek, err = d.db.PrepareContext(ctx, `INSERT OR IGNORE INTO user_weekly (week, user_id_hash) VALUES (date(?, 'weekday 0', '-6 days'), ?)`)
	if err != nil {
		return fmt.Errorf("prepare user_weekly insert: %w", err)
	}
	d.upTool, err = d.db.PrepareContext(ctx, `INSERT OR IGNORE INTO tool_user_daily (day, tool_name, user_id_hash) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare tool_user_daily upsert: %w", err)
	}
	return nil
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
	Ignored     int // events already stored (redeliveries, retries)
	DeadLetters int // dead-letter rows written
}

// WriteBatch stores events and dead letters in one transaction. Events whose
// event_id is already stored are ignored, so a redelivered batch changes
// nothing. When it returns nil the batch is committed and durable.
func (d *DB) WriteBatch(ctx context.Context, events []trackskills.Event, dead []DeadLetter) (BatchResult, error) {
	var res BatchResult
	if d.readOnly {
		return res, errors.New("write batch: database is open read-only")
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("begin batch: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	ins := tx.StmtContext(ctx, d.insert)
	agg := newAggregates()
	for i := range events {
		// Exec without the context: with a cancellable one, go-sqlite3
		// runs every statement on a new goroutine so that it can
		// interrupt it. The batch still stops between rows when ctx ends.
		if i%256 == 0 && ctx.Err() != nil {
			return res, fmt.Errorf("write batch: %w", ctx.Err())
		}
		ev := &events[i]
		r, err := ins.Exec(
			eventKey(ev.EventID), hashKey(ev.UserHash), nullHashKey(ev.SessionHash), ev.ToolName, ev.ToolCategory, ev.Timestamp,
			nullInt(ev.DurationMs), ev.Status, nullString(ev.ErrorType), nullString(ev.ErrorMessage),
			nullInt(ev.RequestSizeBytes), nullInt(ev.ResponseSizeBytes), nullString(string(ev.Metadata)),
			ev.Source, ev.ReceivedAt, int64(ev.StreamSeq))
		if err != nil {
			return res, fmt.Errorf("insert event %s: %w", ev.EventID, err)
		}
		if n, _ := r.RowsAffected(); n > 0 { // sqlite3 always returns a count
			res.Inserted++
			if !d.SkipAggregates {
				agg.add(ev)
			}
		} else {
			res.Ignored++
		}
	}
	if err := agg.write(tx, d); err != nil {
		return res, err
	}
	if len(dead) > 0 {
		dl := tx.StmtContext(ctx, d.dead)
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
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit batch: %w", err)
	}
	agg.committed(d.seen)
	return res, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// CountEvents returns the number of stored events.
func (d *DB) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM skill_usage_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// DeadLetterReasons returns the reason of every dead letter, oldest first.
func (d *DB) DeadLetterReasons(ctx context.Context) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT reason FROM dead_letters ORDER BY id`)
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
	rows, err := d.db.QueryContext(ctx, `SELECT event_id_text(event_id), lower(hex(user_id_hash)), lower(hex(session_hash)),
		tool_name, tool_category, timestamp, duration_ms, status, COALESCE(error_type, ''),
		COALESCE(error_message, ''), request_size_bytes, response_size_bytes, COALESCE(metadata, ''),
		source, received_at, stream_seq FROM skill_usage_events ORDER BY id`)
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
			&ev.Source, &ev.ReceivedAt, &seq); err != nil {
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
	if err := d.db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return fmt.Errorf("read page size: %w", err)
	}
	pages := int64(1 << 31)
	if maxBytes > 0 {
		pages = max(maxBytes/pageSize, 1)
	}
	// PRAGMA takes no bound parameters; pages is an integer we computed.
	if _, err := d.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		return fmt.Errorf("set max page count: %w", err)
	}
	return nil
}
