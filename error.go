package alertd

import (
	"errors"
	"fmt"
)

// Code is the kind of an error: what the caller did wrong, or that alertd
// failed. The web layer turns it into an HTTP status and the command line
// into an exit code, each in one place.
type Code string

// The kinds of error.
const (
	// Invalid is bad input: a malformed address, an unknown topic, a report
	// with a wrong field, a bad flag.
	Invalid Code = "invalid"
	// NotFound means the thing asked for does not exist.
	NotFound Code = "not_found"
	// Conflict means the request disagrees with the state it would change.
	Conflict Code = "conflict"
	// Unauthorized means the caller did not prove who it is.
	Unauthorized Code = "unauthorized"
	// Unavailable means a part alertd needs (the database) is not answering.
	Unavailable Code = "unavailable"
	// Internal is a failure of alertd itself; its cause is for the log,
	// never for the person who asked.
	Internal Code = "internal"
)

// Error is an error of a known kind, with a message written for the person
// who caused it or must act on it.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error of the code with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, Internal
// when there is none, and "" for a nil err.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return Internal
}
