package relay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/trackskills/trackskills/lockfile"
)

func line(i int) []byte { return []byte(`{"event_id":"e` + strconv.Itoa(i) + `"}`) }

func mustOpen(t *testing.T, dir string, maxBytes, segment int64) *Spool {
	t.Helper()
	s, err := OpenSpool(dir, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if segment > 0 {
		s.segmentBytes = segment
	}
	return s
}

// kill leaves s as a killed process would: its files closed, nothing
// synced, the lock released by the kernel.
func kill(s *Spool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.cur.Close()
	s.lock.Close()
}

func mustAppend(t *testing.T, s *Spool, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := s.Append(line(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// drain reads and commits everything, max lines at a time, and returns
// the lines in order.
func drain(t *testing.T, s *Spool, max int) []string {
	t.Helper()
	var got []string
	for {
		lines, next, err := s.Read(max)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) == 0 {
			return got
		}
		for _, l := range lines {
			got = append(got, string(l))
		}
		if err := s.Commit(next); err != nil {
			t.Fatal(err)
		}
	}
}

func want(from, to int) []string {
	var w []string
	for i := from; i < to; i++ {
		w = append(w, string(line(i)))
	}
	return w
}

func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %d lines %v\nwant %d %v", len(got), got, len(want), want)
	}
}

// Every line comes back once, in order, across segments and reopenings;
// what was read and not committed comes back after a reopening (the
// relay died between the server's answer and the commit); what was
// committed never does.
func TestSpool_OrderAcrossSegmentsAndRestarts(t *testing.T) {
	for _, tt := range []struct {
		name    string
		segment int64
		batch   int
	}{
		{"one segment", 0, 7},
		{"many segments", 64, 3},
		{"a batch larger than a segment", 64, 50},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, 0, tt.segment)
			mustAppend(t, s, 0, 40)
			lines, _, err := s.Read(10) // read, never committed
			if err != nil || len(lines) != 10 {
				t.Fatalf("read %d lines: %v", len(lines), err)
			}
			kill(s) // what was written is in the files
			s = mustOpen(t, dir, 0, tt.segment)
			sameLines(t, drain(t, s, tt.batch), want(0, 40))
			mustAppend(t, s, 40, 55)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, dir, 0, tt.segment)
			sameLines(t, drain(t, s, tt.batch), want(40, 55))
			if st := s.Stats(); st.PendingBytes != 0 || st.Dropped != 0 {
				t.Errorf("stats %+v after the drain", st)
			}
			s.Close()
		})
	}
}

// A line an earlier process left half-written is skipped; the lines
// before and after it are read.
func TestSpool_HalfWrittenLine(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, 0, 0)
	mustAppend(t, s, 0, 3)
	name := s.segmentPath(s.segments[len(s.segments)-1])
	s.Close()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"event_id":"torn`)
	f.Close()
	s = mustOpen(t, dir, 0, 0)
	mustAppend(t, s, 3, 5)
	sameLines(t, drain(t, s, 100), want(0, 5))
	s.Close()
}

// Past its bound the spool drops its oldest segments and counts their
// events, also across a reopening; the newest events are kept.
func TestSpool_Bounded(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, 200, 64)
	mustAppend(t, s, 0, 100)
	got := drain(t, s, 1000)
	st := s.Stats()
	if int64(len(got))+st.Dropped != 100 || st.Dropped == 0 {
		t.Fatalf("read %d, dropped %d: want all 100 accounted for, some dropped", len(got), st.Dropped)
	}
	sameLines(t, got, want(100-len(got), 100))
	s.Close()
	if s = mustOpen(t, dir, 200, 64); s.Stats().Dropped != st.Dropped {
		t.Errorf("dropped %d after reopening, want %d", s.Stats().Dropped, st.Dropped)
	}
	s.Close()
}

// Compact deletes the forwarded events from the disk once all of them
// are, and the spool goes on.
func TestSpool_Compact(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, 0, 0)
	mustAppend(t, s, 0, 5)
	if err := s.Compact(); err != nil { // nothing forwarded yet: kept
		t.Fatal(err)
	}
	drain(t, s, 100)
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > 0 {
			t.Errorf("%s still holds %d bytes of forwarded events", f, st.Size())
		}
	}
	mustAppend(t, s, 5, 8)
	sameLines(t, drain(t, s, 100), want(5, 8))
	s.Close()
	s = mustOpen(t, dir, 0, 0)
	sameLines(t, drain(t, s, 100), nil)
	s.Close()
}

// Appends from many goroutines while one reader drains: every line is
// read once.
func TestSpool_ConcurrentAppends(t *testing.T) {
	s := mustOpen(t, t.TempDir(), 0, 4096)
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mustAppend(t, s, w*each, (w+1)*each)
		}()
	}
	seen := map[string]int{}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		got := drain(t, s, 37)
		for _, l := range got {
			seen[l]++
		}
		if finished && len(got) == 0 {
			break
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("read %d distinct lines, want %d", len(seen), writers*each)
	}
	for l, n := range seen {
		if n != 1 {
			t.Errorf("%s read %d times", l, n)
		}
	}
	s.Close()
}

// A second relay on the same spool would delete segments the first is
// appending to: it is refused, with a message that says what to do, until
// the first closes.
func TestSpool_OneProcessAtATime(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, 0, 0)
	mustAppend(t, s, 0, 3)
	_, err := OpenSpool(dir, 0)
	if !errors.Is(err, lockfile.ErrHeld) || !strings.Contains(err.Error(), "--spool-dir") {
		t.Fatalf("second open: %v, want the spool in use and --spool-dir", err)
	}
	mustAppend(t, s, 3, 5)
	s.Close()
	s = mustOpen(t, dir, 0, 0)
	sameLines(t, drain(t, s, 100), want(0, 5))
	s.Close()
}

// An append that fails halfway (the file size limit here, a full disk in
// life) leaves no fragment: the appends after it are read whole.
func TestSpool_PartialWrite(t *testing.T) {
	s := mustOpen(t, t.TempDir(), 0, 0)
	defer s.Close()
	mustAppend(t, s, 0, 3)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	limit := syscall.Rlimit{Cur: uint64(s.sizes[s.segments[len(s.segments)-1]] + 5), Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Skipf("set the file size limit: %v", err)
	}
	err := s.Append(line(3))
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatal("an append past the file size limit succeeded")
	}
	mustAppend(t, s, 4, 6)
	sameLines(t, drain(t, s, 100), append(want(0, 3), want(4, 6)...))
}

// When the next segment cannot be created the current one stays open:
// that append fails, and the spool goes on once the cause is gone.
func TestSpool_RotateFails(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, 0, 64)
	defer s.Close()
	mustAppend(t, s, 0, 3) // the segment is full
	blocker := s.segmentPath(s.segments[len(s.segments)-1] + 1)
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(line(3)); err == nil {
		t.Fatal("append succeeded with no segment to go to")
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, 4, 8)
	sameLines(t, drain(t, s, 100), append(want(0, 3), want(4, 8)...))
}

// Restarts leave no segment behind that holds nothing, or only what was
// forwarded: the user ids of forwarded events leave the disk.
func TestSpool_RestartsLeaveNothingBehind(t *testing.T) {
	dir := t.TempDir()
	for range 5 {
		mustOpen(t, dir, 0, 0).Close()
	}
	s := mustOpen(t, dir, 0, 64)
	mustAppend(t, s, 0, 5) // two segments
	drain(t, s, 100)
	s.Close()
	s = mustOpen(t, dir, 0, 0)
	defer s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if len(files) != 1 {
		t.Errorf("segments %v after restarts, want the one being appended to", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > 0 {
			t.Errorf("%s holds %d bytes of forwarded events", f, st.Size())
		}
	}
	sameLines(t, drain(t, s, 100), nil)
}

// Compact deletes a sealed segment forwarded to its end while newer
// events wait.
func TestSpool_CompactSealed(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, 0, 64)
	defer s.Close()
	mustAppend(t, s, 0, 3) // fills the first segment
	sameLines(t, drain(t, s, 3), want(0, 3))
	first := s.segmentPath(s.segments[0])
	mustAppend(t, s, 3, 4) // in a new segment
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the forwarded segment %s is still there: %v", first, err)
	}
	sameLines(t, drain(t, s, 100), want(3, 4))
}

// A bound smaller than SegmentBytes is kept: segments are a quarter of it.
func TestSpool_SmallBound(t *testing.T) {
	dir := t.TempDir()
	const bound = 1 << 20
	s := mustOpen(t, dir, bound, 0)
	defer s.Close()
	pad := strings.Repeat("x", 1000)
	for i := range 3000 {
		if err := s.Append(fmt.Appendf(nil, `{"event_id":"e%d","pad":%q}`, i, pad)); err != nil {
			t.Fatal(err)
		}
	}
	total := int64(0)
	files, _ := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	if total > bound || s.Stats().Dropped == 0 {
		t.Errorf("%d bytes on disk, %d dropped: want at most %d bytes, some dropped", total, s.Stats().Dropped, bound)
	}
}
