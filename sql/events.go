package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"

	"github.com/trackskills/trackskills"
)

// eventChunk is the most events one INSERT statement of insertEvents
// carries, so that a bulk load's large batches stay a few megabytes of
// JSON per statement.
const eventChunk = 4096

// insertEvents inserts the raw rows of events in tx, a statement per
// eventChunk events (jsonRows), skipping those whose id is already stored
// or came earlier in the batch, and counts the inserted ones in b. It
// returns how many it inserted.
func (d *DB) insertEvents(ctx context.Context, tx *dbsql.Tx, events []trackskills.Event, b *batch) (int, error) {
	seen := make(map[string]struct{}, len(events)) // stored ids of the batch: the first event of an id wins
	users := make([][]byte, len(events))
	chunk := make([]int, 0, min(len(events), eventChunk)) // indexes into events
	inserted := 0
	j := b.rows
	for start := 0; start < len(events); {
		if ctx.Err() != nil {
			return inserted, fmt.Errorf("write batch: %w", ctx.Err())
		}
		chunk = chunk[:0]
		j.reset()
		for ; start < len(events) && len(chunk) < eventChunk; start++ {
			ev := &events[start]
			key := eventKey(ev.EventID)
			var seenKey string
			switch k := key.(type) {
			case []byte:
				seenKey = "b" + string(k)
			case string:
				seenKey = "t" + k
			}
			if _, dup := seen[seenKey]; dup {
				continue
			}
			seen[seenKey] = struct{}{}
			chunk = append(chunk, start)
			user := hashKey(ev.UserHash) // once, for the raw row and the rollups
			users[start] = user
			j.row()
			switch k := key.(type) {
			case []byte:
				j.hexBytes(k)
				j.int(0)
			case string:
				j.hexString(k)
				j.int(1)
			}
			j.hexBytes(user)
			if ev.SessionHash != "" {
				j.hexBytes(hashKey(ev.SessionHash))
			} else {
				j.null()
			}
			j.hexString(ev.ToolName)
			j.hexString(ev.ToolCategory)
			j.int(ev.Timestamp)
			j.intOrNull(ev.DurationMs)
			j.hexString(ev.Status)
			j.textOrNull(ev.ErrorType)
			j.textOrNull(ev.ErrorMessage)
			j.intOrNull(ev.RequestSizeBytes)
			j.intOrNull(ev.ResponseSizeBytes)
			j.textOrNull(string(ev.Metadata))
			j.hexString(ev.Source)
			j.int(ev.ReceivedAt)
			j.int(int64(ev.StreamSeq))
		}
		if len(chunk) == 0 {
			continue
		}
		arg := j.text()
		// Exec without the context: with a cancellable one, go-sqlite3
		// runs the statement on a new goroutine so that it can interrupt
		// it. The batch still stops between statements when ctx ends.
		r, err := tx.Stmt(d.w.stmt.insert).Exec(arg)
		if err != nil {
			return inserted, fmt.Errorf("insert events: %w", err)
		}
		n, _ := r.RowsAffected() // sqlite3 always returns a count
		inserted += int(n)
		if d.SkipAggregates || n == 0 {
			continue
		}
		if int(n) == len(chunk) {
			for _, i := range chunk {
				b.add(&events[i], users[i])
			}
			continue
		}
		// Some ids were stored before this batch (a redelivery): the rows
		// this statement inserted are those with the last n row ids.
		last, _ := r.LastInsertId() // sqlite3 always returns one
		fresh, err := d.w.indexes(tx, d.w.stmt.insertedEvents, arg, last-n, "inserted events")
		if err != nil {
			return inserted, err
		}
		if len(fresh) != int(n) {
			return inserted, fmt.Errorf("insert events: %d rows inserted, %d found", n, len(fresh))
		}
		for _, k := range fresh {
			if k < 0 || k >= int64(len(chunk)) {
				return inserted, fmt.Errorf("insert events: row %d of %d", k, len(chunk))
			}
			i := chunk[k]
			b.add(&events[i], users[i])
		}
	}
	return inserted, nil
}
