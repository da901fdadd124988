package sql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/trackskills/trackskills/runs"
)

// The session log (migration 0019): the events runs read, kept so that a
// late event can re-walk its session. A batch writes one row of
// session_chunks per session it holds events of, with those events in one
// BLOB, instead of a row per event: a history load or a replay sees most
// sessions whole in one batch, so the log costs one B-tree insert per
// session rather than one per event. The chunks of a session are a chain
// (migration 0021): each names the one before it (prev), and run_sessions
// the last (last_chunk), so that the table is appended to and needs no
// index.
//
// A chunk is its events in session order (runs.Less), each as
//
//	ts     first event: varint (zig-zag); later ones: uvarint, the gap to the previous ts
//	id     uvarint length, then the bytes
//	code   uvarint (logCode)
//	name   uvarint length, then the bytes
//	agent  uvarint length, then the bytes (0: none)
//
// and nothing after the last event.

// chainStep is the recursive step of a query over the chunk chains: a CTE
// chain (id) started from chunk ids goes on to each one's previous chunk.
// It follows prev only where it is below the chunk's own id, as the writer
// assigns them, so that a corrupt link cannot loop.
const chainStep = `UNION ALL SELECT c.prev FROM session_chunks AS c JOIN chain USING (id) WHERE c.prev < c.id`

// errCorruptChunk reports session log data that decodeChunk cannot read.
var errCorruptChunk = errors.New("corrupt session log chunk")

// maxChunkField bounds a chunk's id, name and agent lengths: a tool name
// is at most a few hundred bytes (the event's limits), an id or an agent
// hash far less.
const maxChunkField = 4096

// chunkWriter encodes events, added in session order, into a chunk.
type chunkWriter struct {
	buf    []byte
	n      int
	lastTS int64
}

// add appends one event.
func (c *chunkWriter) add(ts int64, id []byte, code int64, name string, agent []byte) {
	if c.n == 0 {
		c.buf = binary.AppendVarint(c.buf, ts)
	} else {
		c.buf = binary.AppendUvarint(c.buf, uint64(ts-c.lastTS))
	}
	c.n++
	c.lastTS = ts
	c.buf = binary.AppendUvarint(c.buf, uint64(len(id)))
	c.buf = append(c.buf, id...)
	c.buf = binary.AppendUvarint(c.buf, uint64(code))
	c.buf = binary.AppendUvarint(c.buf, uint64(len(name)))
	c.buf = append(c.buf, name...)
	c.buf = binary.AppendUvarint(c.buf, uint64(len(agent)))
	c.buf = append(c.buf, agent...)
}

// encodeChunk encodes events, which must be in session order.
func encodeChunk(events []runs.Event) []byte {
	var c chunkWriter
	for i := range events {
		ev := &events[i]
		c.add(ev.TS, ev.ID, logCode(ev), ev.Name, []byte(ev.Agent))
	}
	return c.buf
}

// decodeChunk appends the events of a chunk to out. The ids of the events
// share data's memory. Truncated data, a field longer than maxChunkField,
// a time that overflows, events out of session order and trailing bytes
// are errors matching errCorruptChunk; out is returned as it was on error.
func decodeChunk(data []byte, out []runs.Event) ([]runs.Event, error) {
	n0 := len(out)
	fail := func(what string) ([]runs.Event, error) {
		return out[:n0], fmt.Errorf("event %d: %s: %w", len(out)-n0, what, errCorruptChunk)
	}
	var ts int64
	for len(data) > 0 {
		if len(out) == n0 {
			v, k := binary.Varint(data)
			if k <= 0 {
				return fail("bad time")
			}
			ts, data = v, data[k:]
		} else {
			gap, k := binary.Uvarint(data)
			if k <= 0 || gap > 1<<62 || ts > (1<<62)-int64(gap) {
				return fail("bad time gap")
			}
			ts, data = ts+int64(gap), data[k:]
		}
		id, rest, ok := chunkBytes(data)
		if !ok {
			return fail("bad id")
		}
		code, k := binary.Uvarint(rest)
		if k <= 0 || code > 1<<20 {
			return fail("bad code")
		}
		name, rest, ok := chunkBytes(rest[k:])
		if !ok {
			return fail("bad name")
		}
		agent, rest, ok := chunkBytes(rest)
		if !ok {
			return fail("bad agent")
		}
		data = rest
		ev := logEvent(ts, id, int64(code), string(name), agent)
		if len(out) > n0 && !runs.Less(&out[len(out)-1], &ev) {
			return fail("out of session order")
		}
		out = append(out, ev)
	}
	return out, nil
}

// chunkBytes reads a length-prefixed field: the field (nil when empty),
// the data after it, and false when it is truncated or too long.
func chunkBytes(data []byte) ([]byte, []byte, bool) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > maxChunkField || n > uint64(len(data)-k) {
		return nil, nil, false
	}
	if n == 0 {
		return nil, data[k:], true
	}
	return data[k : k+int(n) : k+int(n)], data[k+int(n):], true
}

// logChunk is the log_chunk(ts, id, code, name, agent) aggregate of
// migration 0019: the chunk of a session's rows of the older session_log,
// sorted into session order.
type logChunk struct {
	events []runs.Event
	codes  []int64
}

func newLogChunk() *logChunk { return &logChunk{} }

func (a *logChunk) Step(ts int64, id []byte, code int64, name string, agent any) {
	ev := runs.Event{TS: ts, ID: slices.Clone(id), Name: name}
	if b, ok := agent.([]byte); ok {
		ev.Agent = string(b)
	}
	a.events = append(a.events, ev)
	a.codes = append(a.codes, code)
}

func (a *logChunk) Done() ([]byte, error) {
	order := make([]int, len(a.events))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return runs.Compare(&a.events[x], &a.events[y]) })
	var c chunkWriter
	for _, i := range order {
		ev := &a.events[i]
		c.add(ev.TS, ev.ID, a.codes[i], ev.Name, []byte(ev.Agent))
	}
	return c.buf, nil
}

// chunkFirstID is chunk_first_id(chunk): the id of a chunk's first event,
// the last column of the chunk's key.
func chunkFirstID(chunk []byte) ([]byte, error) {
	evs, err := decodeChunk(chunk, nil)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("empty chunk: %w", errCorruptChunk)
	}
	return slices.Clone(evs[0].ID), nil
}
