package pipeline

import (
	"errors"
	"fmt"
	"time"
)

// Errors callers decide on. Wrap them with %w and a message a person can act on.
var (
	ErrNotFound  = errors.New("not found")
	ErrForbidden = errors.New("not allowed")
	ErrConflict  = errors.New("conflict")
	ErrInvalid   = errors.New("invalid")
	ErrDuplicate = errors.New("duplicate")
)

// LockedError says an environment is locked, by whom and why.
type LockedError struct{ Lock Lock }

func (e *LockedError) Error() string {
	l := e.Lock
	msg := fmt.Sprintf("%s is locked by %s", l.Scope(), l.Owner)
	if l.Reason != "" {
		msg += ": " + l.Reason
	}
	if !l.Expires.IsZero() {
		msg += fmt.Sprintf(" (until %s)", l.Expires.UTC().Format(time.RFC3339))
	}
	return msg + "; ask them to unlock it, or wait"
}
