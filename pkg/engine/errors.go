package engine

import (
	"context"
	"errors"
	"fmt"
)

// Kind is what kind of failure an engine reports.
type Kind int

const (
	// Unknown is any other failure (an API server answers 500).
	Unknown Kind = iota
	// NotFound: the engine has no such object.
	NotFound
	// Conflict: the engine refuses because of the object's state (in use,
	// name taken, not running).
	Conflict
	// Unavailable: the engine cannot be reached, or is not connected.
	Unavailable
	// InvalidArgument: the engine refuses the request as invalid.
	InvalidArgument
	// NotImplemented: the engine cannot do this (e.g. a log driver that
	// cannot be read).
	NotImplemented
	// Deadline: the engine did not answer in time.
	Deadline
)

func (k Kind) String() string {
	switch k {
	case NotFound:
		return "NotFound"
	case Conflict:
		return "Conflict"
	case Unavailable:
		return "Unavailable"
	case InvalidArgument:
		return "InvalidArgument"
	case NotImplemented:
		return "NotImplemented"
	case Deadline:
		return "Deadline"
	}
	return "Unknown"
}

// Error is an engine failure of a known kind. Message is for people (the
// engine's own words where it gave any); Reason, when set, is a
// machine-readable detail in CamelCase that a caller may act on (e.g.
// "NotTagged").
type Error struct {
	Kind    Kind
	Reason  string
	Message string
	Err     error // the cause, if any
}

func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Kind.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error of kind k with a formatted message; %w wraps a cause.
func Errorf(k Kind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: k, Message: err.Error(), Err: errors.Unwrap(err)}
}

// Wrap marks err as kind k, keeping its message; nil stays nil.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}

// KindOf is the kind of err: that of the outermost *Error in its chain, else
// Deadline for a context deadline, else Unknown.
func KindOf(err error) Kind {
	var e *Error
	switch {
	case err == nil:
		return Unknown
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, context.DeadlineExceeded):
		return Deadline
	}
	return Unknown
}

// ReasonOf is the Reason of the outermost *Error in err's chain, or "".
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// IsNotFound, IsConflict and IsUnavailable test KindOf(err).
func IsNotFound(err error) bool    { return KindOf(err) == NotFound }
func IsConflict(err error) bool    { return KindOf(err) == Conflict }
func IsUnavailable(err error) bool { return KindOf(err) == Unavailable }
