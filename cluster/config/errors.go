package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/internal/suggest"
)

// ErrInvalid is wrapped by every error of Load and Parse: the file is
// missing, unreadable, malformed, or says something bourse cannot do. It is
// errs.ErrInvalid, the one sentinel of bad configuration in every bourse
// package, under the name this package gave it first.
var ErrInvalid = errs.ErrInvalid

// ErrEmpty is wrapped (with ErrInvalid) by the error of a file that sets
// nothing: it is empty, holds only comments or empty sections, or has no
// known section at all (is it a bourse configuration file?). A node with a
// generated name and no exchanges is never what such a file meant.
var ErrEmpty = errs.New("bourse: configuration file sets nothing")

// Error is a problem with one key of a configuration file (or with the whole
// file, when Key is empty). It wraps ErrInvalid and, when there is one, the
// underlying error: a *fs.PathError for a missing file, a strategy factory's
// error for bad parameters, or the core's *errs.FieldError when a rule of
// cluster.Config.Validate (or of exchange.Spec, consul.Config, static.Parse)
// found the problem.
type Error struct {
	// File is the path given to Load, or the name given to Parse.
	File string
	// Line is the line of the key in the file (of the YAML parser's
	// complaint for malformed YAML), 1-based; 0 when the value came from the
	// environment or the file is unreadable. For a key the file lacks, it is
	// the line of the nearest enclosing key.
	Line int
	// Column is the column at fault in Line, 1-based, in characters, for
	// malformed YAML; 0 otherwise.
	Column int
	// Key is the key path, e.g. "node.port" or "exchanges[2].strategy".
	Key string
	// Problem says what is wrong, with the valid choices when there are
	// some.
	Problem string
	// Err is the underlying error, or nil.
	Err error
	// Excerpt shows the lines at fault in malformed YAML, numbered, with a
	// ^ under Column, as compilers do; "" otherwise. Error appends it on
	// the lines after the message.
	Excerpt string
}

// Error returns "bourse: FILE[:LINE[:COLUMN]]: KEY: PROBLEM", followed by
// the Excerpt on lines of its own when there is one.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("bourse: ")
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Column))
		}
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Excerpt != "" {
		b.WriteString("\n")
		b.WriteString(e.Excerpt)
	}
	return b.String()
}

// Unwrap returns ErrInvalid and Err, so errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}

// choices renders the valid values of a key for an error message:
// ` (known: a, b, c)`, followed by `; did you mean "b"?` when one of them is
// close to got.
func choices(got string, known []string) string {
	known = slices.Sorted(slices.Values(known))
	s := " (known: none)"
	if len(known) > 0 {
		s = " (known: " + strings.Join(known, ", ") + ")"
	}
	if m := suggest.Closest(got, known); m != "" {
		s += fmt.Sprintf("; did you mean %q?", m)
	}
	return s
}
