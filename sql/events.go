package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"

	"github.com/trackskills/trackskills"
)

// eventCols is how many values a raw row binds (see stmts.insert).
const eventCols = 18

// insertEvents inserts the raw rows of events in tx, skipping those whose
// id is already stored or came earlier in the batch, and counts the
// inserted ones in b. It returns how many it inserted.
func (d *DB) insertEvents(ctx context.Context, tx *dbsql.Tx, events []trackskills.Event, b *batch) (int, error) {
	seen := make(map[string]struct{}, len(events)) // stored ids of the batch: the first event of an id wins
	users := make([][]byte, len(events))
	rows := make([]int, 0, len(events)) // indexes into events, one a row
	var dups []int                      // indexes of events whose id was stored already: coverage.go
	args := (*b.args)[:0]
	b.events = events
	for i := range events {
		ev := &events[i]
		if ev.Kind != "" {
			// A mark or an inventory entry: no tool call, no row here.
			b.marks = append(b.marks, i)
			continue
		}
		key := eventKey(ev.EventID)
		k := storedKey(key)
		if _, dup := seen[k]; dup {
			dups = append(dups, i)
			continue
		}
		seen[k] = struct{}{}
		rows = append(rows, i)
		user := hashKey(ev.UserHash) // once, for the raw row and the rollups
		users[i] = user
		var session any
		if ev.SessionHash != "" {
			session = hashKey(ev.SessionHash)
		}
		server, tool := mcpOf(ev)
		args = append(args, key, user, session, ev.ToolName, ev.ToolCategory, ev.Timestamp,
			intOrNull(ev.DurationMs), ev.Status, textOrNull(ev.ErrorType), textOrNull(ev.ErrorMessage),
			intOrNull(ev.RequestSizeBytes), intOrNull(ev.ResponseSizeBytes), textOrNull(string(ev.Metadata)),
			ev.Source, ev.ReceivedAt, int64(ev.StreamSeq), textOrNull(server), textOrNull(tool))
	}
	*b.args = args[:0]
	inserted := 0
	err := d.w.stmt.insert.each(len(rows), func(st *dbsql.Stmt, from, n int) error {
		if ctx.Err() != nil {
			return fmt.Errorf("write batch: %w", ctx.Err())
		}
		// Exec without the context: with a cancellable one, go-sqlite3
		// runs the statement on a new goroutine so that it can interrupt
		// it. The batch still stops between statements when ctx ends.
		r, err := tx.Stmt(st).Exec(args[from*eventCols : (from+n)*eventCols]...)
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		got, _ := r.RowsAffected() // sqlite3 always returns a count
		inserted += int(got)
		chunk := rows[from : from+n]
		if d.SkipAggregates {
			return nil
		}
		if got == 0 {
			dups = append(dups, chunk...)
			return nil
		}
		if int(got) == n {
			for _, i := range chunk {
				b.add(&events[i], users[i])
			}
			return nil
		}
		// Some ids were stored before this batch (a redelivery): the rows
		// this statement inserted are those with the last got row ids.
		last, _ := r.LastInsertId() // sqlite3 always returns one
		fresh, err := d.w.freshEvents(tx, last-got)
		if err != nil {
			return err
		}
		if len(fresh) != int(got) {
			return fmt.Errorf("insert events: %d rows inserted, %d found", got, len(fresh))
		}
		for _, i := range chunk {
			if _, ok := fresh[storedKey(eventKey(events[i].EventID))]; ok {
				b.add(&events[i], users[i])
			} else {
				dups = append(dups, i)
			}
		}
		return nil
	})
	if err != nil || d.SkipAggregates {
		return inserted, err
	}
	return inserted, d.w.recordSources(tx, b, events, dups)
}

// storedKey is a map key for a stored event id (eventKey), telling a ULID's
// bytes from text that happens to hold the same bytes.
func storedKey(key any) string {
	switch k := key.(type) {
	case []byte:
		return "b" + string(k)
	case string:
		return "t" + k
	}
	return ""
}

// freshEvents returns the stored keys (storedKey) of the events with a row
// id above after.
func (w *writer) freshEvents(tx *dbsql.Tx, after int64) (map[string]struct{}, error) {
	rows, err := tx.Stmt(w.stmt.insertedEvents).Query(after)
	if err != nil {
		return nil, fmt.Errorf("read inserted events: %w", err)
	}
	out := map[string]struct{}{}
	for rows.Next() {
		var id any
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read inserted events: %w", err)
		}
		out[storedKey(id)] = struct{}{}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read inserted events: %w", err)
	}
	return out, nil
}

// intOrNull is *p as a bound value, or NULL for nil.
func intOrNull(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// textOrNull is s as a bound value, or NULL for "".
func textOrNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}
