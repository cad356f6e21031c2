package actors

import (
	"context"

	"github.com/bourse-go/bourse/exchange"
)

// Probation: this node takes a handler whose requests keep timing out or
// failing in transport out of its rotation for a while, probes it, and
// lets it back when it answers (Config.Probation; docs/guarantees.md and
// exchange.ProbationConfig say how). An actors.Service answers probes
// itself; a handler actor of your own (Connect) answers a Request whose
// IsProbe is true with Respond(req.Payload).
type (
	// ProbationConfig configures probation: Failures in a row that eject
	// (0: 5; ProbationOff: off), Eject (the first ejection, doubling up to
	// MaxEject), Ramp (how long a handler let back takes to get its whole
	// share) and ProbeTimeout.
	ProbationConfig = exchange.ProbationConfig
	// HealthEvent is a handler ejected, a probe that failed, or a handler
	// let back, on this node (WatchHealth).
	HealthEvent = exchange.HealthEvent
	// HealthEventType is Ejected, ProbeFailed or Readmitted.
	HealthEventType = exchange.HealthEventType
	// HealthStats are the probation counters of an exchange on this node
	// (Stats.Health).
	HealthStats = exchange.HealthStats
)

// HandlerLimits are the defaults of the limits of a node's handlers
// (Config.Handlers): Concurrency (0: DefaultConcurrency) and Queue (0:
// DefaultQueue; NoQueue: none).
type HandlerLimits = exchange.HandlerLimits

// Limits of handlers.
const (
	DefaultConcurrency = exchange.DefaultConcurrency
	DefaultQueue       = exchange.DefaultQueue
	NoQueue            = exchange.NoQueue
	MaxConcurrency     = exchange.MaxConcurrency
	MaxQueue           = exchange.MaxQueue
)

// The health events.
const (
	Ejected     = exchange.Ejected
	ProbeFailed = exchange.ProbeFailed
	Readmitted  = exchange.Readmitted
	// ProbationOff, as ProbationConfig.Failures, turns probation off.
	ProbationOff = exchange.ProbationOff
)

// WatchHealth returns a channel of the probation events of req-resp
// exchange name on this node: ejections, failed probes, readmissions. The
// channel is closed when ctx ends or the broker stops. It holds
// exchange.HealthWatchBuffer events; a watcher that falls behind misses
// some (Stats(name).Health counts them all). Errors: ErrUnknownExchange,
// ErrWrongKind, ErrStopped, or ctx's error.
func (b *Broker) WatchHealth(ctx context.Context, name string) (<-chan HealthEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, stop, err := b.hub.WatchHealth(name)
	if err != nil {
		return nil, err
	}
	out := make(chan HealthEvent, exchange.HealthWatchBuffer)
	b.watchWG.Add(1)
	go func() {
		defer b.watchWG.Done()
		defer close(out)
		defer stop()
		for {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- ev:
				default: // the watcher lags: it misses this one
				}
			case <-ctx.Done():
				return
			case <-b.ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
