package actors

import (
	"context"

	"github.com/bourse-go/bourse/exchange"
)

// Flow control of subscribers: each subscriber's pending publications
// (handed to its actor, not yet taken) are bounded, DefaultPendingLimit by
// default (Config.Subscribers, YAML broker.subscribers; WithPending and
// WithOverflow per subscription), with a policy for what does not fit:
// DropNewest (the default), DropOldest or Disconnect. Stats.Overflowed
// counts every publication dropped; WatchSubscribers streams the
// episodes (docs/flow-control.md).
type (
	// SubscribeOption bounds a subscription's pending publications
	// (WithPending, WithOverflow).
	SubscribeOption = exchange.SubscribeOption
	// SubscriberConfig is a bound and its policy: Pending (0: the
	// default) and Overflow.
	SubscriberConfig = exchange.SubscriberConfig
	// OverflowPolicy is DropNewest, DropOldest or Disconnect.
	OverflowPolicy = exchange.OverflowPolicy
	// SubscriptionEnded is what a subscriber actor receives when the
	// exchange ended one of its subscriptions (Disconnect): Exchange,
	// Pattern, Err (wrapping ErrSlowConsumer).
	SubscriptionEnded = exchange.SubscriptionEnded
	// SubscriberEvent is a subscriber overflowing, catching up, or
	// disconnected, on this node (WatchSubscribers).
	SubscriberEvent = exchange.SubscriberEvent
	// SubscriberEventType is Overflowing, CaughtUp or Disconnected.
	SubscriberEventType = exchange.SubscriberEventType
)

// The overflow policies and subscriber events.
const (
	OverflowDefault = exchange.OverflowDefault
	DropNewest      = exchange.DropNewest
	DropOldest      = exchange.DropOldest
	Disconnect      = exchange.Disconnect

	Overflowing  = exchange.Overflowing
	CaughtUp     = exchange.CaughtUp
	Disconnected = exchange.Disconnected

	// DefaultPendingLimit is a subscriber's bound when nothing else is
	// said (NATS's default pending messages per subscription).
	DefaultPendingLimit = exchange.DefaultPendingLimit
)

// ErrSlowConsumer ends a subscription whose subscriber had its limit of
// pending publications under the Disconnect policy (Subscription.Err).
var ErrSlowConsumer = exchange.ErrSlowConsumer

// WithPending bounds a subscriber's pending publications to n (0: the
// broker's default).
func WithPending(n int) SubscribeOption { return exchange.WithPending(n) }

// WithOverflow sets what becomes of a publication beyond the bound.
func WithOverflow(p OverflowPolicy) SubscribeOption { return exchange.WithOverflow(p) }

// ParseOverflowPolicy reads "drop-newest", "drop-oldest" or "disconnect".
func ParseOverflowPolicy(s string) (OverflowPolicy, error) { return exchange.ParseOverflowPolicy(s) }

// WatchSubscribers returns a channel of the flow events of pub-sub
// exchange name's subscribers on this node: Overflowing (one starts
// dropping), CaughtUp (back at half its limit, with how many it lost) and
// Disconnected. The channel is closed when ctx ends or the broker stops.
// It holds exchange.SubscriberWatchBuffer events; a watcher that falls
// behind misses some (Stats(name).Overflowed counts every drop). Errors:
// ErrUnknownExchange, ErrWrongKind, ErrStopped, or ctx's error.
func (b *Broker) WatchSubscribers(ctx context.Context, name string) (<-chan SubscriberEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, stop, err := b.hub.WatchSubscribers(name)
	if err != nil {
		return nil, err
	}
	out := make(chan SubscriberEvent, exchange.SubscriberWatchBuffer)
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
