package watermill

import "errors"

// Errors of this package. Those of bourse (actors.ErrUnknownExchange,
// actors.ErrWrongKind, actors.ErrInvalid, actors.ErrStopped, ...) come back
// wrapped, so errors.Is finds them too.
var (
	// ErrPublisherClosed is returned by Publish after Close.
	ErrPublisherClosed = errors.New("bourse/watermill: publisher closed")
	// ErrSubscriberClosed is returned by Subscribe and SubscribeInitialize
	// after Close.
	ErrSubscriberClosed = errors.New("bourse/watermill: subscriber closed")
)
