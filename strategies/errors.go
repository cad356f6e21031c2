package strategies

import (
	"errors"
	"strings"
)

// More sentinel errors, next to the ones in strategy.go.
var (
	// ErrInvalidRegistration means a Registry refused a registration: the
	// name is empty or malformed, or the factory is nil.
	ErrInvalidRegistration = errors.New("bourse: invalid strategy registration")
	// ErrInvalidDecision means a Picker returned a decision the exchange
	// cannot carry out, such as a Target outside the membership. The fun
	// strategy checks its user function's decisions and returns it.
	ErrInvalidDecision = errors.New("bourse: invalid strategy decision")
)

// UnknownStrategyError is returned by Registry.New for a name nothing is
// registered under. It lists the names that are, so that a typo in a
// configuration file explains itself.
type UnknownStrategyError struct {
	// Name is the name asked for.
	Name string
	// Known are the registered names, sorted.
	Known []string
}

func (e *UnknownStrategyError) Error() string {
	var b strings.Builder
	b.WriteString(ErrUnknownStrategy.Error())
	b.WriteString(` "`)
	b.WriteString(e.Name)
	b.WriteString(`" (known: `)
	if len(e.Known) == 0 {
		b.WriteString("none")
	}
	b.WriteString(strings.Join(e.Known, ", "))
	b.WriteString(")")
	return b.String()
}

// Unwrap returns ErrUnknownStrategy.
func (e *UnknownStrategyError) Unwrap() error { return ErrUnknownStrategy }

// RejectedError is the error a Picker returns when a user function refuses a
// request. Both errors.Is(err, ErrRejected) and errors.Is(err, Reason) hold, so
// callers can test for rejection in general or for their own reasons.
type RejectedError struct {
	// Reason is the error the user function returned.
	Reason error
}

func (e *RejectedError) Error() string {
	if e.Reason == nil {
		return ErrRejected.Error()
	}
	// Do not say "rejected" twice when the reason already says it.
	if errors.Is(e.Reason, ErrRejected) {
		return e.Reason.Error()
	}
	return ErrRejected.Error() + ": " + e.Reason.Error()
}

// Unwrap returns ErrRejected and the reason.
func (e *RejectedError) Unwrap() []error {
	if e.Reason == nil {
		return []error{ErrRejected}
	}
	return []error{ErrRejected, e.Reason}
}

var (
	_ error = (*UnknownStrategyError)(nil)
	_ error = (*RejectedError)(nil)
)
