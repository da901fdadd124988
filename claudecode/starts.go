package claudecode

import (
	"container/list"
	"sync"
	"time"
)

// StartTimes remembers when tool calls started (PreToolUse), by
// tool_use_id, for a bounded number of calls and a bounded time: what
// times a PostToolUse that lacks duration_ms. It is safe for concurrent
// use.
type StartTimes struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	order *list.List // of startEntry, oldest first
	byID  map[string]*list.Element
}

type startEntry struct {
	id string
	at time.Time
}

// NewStartTimes keeps at most max calls, none longer than ttl.
func NewStartTimes(max int, ttl time.Duration) *StartTimes {
	return &StartTimes{max: max, ttl: ttl, order: list.New(), byID: map[string]*list.Element{}}
}

// Put notes that the call id started at at.
func (st *StartTimes) Put(id string, at time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if el, ok := st.byID[id]; ok {
		st.order.Remove(el)
	}
	st.byID[id] = st.order.PushBack(startEntry{id: id, at: at})
	for st.order.Len() > st.max {
		st.drop(st.order.Front())
	}
	for el := st.order.Front(); el != nil && at.Sub(el.Value.(startEntry).at) > st.ttl; el = st.order.Front() {
		st.drop(el)
	}
}

// Take returns when the call id started, and forgets it.
func (st *StartTimes) Take(id string) (time.Time, bool) {
	if id == "" {
		return time.Time{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	el, ok := st.byID[id]
	if !ok {
		return time.Time{}, false
	}
	st.drop(el)
	return el.Value.(startEntry).at, true
}

func (st *StartTimes) drop(el *list.Element) {
	st.order.Remove(el)
	delete(st.byID, el.Value.(startEntry).id)
}
