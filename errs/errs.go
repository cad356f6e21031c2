package errs

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every error about bad configuration or a bad
// argument, in every bourse package: a field out of range, an empty name, a
// malformed address, a nil PID, an unknown strategy's parameters, a
// configuration file that cannot be used.
var ErrInvalid = errors.New("bourse: invalid argument")

// FieldError is a problem with one field of a configuration struct or of an
// argument. It wraps ErrInvalid and, when there is one, the underlying error
// (a more specific sentinel such as static.ErrInvalidPeer, or the error of a
// call that failed on the value).
type FieldError struct {
	// Field names the field by package, type and path, e.g.
	// "cluster.Config.Port", "exchange.Spec.Name" or "static.Peers[2]".
	Field string
	// Problem says what is wrong with the value and what is wanted, e.g.
	// "is 70000, want 0..65535 (0 picks a free port)". It names other
	// fields in words, not by their Go names, so that it reads the same
	// under a YAML key.
	Problem string
	// Err is the underlying error, or nil.
	Err error
}

// Field returns a *FieldError for field, its problem formatted as
// fmt.Sprintf does.
func Field(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Error returns "bourse: FIELD: PROBLEM".
func (e *FieldError) Error() string {
	return "bourse: " + e.Field + ": " + e.Problem
}

// Unwrap returns ErrInvalid and Err, so that errors.Is matches both.
func (e *FieldError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}

// Rename returns err with its field renamed when err is a *FieldError
// whose Field starts with from: the prefix is replaced by to. It is how a
// struct that validates a nested one reports the nested field under its own
// path ("exchange.Config.MaxRedirects" under cluster.Config becomes
// "cluster.Config.Exchange.MaxRedirects"). Other errors are returned as
// they are.
func Rename(err error, from, to string) error {
	fe, ok := err.(*FieldError)
	if !ok || !strings.HasPrefix(fe.Field, from) {
		return err
	}
	c := *fe
	c.Field = to + strings.TrimPrefix(fe.Field, from)
	return &c
}

// New returns a sentinel error of its own with message msg that also wraps
// ErrInvalid: for a package's more specific kind of bad argument
// (static.ErrInvalidPeer, strategies.ErrInvalidParams), so that
// errors.Is(err, ErrInvalid) holds for it as for every other.
func New(msg string) error {
	return &sentinel{msg}
}

type sentinel struct{ msg string }

func (s *sentinel) Error() string { return s.msg }

// Unwrap returns ErrInvalid.
func (s *sentinel) Unwrap() error { return ErrInvalid }
