package sql

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// Identity names a database to the stream: a random id made with the file
// and the durable consumer that writes it. A copy of the file (a backup, a
// restore) keeps it, and so continues where the original's consumer was.
type Identity struct {
	DatabaseID string    // 16 hex digits, random
	Durable    string    // the JetStream durable consumer that writes this database
	CreatedAt  time.Time // when the identity was made
}

// durableName is what a durable consumer's name may hold (JetStream forbids
// spaces, dots, '*' and '>'); SetIdentity keeps to it.
var durableName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Identity reads the identity of the database.
func (d *DB) Identity(ctx context.Context) (Identity, error) {
	var id Identity
	var created int64
	if err := d.conn().QueryRowContext(ctx, `SELECT database_id, durable, created_at FROM identity WHERE id = 1`).
		Scan(&id.DatabaseID, &id.Durable, &created); err != nil {
		return Identity{}, fmt.Errorf("read database identity: %w", err)
	}
	id.CreatedAt = time.UnixMilli(created).UTC()
	return id, nil
}

// SetIdentity replaces the identity of the database with id: a database
// rebuilt beside a live one takes the live one's, so that the live
// durable consumer carries on into it.
func (d *DB) SetIdentity(ctx context.Context, id Identity) error {
	if id.DatabaseID == "" || !durableName.MatchString(id.Durable) {
		return fmt.Errorf("set database identity: invalid id %q or durable %q", id.DatabaseID, id.Durable)
	}
	if _, err := d.conn().ExecContext(ctx, `UPDATE identity SET database_id = ?, durable = ?, created_at = ? WHERE id = 1`,
		id.DatabaseID, id.Durable, id.CreatedAt.UnixMilli()); err != nil {
		return fmt.Errorf("set database identity: %w", err)
	}
	return nil
}
