package sql_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

func TestOpen(t *testing.T) {
	// Ensure migrations are applied once: a reopened file keeps its schema
	// and its rows, and the migrations table is not written again.
	t.Run("MigratesOnce", func(t *testing.T) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "data", "trackskills.db")

		db, err := sql.Open(ctx, path)
		if err != nil {
			t.Fatalf("first open: %v", err)
		}
		if _, err := db.WriteBatch(ctx, newEvents("first", 3), nil); err != nil {
			t.Fatalf("first write: %v", err)
		}
		if got, want := db.Path(), path; got != want {
			t.Fatalf("path=%q, want %q", got, want)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("first close: %v", err)
		}
		before := migrationRows(t, path)
		if len(before) == 0 {
			t.Fatal("no migration recorded after the first open")
		}

		db = testkit.MustOpenDBAt(t, path)
		if got, want := migrationRows(t, path), before; !reflect.DeepEqual(got, want) {
			t.Fatalf("migrations after reopen=%v, want %v", got, want)
		}
		res, err := db.WriteBatch(ctx, newEvents("second", 2), nil)
		if err != nil {
			t.Fatalf("second write: %v", err)
		}
		if got, want := res.Inserted, 2; got != want {
			t.Fatalf("inserted=%d, want %d", got, want)
		}
		if got, want := mustCount(t, db), int64(5); got != want {
			t.Fatalf("count=%d, want %d", got, want)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}

		ro, err := sql.OpenReadOnly(ctx, path)
		if err != nil {
			t.Fatalf("open read-only: %v", err)
		}
		defer ro.Close()
		if got, want := mustCount(t, ro), int64(5); got != want {
			t.Fatalf("read-only count=%d, want %d", got, want)
		}
	})
}

// migrationRows returns name=applied_at of every recorded migration.
func migrationRows(tb testing.TB, path string) []string {
	tb.Helper()
	raw := mustOpenRaw(tb, path)
	rows, err := raw.Query(`SELECT name, applied_at FROM migrations ORDER BY name`)
	if err != nil {
		tb.Fatalf("list migrations: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var at int64
		if err := rows.Scan(&name, &at); err != nil {
			tb.Fatalf("scan migration: %v", err)
		}
		out = append(out, fmt.Sprintf("%s=%d", name, at))
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("list migrations: %v", err)
	}
	if err := raw.Close(); err != nil {
		tb.Fatalf("close raw database: %v", err)
	}
	return out
}

func TestOpen_TempStore(t *testing.T) {
	// Ensure the writer keeps SQLite's temporary files in memory and a
	// reader keeps the default, which lets a large sort spill to disk.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trackskills.db")
	w := testkit.MustOpenDBAt(t, path)
	r, err := sql.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("open read-only: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	for _, tt := range []struct {
		name string
		db   *sql.DB
		want int
	}{{"Writer", w, 2}, {"Reader", r, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sql.TempStore(ctx, tt.db)
			if err != nil {
				t.Fatalf("read temp_store: %v", err)
			}
			if got != tt.want {
				t.Errorf("temp_store = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOpenReadOnly(t *testing.T) {
	// Ensure a reader waits for the writer's schema and gives up with an
	// error when its context ends.
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{name: "NoFile", setup: func(*testing.T, string) {}},
		{name: "EmptyFile", setup: func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "NoMigrations", setup: func(t *testing.T, path string) {
			raw := mustOpenRaw(t, path)
			if _, err := raw.Exec(`CREATE TABLE other (id INTEGER PRIMARY KEY)`); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "MigrationsTableEmpty", setup: func(t *testing.T, path string) {
			raw := mustOpenRaw(t, path)
			if _, err := raw.Exec(`CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trackskills.db")
			tt.setup(t, path)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			db, err := sql.OpenReadOnly(ctx, path)
			if err == nil {
				db.Close()
				t.Fatal("OpenReadOnly succeeded on a database without schema")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err=%v, want context.DeadlineExceeded", err)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Fatalf("OpenReadOnly returned after %v, want about 300ms", elapsed)
			}
		})
	}

	// Ensure a reader that starts before the writer opens once the schema
	// exists.
	t.Run("WaitsForWriter", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "trackskills.db")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		type result struct {
			db  *sql.DB
			err error
		}
		done := make(chan result, 1)
		go func() {
			db, err := sql.OpenReadOnly(ctx, path)
			done <- result{db, err}
		}()
		testkit.MustOpenDBAt(t, path)
		r := <-done
		if r.err != nil {
			t.Fatalf("open read-only: %v", r.err)
		}
		defer r.db.Close()
		if got, want := mustCount(t, r.db), int64(0); got != want {
			t.Fatalf("count=%d, want %d", got, want)
		}
	})
}

func TestDB_WriteBatch(t *testing.T) {
	ctx := context.Background()

	// A mark is no tool call: no row, no invocation, counted apart.
	t.Run("MarksAreNoToolCalls", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		stop := newEvent("mark-1")
		stop.Kind, stop.ToolName = trackskills.KindStop, "Stop"
		res, err := db.WriteBatch(ctx, []trackskills.Event{newEvent("call-1"), stop}, nil)
		if err != nil {
			t.Fatalf("write batch: %v", err)
		}
		if got, want := res, (sql.BatchResult{Inserted: 1, Marks: 1}); got != want {
			t.Fatalf("result=%+v, want %+v", got, want)
		}
		if n, err := db.CountEvents(ctx); err != nil || n != 1 {
			t.Fatalf("%d events stored (%v), want 1: the tool call only", n, err)
		}
	})

	// Ensure every field is stored and read back intact.
	t.Run("OK", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		full := trackskills.Event{
			EventID:           "01JKZ4W5Q2N8X7Y6V5T4S3R2Q1",
			ToolName:          "pdf_extract ünïcødé 🚀",
			ToolCategory:      "documents",
			Status:            trackskills.StatusError,
			DurationMs:        i64(1234),
			ErrorType:         "TimeoutError",
			ErrorMessage:      "took too long: \"quoted\"\nsecond line",
			Metadata:          []byte(`{"model":"claude","n":3,"nested":{"a":[1,2]}}`),
			RequestSizeBytes:  i64(0),
			ResponseSizeBytes: i64(1 << 40),
			Timestamp:         testNow.Add(-time.Hour).UnixMilli(),
			ReceivedAt:        testNow.UnixMilli(),
			UserHash:          "fedcba9876543210fedcba9876543210",
			SessionHash:       "00112233445566778899aabbccddeeff",
			Source:            "hook",
			StreamSeq:         42,
		}
		bare := newEvent("bare-1")
		bare.StreamSeq = 43
		want := []trackskills.Event{full, bare}

		res, err := db.WriteBatch(ctx, want, nil)
		if err != nil {
			t.Fatalf("write batch: %v", err)
		}
		if got, want := res, (sql.BatchResult{Inserted: 2}); got != want {
			t.Fatalf("result=%+v, want %+v", got, want)
		}
		got, err := db.Events(ctx)
		if err != nil {
			t.Fatalf("events: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("len(events)=%d, want %d", len(got), len(want))
		}
		for i := range want {
			// Hashes come back in their stored form (keys.go).
			want[i].UserHash, want[i].SessionHash = sql.StoredHash(want[i].UserHash), sql.StoredHash(want[i].SessionHash)
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("event %d:\n got %s\nwant %s", i, dump(got[i]), dump(want[i]))
			}
		}

		// Empty optional fields are NULL in the table, not 0 or ''.
		raw := mustOpenRaw(t, db.Path())
		var nulls int
		if err := raw.QueryRow(`SELECT
			(session_hash IS NULL) + (duration_ms IS NULL) + (error_type IS NULL) +
			(error_message IS NULL) + (request_size_bytes IS NULL) +
			(response_size_bytes IS NULL) + (metadata IS NULL)
			FROM skill_usage_events WHERE event_id = ?`, bare.EventID).Scan(&nulls); err != nil {
			t.Fatalf("read nulls: %v", err)
		}
		if got, want := nulls, 7; got != want {
			t.Fatalf("NULL columns=%d, want %d", got, want)
		}
	})

	// Ensure a redelivered batch is ignored: exactly once in the database.
	t.Run("Redelivered", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		evs := newEvents("redeliver", 50)
		res, err := db.WriteBatch(ctx, evs, nil)
		if err != nil {
			t.Fatalf("first write: %v", err)
		}
		if got, want := res, (sql.BatchResult{Inserted: 50}); got != want {
			t.Fatalf("first result=%+v, want %+v", got, want)
		}
		res, err = db.WriteBatch(ctx, evs, nil)
		if err != nil {
			t.Fatalf("second write: %v", err)
		}
		if got, want := res, (sql.BatchResult{Ignored: 50}); got != want {
			t.Fatalf("second result=%+v, want %+v", got, want)
		}
		if got, want := mustCount(t, db), int64(50); got != want {
			t.Fatalf("count=%d, want %d", got, want)
		}
	})

	// Ensure duplicate event IDs inside one batch count once, and the first
	// one wins.
	t.Run("DuplicateInBatch", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		a, b, c := newEvent("dup"), newEvent("dup"), newEvent("other")
		b.ToolName = "second_copy"
		res, err := db.WriteBatch(ctx, []trackskills.Event{a, b, c}, nil)
		if err != nil {
			t.Fatalf("write batch: %v", err)
		}
		if got, want := res, (sql.BatchResult{Inserted: 2, Ignored: 1}); got != want {
			t.Fatalf("result=%+v, want %+v", got, want)
		}
		evs, err := db.Events(ctx)
		if err != nil {
			t.Fatalf("events: %v", err)
		}
		if got, want := len(evs), 2; got != want {
			t.Fatalf("len(events)=%d, want %d", got, want)
		}
		if got, want := evs[0].ToolName, a.ToolName; got != want {
			t.Fatalf("tool_name=%q, want %q", got, want)
		}
	})

	// Ensure poison messages are kept with their reason, once per stream
	// message even when redelivered.
	t.Run("DeadLetters", func(t *testing.T) {
		db := testkit.MustOpenDB(t)
		dead := []sql.DeadLetter{
			{StreamSeq: 7, Subject: trackskills.SubjectIngest, Reason: "line 1: invalid character", Headers: `{"Trackskills-Schema":["1"]}`, Payload: []byte("not json")},
			{StreamSeq: 9, Subject: trackskills.SubjectIngest, Reason: `unknown payload schema "9"`, Payload: []byte{0, 1, 2}},
		}
		res, err := db.WriteBatch(ctx, newEvents("live", 2), dead)
		if err != nil {
			t.Fatalf("write batch: %v", err)
		}
		if got, want := res, (sql.BatchResult{Inserted: 2, DeadLetters: 2}); got != want {
			t.Fatalf("result=%+v, want %+v", got, want)
		}

		// The same stream message again, in the batch and after it.
		res, err = db.WriteBatch(ctx, nil, []sql.DeadLetter{dead[0], dead[0]})
		if err != nil {
			t.Fatalf("write redelivered dead letter: %v", err)
		}
		if got, want := res, (sql.BatchResult{}); got != want {
			t.Fatalf("redelivered result=%+v, want %+v", got, want)
		}
		reasons, err := db.DeadLetterReasons(ctx)
		if err != nil {
			t.Fatalf("dead letter reasons: %v", err)
		}
		if got, want := reasons, []string{dead[0].Reason, dead[1].Reason}; !reflect.DeepEqual(got, want) {
			t.Fatalf("reasons=%q, want %q", got, want)
		}
		if got, want := mustCount(t, db), int64(2); got != want {
			t.Fatalf("count=%d, want %d", got, want)
		}
	})

}

func TestDB_LimitSize(t *testing.T) {
	// Ensure a full disk fails the whole batch, keeps nothing of it, and
	// that the same batch succeeds once there is room again.
	ctx := context.Background()
	db := testkit.MustOpenDB(t)
	if _, err := db.WriteBatch(ctx, newEvents("before", 10), nil); err != nil {
		t.Fatalf("write first batch: %v", err)
	}

	if err := db.LimitSize(ctx, dbSize(t, db.Path())+8192); err != nil {
		t.Fatalf("limit size: %v", err)
	}
	big := newEvents("big", 1000)
	for i := range big {
		big[i].ErrorMessage = strings.Repeat("x", trackskills.MaxErrorMessage)
		big[i].Status = trackskills.StatusError
	}
	_, err := db.WriteBatch(ctx, big, nil)
	if err == nil {
		t.Fatal("write past the size limit succeeded")
	}
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrFull {
		t.Fatalf("err=%v, want SQLITE_FULL", err)
	}
	if !strings.Contains(err.Error(), "database or disk is full") {
		t.Fatalf("err=%q, want it to say the database is full", err)
	}
	if got, want := mustCount(t, db), int64(10); got != want {
		t.Fatalf("count after failed batch=%d, want %d", got, want)
	}

	if err := db.LimitSize(ctx, 0); err != nil {
		t.Fatalf("remove size limit: %v", err)
	}
	res, err := db.WriteBatch(ctx, big, nil)
	if err != nil {
		t.Fatalf("write after removing the limit: %v", err)
	}
	if got, want := res, (sql.BatchResult{Inserted: 1000}); got != want {
		t.Fatalf("result=%+v, want %+v", got, want)
	}
	if got, want := mustCount(t, db), int64(1010); got != want {
		t.Fatalf("count=%d, want %d", got, want)
	}
}

// dbSize returns the size of the database in bytes, WAL pages included.
func dbSize(tb testing.TB, path string) int64 {
	tb.Helper()
	raw := mustOpenRaw(tb, path)
	var pages, pageSize int64
	if err := raw.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		tb.Fatalf("page count: %v", err)
	}
	if err := raw.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		tb.Fatalf("page size: %v", err)
	}
	if err := raw.Close(); err != nil {
		tb.Fatalf("close raw database: %v", err)
	}
	return pages * pageSize
}

func dump(ev trackskills.Event) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%+v", ev)
	for _, p := range []*int64{ev.DurationMs, ev.RequestSizeBytes, ev.ResponseSizeBytes} {
		if p != nil {
			fmt.Fprintf(&b, " *%d", *p)
		} else {
			b.WriteString(" nil")
		}
	}
	return b.String()
}

// TestOpen_CompactsOldRows: rows written before migration 0008 (ids and
// hashes as text) are converted, read back the same, and a redelivery of
// them is still recognised (a ULID id matches its 16-byte form).
func TestOpen_CompactsOldRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	raw := mustOpenRaw(t, path)
	for _, q := range []string{`CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`, string(init),
		`INSERT INTO migrations (name, applied_at) VALUES ('0001_init.sql', 1)`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	ts := time.Date(2026, 2, 9, 12, 0, 0, 0, time.UTC).UnixMilli()
	evs := []trackskills.Event{
		{EventID: "01JKZ4W5Q2N8X7Y6V5T4S3R2Q1", UserHash: "fedcba9876543210fedcba9876543210", SessionHash: "00112233445566778899aabbccddeeff"},
		{EventID: "client-id-7", UserHash: "fedcba9876543210fedcba9876543210"},
		{EventID: "01jkz4w5q2n8x7y6v5t4s3r2q2", UserHash: "0123456789abcdef0123456789abcdef"}, // lower case: kept as text
	}
	for i := range evs {
		ev := &evs[i]
		ev.ToolName, ev.ToolCategory, ev.Status, ev.Source, ev.Timestamp, ev.ReceivedAt = "t", "c", "success", "api", ts, ts
		if _, err := raw.Exec(`INSERT INTO skill_usage_events (event_id, user_id_hash, session_hash, tool_name, tool_category,
			timestamp, status, source, received_at, stream_seq) VALUES (?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?)`,
			ev.EventID, ev.UserHash, ev.SessionHash, ev.ToolName, ev.ToolCategory, ev.Timestamp, ev.Status, ev.Source, ev.ReceivedAt, i+1); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open(ctx, path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	got, err := db.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range got {
		if ev.EventID != evs[i].EventID || ev.UserHash != sql.StoredHash(evs[i].UserHash) || ev.SessionHash != sql.StoredHash(evs[i].SessionHash) {
			t.Errorf("event %d read back as %s %s %s", i, ev.EventID, ev.UserHash, ev.SessionHash)
		}
	}
	var blobs int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM skill_usage_events WHERE typeof(event_id) = 'blob' AND length(event_id) = 16
		AND typeof(user_id_hash) = 'blob' AND length(user_id_hash) = 8`).Scan(&blobs); err != nil || blobs != 1 {
		t.Errorf("%d rows with a 16-byte ULID and an 8-byte hash (%v), want 1", blobs, err)
	}
	for i := range evs {
		evs[i].StreamSeq = uint64(10 + i)
	}
	res, err := db.WriteBatch(ctx, evs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 0 || res.Ignored != len(evs) {
		t.Errorf("redelivery of converted rows: %+v, want all ignored", res)
	}
}
