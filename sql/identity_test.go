package sql_test

import (
	"context"
	dbsql "database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/sql"
	"github.com/trackskills/trackskills/testkit"
)

func TestDB_Identity(t *testing.T) {
	ctx := context.Background()
	a, b := testkit.MustOpenDB(t), testkit.MustOpenDB(t)
	ia, err := a.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := b.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(ia.DatabaseID) || ia.Durable != "trackskills-sqlite-"+ia.DatabaseID {
		t.Errorf("identity of a new database: %+v, want 16 hex digits and the durable named after them", ia)
	}
	if ia.DatabaseID == ib.DatabaseID || ia.Durable == ib.Durable {
		t.Errorf("two new databases share an identity: %+v and %+v", ia, ib)
	}
	if ia.CreatedAt.IsZero() {
		t.Error("identity has no creation time")
	}
	// A reopened file keeps its identity.
	path := a.Path()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := sql.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, err := again.Identity(ctx); err != nil || got != ia {
		t.Errorf("identity after reopening: %+v, %v; want %+v", got, err, ia)
	}
}

func TestDB_SetIdentity(t *testing.T) {
	ctx := context.Background()
	live, rebuilt := testkit.MustOpenDB(t), testkit.MustOpenDB(t)
	want, err := live.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rebuilt.SetIdentity(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := rebuilt.Identity(ctx); err != nil || got != want {
		t.Errorf("identity after SetIdentity: %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []sql.Identity{
		{DatabaseID: "", Durable: "d"},
		{DatabaseID: "x", Durable: ""},
		{DatabaseID: "x", Durable: "has.dot"},
		{DatabaseID: "x", Durable: "has space"},
		{DatabaseID: "x", Durable: "wild*"},
	} {
		if err := rebuilt.SetIdentity(ctx, bad); err == nil {
			t.Errorf("SetIdentity(%+v) succeeded, want an error", bad)
		}
	}
	if got, _ := rebuilt.Identity(ctx); got != want {
		t.Errorf("a refused SetIdentity changed the identity to %+v", got)
	}
}

// TestOpen_IdentityOfOlderDatabase: a database made before identities
// existed keeps the durable name every database had then when it holds
// data, so that its consumer does not read the stream again; an empty one
// gets a name of its own.
func TestOpen_IdentityOfOlderDatabase(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		fill        string
		wantDurable string
	}{
		{name: "Events", wantDurable: "trackskills-sqlite",
			fill: `INSERT INTO skill_usage_events (event_id, user_id_hash, tool_name, timestamp, status, received_at, stream_seq) VALUES ('e', 'u', 't', 1, 'success', 1, 1)`},
		{name: "DeadLettersOnly", wantDurable: "trackskills-sqlite",
			fill: `INSERT INTO dead_letters (stream_seq, subject, reason, stored_at) VALUES (1, 's', 'r', 1)`},
		{name: "AggregatesOnly", wantDurable: "trackskills-sqlite",
			fill: `INSERT INTO tool_daily (day, tool_name, tool_category, invocations, successes, errors, timeouts, duration_count, duration_sum) VALUES ('2026-01-01', 't', 'c', 1, 1, 0, 0, 0, 0)`},
		{name: "Empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A database as it was before 0011: every migration, then
			// 0011 undone.
			path := filepath.Join(t.TempDir(), "old.db")
			fresh, err := sql.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if err := fresh.Close(); err != nil {
				t.Fatal(err)
			}
			raw := mustOpenRaw(t, path)
			mustExec(t, raw, `DROP TABLE identity`)
			mustExec(t, raw, `DELETE FROM migrations WHERE name = '0011_identity.sql'`)
			if tc.fill != "" {
				mustExec(t, raw, tc.fill)
			}
			db, err := sql.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			id, err := db.Identity(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.wantDurable
			if want == "" {
				want = "trackskills-sqlite-" + id.DatabaseID
			}
			if id.Durable != want || !strings.HasPrefix(id.Durable, "trackskills-sqlite") {
				t.Errorf("durable %q, want %q", id.Durable, want)
			}
		})
	}
}

// mustExec runs q on db.
func mustExec(t *testing.T, db *dbsql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%.60s: %v", q, err)
	}
}
