package ingest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
)

// MaxHookBytes bounds a Claude Code hook body: it carries the tool's whole
// input and output (a file read, a command's output), of which only a few
// fields are used.
const MaxHookBytes = 8 << 20

// HookBudgetBytes bounds the hook bodies being received at once, counted
// by their Content-Length (MaxHookBytes when it is not known). A body is
// walked through, not held (claudecode.ParseReader), so memory grows only
// with the few fields kept, which are part of the body: the budget bounds
// them too. Beyond it a hook gets 503 with Retry-After.
const HookBudgetBytes = 256 << 20

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
	r := c.Request()
	if r.ContentLength > MaxHookBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body is %d bytes; the limit is %d", r.ContentLength, MaxHookBytes))
	}
	charge := int64(MaxHookBytes)
	if r.ContentLength > 0 {
		charge = r.ContentLength
	}
	if !s.hookBudget.acquire(charge) {
		c.Response().Header().Set("Retry-After", "1")
		return echo.NewHTTPError(http.StatusServiceUnavailable, "too many hook bodies in flight; retry in a second")
	}
	body := &capReader{r: r.Body, left: MaxHookBytes}
	p, err := claudecode.ParseReader(body)
	s.hookBudget.release(charge)
	switch {
	case body.over:
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", MaxHookBytes))
	case errors.Is(err, claudecode.ErrMalformed):
		return &trackskills.FieldError{Message: err.Error()}
	case err != nil:
		return echo.NewHTTPError(http.StatusBadRequest, "could not read body: "+err.Error())
	}
	m := claudecode.Map(p, claudecode.Options{StoreSkillArgs: s.cfg.StoreSkillArgs})
	switch m.Action {
	case claudecode.Ignore:
		return hookOK(c, m.Reason)
	case claudecode.Start:
		s.starts.Put(m.ToolUseID, now)
		return hookOK(c, "")
	}
	in := m.Input
	if start, ok := s.starts.Take(m.ToolUseID); ok && len(in.DurationMs) == 0 {
		in.DurationMs = []byte(strconv.FormatInt(now.Sub(start).Milliseconds(), 10))
	}
	in.Source = "hook"
	in.UserID = c.Request().Header.Get(UserHeader)
	ev, err := s.prepare(c, &in, now)
	if err != nil {
		var fe *trackskills.FieldError
		if errors.As(err, &fe) {
			s.logger.Warn("claude code hook: event not stored", "hook_event", p.HookEventName, "field", fe.Field, "err", fe.Message)
			s.rejected(ReasonInvalid, 1)
			return hookOK(c, "the event is not valid: "+fe.Field+" "+fe.Message)
		}
		return err
	}
	if err := s.pub.Publish(c.Request().Context(), []trackskills.Event{ev}); err != nil {
		return err
	}
	s.accepted(1)
	return hookOK(c, "")
}

// errBodyTooLarge is capReader's error past its limit.
var errBodyTooLarge = errors.New("body too large")

// capReader reads r up to left bytes; one more is errBodyTooLarge.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (cr *capReader) Read(p []byte) (int, error) {
	if cr.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > cr.left+1 {
		p = p[:cr.left+1]
	}
	n, err := cr.r.Read(p)
	cr.left -= int64(n)
	if cr.left < 0 {
		cr.over = true
		return n, errBodyTooLarge
	}
	return n, err
}

// byteBudget counts bytes in flight against a limit.
type byteBudget struct {
	mu    sync.Mutex
	limit int64
	used  int64
}

// acquire takes n bytes of the budget, or reports false when they do not
// fit; a single request larger than the whole budget fits when nothing else
// is in flight.
func (b *byteBudget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used > 0 && b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

func hookOK(c echo.Context, ignored string) error {
	if ignored != "" {
		c.Response().Header().Set(ignoredHeader, ignored)
	}
	return c.JSONBlob(http.StatusOK, []byte("{}"))
}
