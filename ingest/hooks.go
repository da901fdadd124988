package ingest

import (
	"container/list"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
)

// MaxHookBytes bounds a Claude Code hook body: it carries the tool's whole
// input and output (a file read, a command's output), of which only a few
// fields are used.
const MaxHookBytes = 8 << 20

// UserHeader names the user of an HTTP hook, which the hook configuration
// fills from the environment ("X-Trackskills-User": "$USER"). It is hashed
// like user_id; without it the identity is the client IP and User-Agent.
const UserHeader = "X-Trackskills-User"

// ignoredHeader tells why a well-formed hook payload stored nothing.
const ignoredHeader = "X-Trackskills-Ignored"

// handleClaudeHook takes the JSON of a Claude Code hook, as an HTTP hook
// sends it, and stores the tool call it describes (claudecode.Map). Every
// well-formed payload gets 200 {}: Claude Code shows any other answer as a
// hook error. PreToolUse only remembers when a call started, to time a Post
// event that lacks duration_ms.
func (s *Server) handleClaudeHook(c echo.Context) error {
	if !jsonType(mediaType(c)) {
		return errUnsupportedType
	}
	now := s.now()
	buf, err := s.readBody(c, MaxHookBytes)
	if err != nil {
		return err
	}
	p, err := claudecode.Parse(buf.Bytes())
	if buf.Cap() <= 1<<20 {
		s.bufs.Put(buf) // keep big bodies out of the pool
	}
	if err != nil {
		return &trackskills.FieldError{Message: err.Error()}
	}
	m := claudecode.Map(p, claudecode.Options{StoreSkillArgs: s.cfg.StoreSkillArgs})
	switch m.Action {
	case claudecode.Ignore:
		return hookOK(c, m.Reason)
	case claudecode.Start:
		s.starts.put(m.ToolUseID, now)
		return hookOK(c, "")
	}
	in := m.Input
	if start, ok := s.starts.take(m.ToolUseID); ok && len(in.DurationMs) == 0 {
		in.DurationMs = []byte(strconv.FormatInt(now.Sub(start).Milliseconds(), 10))
	}
	in.Source = "hook"
	in.UserID = c.Request().Header.Get(UserHeader)
	ev, err := s.prepare(c, &in, now)
	if err != nil {
		var fe *trackskills.FieldError
		if errors.As(err, &fe) {
			s.logger.Warn("claude code hook: event not stored", "hook_event", p.HookEventName, "field", fe.Field, "err", fe.Message)
			return hookOK(c, "the event is not valid: "+fe.Field+" "+fe.Message)
		}
		return err
	}
	if err := s.pub.Publish(c.Request().Context(), []trackskills.Event{ev}); err != nil {
		return err
	}
	return hookOK(c, "")
}

func hookOK(c echo.Context, ignored string) error {
	if ignored != "" {
		c.Response().Header().Set(ignoredHeader, ignored)
	}
	return c.JSONBlob(http.StatusOK, []byte("{}"))
}

// startTimes remembers when tool calls started (PreToolUse), by
// tool_use_id, for a bounded number of calls and a bounded time.
type startTimes struct {
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

func newStartTimes(max int, ttl time.Duration) *startTimes {
	return &startTimes{max: max, ttl: ttl, order: list.New(), byID: map[string]*list.Element{}}
}

func (st *startTimes) put(id string, at time.Time) {
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

func (st *startTimes) take(id string) (time.Time, bool) {
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

func (st *startTimes) drop(el *list.Element) {
	st.order.Remove(el)
	delete(st.byID, el.Value.(startEntry).id)
}
