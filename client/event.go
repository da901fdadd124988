package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trackskills/trackskills"
)

// Statuses an event may have.
const (
	StatusSuccess = "success"
	StatusError   = "error"
	StatusTimeout = "timeout"
)

// maxErrorType is the server's limit on error_type, which the client applies
// itself so that a long error type does not get a whole event refused (a
// long message the server cuts; the client cuts it the same way, with
// trackskills.CutMessage).
const maxErrorType = trackskills.MaxErrorType

// Event is one use of a tool, in the shape of the ingest API (POST
// /api/track); empty fields are left out and get the server's defaults.
type Event struct {
	ToolName          string          `json:"tool_name"`
	ToolCategory      string          `json:"tool_category,omitempty"`
	Status            string          `json:"status"`
	DurationMs        *int64          `json:"duration_ms,omitempty"`
	ErrorType         string          `json:"error_type,omitempty"`
	ErrorMessage      string          `json:"error_message,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	RequestSizeBytes  *int64          `json:"request_size_bytes,omitempty"`
	ResponseSizeBytes *int64          `json:"response_size_bytes,omitempty"`
	EventID           string          `json:"event_id,omitempty"`
	Timestamp         time.Time       `json:"timestamp,omitzero"` // RFC 3339; zero: when the server receives it
	UserID            string          `json:"user_id,omitempty"`
	SessionID         string          `json:"session_id,omitempty"`
	Source            string          `json:"source,omitempty"`
	// Kind is empty for a tool call, else the kind of mark (a prompt, a
	// stop, a subagent's start, a denied call...) or of entry: the
	// server's kinds (trackskills.Kinds).
	Kind string `json:"kind,omitempty"`
	// AgentID is the subagent the event happened in, hashed by the server
	// like session_id.
	AgentID string `json:"agent_id,omitempty"`
}

// Milliseconds returns d in whole milliseconds (rounded), as Event.DurationMs
// wants it.
func Milliseconds(d time.Duration) *int64 {
	ms := int64((d + time.Millisecond/2) / time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	return &ms
}

// describeError returns the status, error_type and error_message of an event
// for err: the type is the name of err's type without its package ("*fs.PathError"
// is "PathError"), looking through fmt.Errorf's %w wrappers; a plain
// errors.New error is "error". A context deadline is a timeout.
func describeError(err error) (status, typ, msg string) {
	status = StatusError
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		status = StatusTimeout
	}
	return status, errorTypeName(err), trackskills.CutMessage(err.Error())
}

func errorTypeName(err error) string {
	// fmt.Errorf("...: %w", err) only adds context: name the wrapped error.
	for {
		t := reflect.TypeOf(err).String()
		if t != "*fmt.wrapError" {
			break
		}
		inner := errors.Unwrap(err)
		if inner == nil {
			break
		}
		err = inner
	}
	if err == context.DeadlineExceeded {
		return "DeadlineExceeded"
	}
	if err == context.Canceled {
		return "Canceled"
	}
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer && t.Name() == "" {
		t = t.Elem()
	}
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 { // a generic type's arguments
		name = name[:i]
	}
	switch name {
	case "":
		name = strings.TrimLeft(t.String(), "*")
	case "errorString":
		name = "error"
	}
	if utf8.RuneCountInString(name) > maxErrorType {
		name = string([]rune(name)[:maxErrorType])
	}
	return name
}

// panicMessage describes a recovered panic value.
func panicMessage(p any) string {
	if err, ok := p.(error); ok {
		return trackskills.CutMessage(err.Error())
	}
	return trackskills.CutMessage(fmt.Sprint(p))
}
