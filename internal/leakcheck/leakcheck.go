// Package leakcheck holds the goroutine-leak options bourse's tests share.
package leakcheck

import "go.uber.org/goleak"

// Options are the goleak options for bourse's tests. They ignore one
// goroutine of protoactor that is not a leak: the dead-letter throttle
// (actor/throttler.go, NewThrottle) starts a goroutine on the first dead letter
// of a period that ends by itself when the period (1 s by default) is over.
// Stopping actors that still receive messages makes dead letters, so a test
// that stops everything can still see one for up to a second.
func Options() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	}
}
