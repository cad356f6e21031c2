package deploy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bourse-go/bourse/errs"
)

// The sentinels of deploy. Each one but ErrDuplicateKind wraps
// errs.ErrInvalid, so errors.Is(err, errs.ErrInvalid) holds for a spec or a
// placement that cannot be used, as for any bad argument in bourse.
var (
	// ErrNoEligibleNode: the spec's selector matches none of the members
	// (or there are no members). Place returns it in a *PlaceError.
	ErrNoEligibleNode = errs.New("bourse: deploy: no node matches the selector")
	// ErrCannotFit: a replicas spec asks for more instances than
	// MaxPerNode allows on the eligible members (MaxPerNode × eligible <
	// Total). Place returns it in a *PlaceError.
	ErrCannotFit = errs.New("bourse: deploy: the instances cannot fit on the eligible nodes")
	// ErrUnknownKind: no constructor is registered under the kind's name.
	// Kinds returns it in an *UnknownKindError.
	ErrUnknownKind = errs.New("bourse: deploy: unknown service kind")
	// ErrInvalidKind: Kinds refused a registration (a malformed name or a
	// nil constructor), or a constructor returned no handler.
	ErrInvalidKind = errs.New("bourse: deploy: invalid service kind")
	// ErrDuplicateKind: a kind is already registered under that name.
	ErrDuplicateKind = errors.New("bourse: deploy: service kind already registered")
)

// PlaceError is the error of Place when a valid spec cannot be placed on
// the members given: Err is ErrNoEligibleNode or ErrCannotFit, and the
// error says what was asked and what was there.
type PlaceError struct {
	// Service is the spec's name.
	Service string
	// Members is how many members were given, Eligible how many match the
	// selector.
	Members, Eligible int
	// Total and MaxPerNode are the spec's (replicas only).
	Total, MaxPerNode int
	// Err is ErrNoEligibleNode or ErrCannotFit.
	Err error
}

func (e *PlaceError) Error() string {
	if errors.Is(e.Err, ErrCannotFit) {
		return fmt.Sprintf("%v: service %q: %d instances, at most %d per node, need %d nodes; %d of the %d members match the selector",
			e.Err, e.Service, e.Total, e.MaxPerNode, (e.Total+e.MaxPerNode-1)/e.MaxPerNode, e.Eligible, e.Members)
	}
	return fmt.Sprintf("%v: service %q: none of the %d members matches", e.Err, e.Service, e.Members)
}

// Unwrap returns Err.
func (e *PlaceError) Unwrap() error { return e.Err }

// UnknownKindError is returned for a kind nothing is registered under. It
// lists the kinds that are, and the nearest one when the name looks like a
// typo of it.
type UnknownKindError struct {
	// Name is the kind asked for.
	Name string
	// Known are the registered kinds, sorted.
	Known []string
	// Suggestion is the known kind nearest to Name, "" when none is near.
	Suggestion string
}

func (e *UnknownKindError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %q (known: ", ErrUnknownKind, e.Name)
	if len(e.Known) == 0 {
		b.WriteString("none")
	}
	b.WriteString(strings.Join(e.Known, ", "))
	b.WriteString(")")
	if e.Suggestion != "" {
		fmt.Fprintf(&b, "; did you mean %q?", e.Suggestion)
	}
	return b.String()
}

// Unwrap returns ErrUnknownKind.
func (e *UnknownKindError) Unwrap() error { return ErrUnknownKind }

var (
	_ error = (*PlaceError)(nil)
	_ error = (*UnknownKindError)(nil)
)
