package topic

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error the package returns is an [*Error] wrapping one
// of them.
var (
	// ErrInvalidKey means a routing key breaks the rules in the package
	// documentation.
	ErrInvalidKey = errors.New("bourse: invalid routing key")
	// ErrInvalidPattern means a subscription pattern breaks the rules in the
	// package documentation.
	ErrInvalidPattern = errors.New("bourse: invalid pattern")
)

// Error describes an invalid routing key or pattern.
type Error struct {
	// Input is the rejected key or pattern.
	Input string
	// Pos is the byte offset in Input of the start of the offending word, or
	// -1 when the problem is the input as a whole (empty, too long).
	Pos int
	// Reason says what is wrong, e.g. "wildcard must be a whole word".
	Reason string
	// Err is ErrInvalidKey or ErrInvalidPattern.
	Err error
}

// Error returns a message such as
// `bourse: invalid pattern "a.b*": wildcard must be a whole word (at byte 2)`.
func (e *Error) Error() string {
	prefix := "bourse: invalid input"
	if e.Err != nil {
		prefix = e.Err.Error()
	}
	msg := prefix + " " + strconv.Quote(e.Input) + ": " + e.Reason
	if e.Pos >= 0 {
		msg += " (at byte " + strconv.Itoa(e.Pos) + ")"
	}
	return msg
}

// Unwrap returns the sentinel, ErrInvalidKey or ErrInvalidPattern.
func (e *Error) Unwrap() error { return e.Err }
