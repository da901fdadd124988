package client

import (
	"fmt"
	"net/http"
	"time"
)

// APIError is an event, or a whole request, that the server refused: a
// non-2xx answer, or one event of a batch listed as rejected.
type APIError struct {
	// Status is the HTTP status: 400 for a bad event (also one refused
	// inside a batch answered 200), 401 for a missing or wrong key, 413,
	// 415, 429, 5xx. It is 0 for an event the client could not encode
	// (invalid Metadata), which was never sent.
	Status int
	// Message is the server's explanation ("error" in its answer).
	Message string
	// Field names the event field at fault, when the server said.
	Field string
	// Index is the position of the refused event among the events given
	// to Send, or -1 when the error is about the whole request.
	Index int
	// RetryAfter is the server's Retry-After, when it sent one (429, 503).
	RetryAfter time.Duration
}

// Error describes the refusal.
func (e *APIError) Error() string {
	s := "trackskills: "
	switch {
	case e.Status == 0:
		s += fmt.Sprintf("event %d not sent", e.Index)
	case e.Index >= 0:
		s += fmt.Sprintf("event %d refused (HTTP %d)", e.Index, e.Status)
	default:
		s += fmt.Sprintf("HTTP %d", e.Status)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Retryable reports whether the same request may succeed later: true for
// 408, 429 and 5xx, false for a bad event (400), a wrong key (401), a body
// too large (413) and the rest.
func (e *APIError) Retryable() bool {
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// NetworkError is a request that got no usable answer: the server could not
// be reached, did not answer in time, or sent something unreadable. The
// events may or may not have been stored; sending them again with the same
// EventID stores each once.
type NetworkError struct {
	// URL is the endpoint the request went to.
	URL string
	// Err is the underlying error (a *url.Error, a context error, ...).
	Err error
}

// Error describes the failed request.
func (e *NetworkError) Error() string {
	return fmt.Sprintf("trackskills: post %s: %v", e.URL, e.Err)
}

// Unwrap returns the underlying error.
func (e *NetworkError) Unwrap() error { return e.Err }

// Retryable reports true: a network failure may pass.
func (e *NetworkError) Retryable() bool { return true }

// IsRetryable reports whether err, as returned by Send, Flush or Close, holds
// a failure that may pass if the events are sent again (a network error,
// 408, 429 or 5xx). Resending a whole batch is safe when every event has an
// EventID: the server stores each id once.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if r, ok := err.(interface{ Retryable() bool }); ok && r.Retryable() {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return IsRetryable(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if IsRetryable(e) {
				return true
			}
		}
	}
	return false
}

// retryAfter returns the longest Retry-After among the API errors in err.
func retryAfter(err error) time.Duration {
	var d time.Duration
	var walk func(error)
	walk = func(err error) {
		if ae, ok := err.(*APIError); ok && ae.RetryAfter > d {
			d = ae.RetryAfter
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return d
}
