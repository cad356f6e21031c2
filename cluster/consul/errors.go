package consul

import "errors"

// Errors returned by Discovery. Compare with errors.Is: they are wrapped with
// details.
var (
	// ErrUnavailable is returned by Start when the agent cannot be reached or
	// refuses the node's registration.
	ErrUnavailable = errors.New("bourse: consul: agent unavailable")
	// ErrStarted is returned by Start on a Discovery that is already running.
	ErrStarted = errors.New("bourse: consul: already started")
	// ErrStopped is returned by Start after Stop: a Discovery is not reused.
	ErrStopped = errors.New("bourse: consul: stopped")
)

// ConfigError is a problem with one field of a Config or of the
// cluster.Registration passed to Start. Its message names the field:
// "bourse: consul: Address is empty".
type ConfigError struct {
	// Field is the field's name, e.g. "Address" or "Registration.Port".
	Field string
	// Problem says what is wrong with it, e.g. "is empty".
	Problem string
}

func (e *ConfigError) Error() string {
	return "bourse: consul: " + e.Field + " " + e.Problem
}
