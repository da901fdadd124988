package sql

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/oklog/ulid/v2"
)

// Identity hashes and event ids are stored compactly (migration 0008):
//
//   - a user or session hash as its first 8 bytes, a BLOB: 64 bits keep
//     distinct identities apart (two of a million users share a hash with a
//     chance of about 3 in 10^8) at a quarter of the 32 hex characters;
//   - an event id that is a canonical ULID (ingest makes them) as its 16
//     bytes, a BLOB; any other id as TEXT, as sent. The same id always maps
//     to the same stored value, so the UNIQUE constraint still deduplicates.
//
// Reads turn them back into text: hashes as 16 lower-case hex characters,
// ULIDs in their canonical form.

// hashSize is the stored size of an identity hash in bytes.
const hashSize = 8

// hashKey is the stored form of an identity hash: its first 8 bytes when it
// is hex, else the first 8 bytes of its SHA-256 (any text stays distinct).
func hashKey(h string) []byte {
	if len(h) >= 2*hashSize {
		if b, err := hex.DecodeString(h[:2*hashSize]); err == nil {
			return b
		}
	}
	sum := sha256.Sum256([]byte(h))
	return sum[:hashSize]
}

// eventKey is the stored form of an event id.
func eventKey(id string) any {
	if len(id) == ulid.EncodedSize {
		if u, err := ulid.ParseStrict(id); err == nil && u.String() == id {
			return u[:]
		}
	}
	return id
}

// eventIDText is the text of a stored event id.
func eventIDText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		if len(x) == 16 {
			var u ulid.ULID
			copy(u[:], x)
			return u.String(), nil
		}
		return string(x), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("event id of type %T", v)
}

// hash8SQL is the SQL function hash8(x), hashKey for migrations: a BLOB
// stays as it is, NULL stays NULL.
func hash8SQL(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return x, nil
	case string:
		if x == "" {
			return nil, nil
		}
		return hashKey(x), nil
	}
	return nil, fmt.Errorf("hash of type %T", v)
}

// eventKeySQL is the SQL function event_key(x), eventKey for migrations.
func eventKeySQL(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return eventKey(x), nil
	case []byte:
		return x, nil
	}
	return nil, fmt.Errorf("event id of type %T", v)
}

// StoredHash returns an identity hash as reads give it back: the hex of its
// stored 8 bytes.
func StoredHash(h string) string {
	if h == "" {
		return ""
	}
	return hex.EncodeToString(hashKey(h))
}
