package consul

import (
	"errors"

	"github.com/bourse-go/bourse/errs"
)

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
// cluster.Registration passed to Start: an alias of errs.FieldError, the one
// field-error type of every bourse package, kept for the code that names it.
// Its Field names the struct and field ("consul.Config.Address",
// "cluster.Registration.Port"); it wraps errs.ErrInvalid.
type ConfigError = errs.FieldError
