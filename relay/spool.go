package relay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trackskills/trackskills/claudecode/hookcmd"
	"github.com/trackskills/trackskills/lockfile"
)

// The spool keeps the events the relay has answered for and not yet
// forwarded: segment files of one event per line, each line the JSON of a
// client.Event, as in the command hook's spool.ndjson. Appends go to the
// newest segment with one write each; fsync is batched (Sync, run by the
// relay every SyncEvery). A cursor file says where the first event not yet
// forwarded is; segments wholly before it are deleted.
const (
	segmentSuffix = ".ndjson"
	cursorFile    = "cursor"
	droppedFile   = "dropped"
	lockFile      = "lock"
	// SegmentBytes is the size past which appends start a new segment.
	SegmentBytes = 8 << 20
	// maxLine bounds one spooled event; a longer line is skipped.
	maxLine = 1 << 20
)

// Position is a place in the spool: a segment and a byte offset in it.
type Position struct {
	Segment uint64 `json:"segment"`
	Offset  int64  `json:"offset"`
}

// Spool is the relay's durable queue of events. It is safe for concurrent
// use by appenders and one reader.
type Spool struct {
	dir          string
	maxBytes     int64
	segmentBytes int64 // SegmentBytes; tests make it small

	mu       sync.Mutex
	segments []uint64 // oldest first; the last is cur's
	sizes    map[uint64]int64
	cur      *os.File
	torn     bool // cur may end in part of a line: append to a new segment
	dirty    bool
	cursor   Position
	dropped  int64
	closed   bool
	notify   chan struct{}
	lock     *lockfile.Lock
}

// OpenSpool opens the spool in dir (created 0700), keeping at most maxBytes
// of events (0: no bound); past it the oldest segment is dropped, and its
// events counted. The spool is this process's alone: a second OpenSpool of
// dir, here or in another process, fails until Close. Appends go to a new
// segment, so that a line an earlier process left half-written is never
// extended; the segments that hold nothing, or only what was forwarded,
// are deleted.
func OpenSpool(dir string, maxBytes int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool dir: %w", err)
	}
	lock, err := lockfile.Acquire(filepath.Join(dir, lockFile))
	if held := (*lockfile.HeldError)(nil); errors.As(err, &held) {
		held.What, held.Fix = "relay spool "+dir, "give this relay its own --spool-dir"
		return nil, held
	} else if err != nil {
		return nil, fmt.Errorf("lock the spool: %w", err)
	}
	s, err := openLocked(dir, maxBytes)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// segmentBytesFor is the segment size for a spool bounded to maxBytes: a
// quarter of the bound, so that dropping the oldest segment keeps the
// spool within it, but no more than SegmentBytes and no less than 64 KiB.
func segmentBytesFor(maxBytes int64) int64 {
	if maxBytes <= 0 {
		return SegmentBytes
	}
	return min(max(maxBytes/4, 64<<10), SegmentBytes)
}

func openLocked(dir string, maxBytes int64) (*Spool, error) {
	s := &Spool{dir: dir, maxBytes: maxBytes, segmentBytes: segmentBytesFor(maxBytes), sizes: map[uint64]int64{}, notify: make(chan struct{}, 1)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read spool dir: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentSuffix)
		n, err := strconv.ParseUint(name, 10, 64)
		if !ok || err != nil || e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("spool segment %s: %w", e.Name(), err)
		}
		s.segments = append(s.segments, n)
		s.sizes[n] = info.Size()
	}
	slices.Sort(s.segments)
	if b, err := os.ReadFile(filepath.Join(dir, cursorFile)); err == nil {
		if err := json.Unmarshal(b, &s.cursor); err != nil {
			return nil, fmt.Errorf("spool cursor %s: %w", filepath.Join(dir, cursorFile), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read spool cursor: %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, droppedFile)); err == nil {
		s.dropped, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	next := s.cursor.Segment
	if len(s.segments) > 0 {
		next = max(next, s.segments[len(s.segments)-1]+1)
	}
	// What holds nothing to forward goes: empty segments (an earlier start
	// that took no event), and the cursor's segment once it was forwarded
	// to its end (it is sealed now).
	s.segments = slices.DeleteFunc(s.segments, func(n uint64) bool {
		done := s.sizes[n] == 0 || n == s.cursor.Segment && s.cursor.Offset >= s.sizes[n]
		if done {
			if err := os.Remove(s.segmentPath(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false
			}
			delete(s.sizes, n)
		}
		return done
	})
	s.removeBefore(s.cursor.Segment)
	if !slices.Contains(s.segments, s.cursor.Segment) {
		// The cursor's segment is gone (forwarded to its end, or dropped):
		// go on at the oldest one left, all of them after it.
		s.cursor = Position{Segment: next}
		if len(s.segments) > 0 {
			s.cursor = Position{Segment: s.segments[0]}
		}
	}
	f, err := s.createSegment(next)
	if err != nil {
		return nil, err
	}
	s.cur = f
	return s, nil
}

func (s *Spool) segmentPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016d%s", n, segmentSuffix))
}

// createSegment creates segment n, the next to append to, and adds it to
// segments; the caller holds mu, or owns s, and makes it cur.
func (s *Spool) createSegment(n uint64) (*os.File, error) {
	f, err := os.OpenFile(s.segmentPath(n), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create spool segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.Remove(s.segmentPath(n))
		return nil, fmt.Errorf("sync spool dir: %w", err)
	}
	s.segments = append(s.segments, n)
	s.sizes[n] = 0
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("spool closed")

// Append adds one event line (JSON, no newline) at the end of the spool.
// It is written when Append returns, and durable at the next Sync.
func (s *Spool) Append(line []byte) error {
	if len(line) > maxLine || bytes.IndexByte(line, '\n') >= 0 {
		return fmt.Errorf("spool line of %d bytes: not one event", len(line))
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	last := s.segments[len(s.segments)-1]
	if s.torn || s.sizes[last]+int64(len(buf)) > s.segmentBytes && s.sizes[last] > 0 {
		if err := s.rotate(); err != nil {
			return err
		}
		last = s.segments[len(s.segments)-1]
	}
	if n, err := s.cur.Write(buf); err != nil {
		// A part of the line may be on disk (disk full): cut it off, so
		// that the next line starts where it belongs. If that fails too,
		// the next append starts a new segment; the reader skips a
		// half-written last line of a sealed segment.
		if n > 0 {
			if terr := s.cur.Truncate(s.sizes[last]); terr != nil {
				s.torn = true
			}
		}
		return fmt.Errorf("append to spool: %w", err)
	}
	s.sizes[last] += int64(len(buf))
	s.dirty = true
	s.bound()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// rotate starts the next segment and seals the current one (synced). If
// the new segment cannot be created, the current one stays open.
func (s *Spool) rotate() error {
	f, err := s.createSegment(s.segments[len(s.segments)-1] + 1)
	if err != nil {
		return err
	}
	old := s.cur
	s.cur, s.torn = f, false
	dirty := s.dirty
	s.dirty = false
	err = nil
	if dirty {
		err = old.Sync()
	}
	if cerr := old.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seal spool segment: %w", err)
	}
	return nil
}

// bound drops the oldest sealed segments while the spool holds more than
// maxBytes, counting their unsent events as dropped.
func (s *Spool) bound() {
	if s.maxBytes <= 0 {
		return
	}
	total := int64(0)
	for _, n := range s.segments {
		total += s.sizes[n]
	}
	for total > s.maxBytes && len(s.segments) > 1 {
		n := s.segments[0]
		from := int64(0)
		if s.cursor.Segment == n {
			from = s.cursor.Offset
		}
		lost := countLines(s.segmentPath(n), from)
		total -= s.sizes[n]
		_ = os.Remove(s.segmentPath(n))
		delete(s.sizes, n)
		s.segments = s.segments[1:]
		if s.cursor.Segment <= n {
			s.cursor = Position{Segment: s.segments[0]}
		}
		s.dropped += lost
		_ = hookcmd.WriteFileAtomic(filepath.Join(s.dir, droppedFile), []byte(strconv.FormatInt(s.dropped, 10)+"\n"))
	}
}

func countLines(path string, from int64) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return 0
	}
	n := int64(0)
	buf := make([]byte, 64<<10)
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err != nil {
			return n
		}
	}
}

// Sync makes what was appended durable (one fsync for every append since
// the last Sync).
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty || s.closed {
		return nil
	}
	s.dirty = false
	if err := s.cur.Sync(); err != nil {
		s.dirty = true
		return fmt.Errorf("sync spool: %w", err)
	}
	return nil
}

// Notify is signalled after appends, for a reader waiting for events.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Read returns up to max complete lines from the cursor on, and the
// position after them (Commit it once they are dealt with). Lines that are
// not JSON, too long, or left half-written at the end of a sealed segment
// are skipped. No lines and the cursor: nothing is waiting.
func (s *Spool) Read(max int) ([][]byte, Position, error) {
	s.mu.Lock()
	pos := s.cursor
	segments := slices.Clone(s.segments)
	size := s.sizes[segments[len(segments)-1]] // of the segment being appended to
	s.mu.Unlock()
	var lines [][]byte
	for _, n := range segments {
		if n < pos.Segment {
			continue
		}
		if n > pos.Segment {
			pos = Position{Segment: n}
		}
		sealed := n != segments[len(segments)-1]
		var err error
		limit := int64(-1)
		if !sealed {
			limit = size // only what Append finished writing
		}
		lines, pos, err = s.readSegment(n, pos.Offset, limit, max, lines)
		if err != nil || len(lines) >= max {
			return lines, pos, err
		}
		if !sealed {
			break
		}
	}
	return lines, pos, nil
}

// readSegment appends the complete lines of segment n from offset on to
// lines, up to max, and returns where it stopped. A sealed segment (limit
// -1) read to its end moves on to the next one; the segment being appended
// to is read up to limit.
func (s *Spool) readSegment(n uint64, offset, limit int64, max int, lines [][]byte) ([][]byte, Position, error) {
	sealed := limit < 0
	f, err := os.Open(s.segmentPath(n))
	if errors.Is(err, os.ErrNotExist) {
		return lines, Position{Segment: n + 1}, nil // dropped by bound meanwhile
	}
	if err != nil {
		return lines, Position{Segment: n, Offset: offset}, fmt.Errorf("read spool: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return lines, Position{Segment: n, Offset: offset}, fmt.Errorf("read spool: %w", err)
	}
	var src io.Reader = f
	if !sealed {
		src = io.LimitReader(f, limit-offset)
	}
	r := bufio.NewReaderSize(src, 64<<10)
	for len(lines) < max {
		l, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if sealed {
				return lines, Position{Segment: n + 1}, nil // a half-written last line is skipped
			}
			return lines, Position{Segment: n, Offset: offset}, nil // wait for the rest
		}
		if err != nil {
			return lines, Position{Segment: n, Offset: offset}, fmt.Errorf("read spool: %w", err)
		}
		offset += int64(len(l))
		if t := bytes.TrimSpace(l); len(t) > 0 && len(t) <= maxLine && json.Valid(t) {
			lines = append(lines, t)
		}
	}
	return lines, Position{Segment: n, Offset: offset}, nil
}

// Commit moves the cursor to pos (from Read), durably, and deletes the
// segments wholly before it.
func (s *Spool) Commit(pos Position) error {
	b, _ := json.Marshal(pos)
	if err := hookcmd.WriteFileAtomic(filepath.Join(s.dir, cursorFile), b); err != nil {
		return fmt.Errorf("write spool cursor: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pos.Segment < s.cursor.Segment || pos.Segment == s.cursor.Segment && pos.Offset < s.cursor.Offset {
		return nil // bound dropped past it meanwhile
	}
	s.cursor = pos
	s.removeBefore(pos.Segment)
	return nil
}

// Compact deletes what was forwarded, so that forwarded events (their user
// ids) do not stay on disk: a sealed segment the cursor is at the end of,
// and, once everything was forwarded, the segment being appended to (a new
// one starts). The relay calls it when idle.
func (s *Spool) Compact() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	moved := false
	last := s.segments[len(s.segments)-1]
	if s.cursor.Segment < last && s.cursor.Offset > 0 && s.cursor.Offset >= s.sizes[s.cursor.Segment] {
		i, _ := slices.BinarySearch(s.segments, s.cursor.Segment+1)
		s.cursor, moved = Position{Segment: s.segments[i]}, true
	}
	if s.cursor.Segment == last && s.cursor.Offset > 0 && s.cursor.Offset == s.sizes[last] {
		if err := s.rotate(); err != nil {
			return err
		}
		s.cursor, moved = Position{Segment: s.segments[len(s.segments)-1]}, true
	}
	if !moved {
		return nil
	}
	b, _ := json.Marshal(s.cursor)
	if err := hookcmd.WriteFileAtomic(filepath.Join(s.dir, cursorFile), b); err != nil {
		return fmt.Errorf("write spool cursor: %w", err)
	}
	s.removeBefore(s.cursor.Segment)
	return nil
}

// removeBefore deletes the segments before n, but never the current one;
// the caller holds mu, or owns s.
func (s *Spool) removeBefore(n uint64) {
	for len(s.segments) > 0 && s.segments[0] < n && (s.cur == nil || len(s.segments) > 1) {
		_ = os.Remove(s.segmentPath(s.segments[0]))
		delete(s.sizes, s.segments[0])
		s.segments = s.segments[1:]
	}
}

// Stats says what the spool holds.
type Stats struct {
	// PendingBytes is the size of the events not yet forwarded.
	PendingBytes int64 `json:"pending_bytes"`
	// Dropped counts the events a full spool dropped, ever. A batch being
	// forwarded when its segment was dropped is counted, and may still
	// arrive.
	Dropped int64 `json:"dropped"`
}

// Stats returns what the spool holds now.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Dropped: s.dropped}
	for _, n := range s.segments {
		if n >= s.cursor.Segment {
			st.PendingBytes += s.sizes[n]
		}
	}
	st.PendingBytes -= s.cursor.Offset
	return st
}

// Close syncs and closes the spool and releases it to the next process;
// Append fails after it.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.cur.Sync()
	if cerr := s.cur.Close(); err == nil {
		err = cerr
	}
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	return nil
}

// syncEvery is how often the relay makes appends durable.
const syncEvery = 20 * time.Millisecond
