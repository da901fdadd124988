// Package trackskills holds the domain types shared by every part of Track
// Skills: the event as clients send it and as it is stored, its validation,
// and the names and wire format of the JetStream stream.
package trackskills

import (
	"errors"
	"fmt"
)

// ErrInvalid reports input that breaks a rule of the event contract.
var ErrInvalid = errors.New("invalid")

// ErrNotFound reports that a requested thing does not exist.
var ErrNotFound = errors.New("not found")

// FieldError is a validation error about one field of an event.
type FieldError struct {
	Field   string // JSON name of the field, empty when the whole body is wrong
	Message string // what is wrong and how to fix it
}

// Error returns the message, prefixed with the field name when there is one.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Unwrap lets errors.Is(err, ErrInvalid) match a FieldError.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}
