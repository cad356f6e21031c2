package exchange

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/errs"
)

// Flow control of subscribers: each local subscriber has a bound on its
// pending publications, those handed to it (in its mailbox, or queued for
// it here) that it has not taken yet. protoactor's mailboxes are
// unbounded, so without it a subscriber slower than its publishers grows
// its node's memory without limit.
//
// A publication counts as taken when the subscriber actor's Receive
// returns from it: *Publication implements protoactor's AutoRespond, whose
// GetAutoResponse the actor's context calls right after Receive, on the
// actor's goroutine, whatever the actor is (Subscribe's own actor, or
// SubscribeFunc's). Publications go with the flow's sink as their sender,
// so that the auto-response lands there, not in the dead letters. The
// fast path, a subscriber that keeps up, costs an atomic add when the
// publication goes and one, with a lock-free look-up of the subscriber by
// its actor id, when it is taken: no lock and no allocation.

// OverflowPolicy says what becomes of a publication for a subscriber that
// already has its limit of pending publications.
type OverflowPolicy int

// The overflow policies.
const (
	// OverflowDefault, in a SubscribeOption or SubscriberConfig, means
	// the hub's default: Config.Subscribers.Overflow, DropNewest when
	// that is OverflowDefault too.
	OverflowDefault OverflowPolicy = iota
	// DropNewest drops the publication that does not fit: the subscriber
	// keeps the oldest it has pending (as a NATS client does with a slow
	// consumer's messages).
	DropNewest
	// DropOldest drops the oldest pending publication to make room for
	// the new one, so the subscriber sees the latest ones (for prices,
	// positions: the last value is the one that matters). The oldest
	// Window (at most 256) of them are already in the actor's mailbox and
	// cannot be taken back: those are never dropped.
	DropOldest
	// Disconnect ends the subscriber's subscriptions to the exchange at
	// its first overflow, as a NATS server does with a slow consumer: the
	// publication is dropped, each Subscription's Done is closed and its
	// Err is ErrSlowConsumer, the actor receives a *SubscriptionEnded per
	// subscription (after what it had pending), and watchers get a
	// Disconnected event. The actor is not stopped (SubscribeFunc's is).
	Disconnect
)

func (o OverflowPolicy) String() string {
	switch o {
	case OverflowDefault:
		return "default"
	case DropNewest:
		return "drop-newest"
	case DropOldest:
		return "drop-oldest"
	case Disconnect:
		return "disconnect"
	}
	return fmt.Sprintf("OverflowPolicy(%d)", int(o))
}

// ParseOverflowPolicy returns the policy its String names ("drop-newest",
// "drop-oldest", "disconnect"), or an error wrapping ErrInvalid.
func ParseOverflowPolicy(s string) (OverflowPolicy, error) {
	for _, o := range []OverflowPolicy{DropNewest, DropOldest, Disconnect} {
		if o.String() == s {
			return o, nil
		}
	}
	return OverflowDefault, fmt.Errorf("%w: unknown overflow policy %q (known: drop-newest, drop-oldest, disconnect)", ErrInvalid, s)
}

// DefaultPendingLimit is a subscriber's bound on its pending publications
// when nothing else is said: NATS's default for a subscription's pending
// messages.
const DefaultPendingLimit = 65536

// MaxPendingLimit bounds SubscriberConfig.Pending: a larger figure is a
// size in bytes, not a count of messages.
const MaxPendingLimit = 1 << 30

// SubscriberConfig bounds a subscriber's pending publications
// (Config.Subscribers for the hub's default, SubscribeOption for one
// subscription).
type SubscriberConfig struct {
	// Pending is how many publications a subscriber may have pending: 0
	// means the default (Config.Subscribers.Pending, DefaultPendingLimit
	// when that is 0 too); 1..MaxPendingLimit.
	Pending int
	// Overflow is what becomes of a publication beyond Pending.
	Overflow OverflowPolicy
}

// withDefaults fills c's zero fields from def, then from the package's
// defaults.
func (c SubscriberConfig) withDefaults(def SubscriberConfig) SubscriberConfig {
	if c.Pending == 0 {
		c.Pending = def.Pending
	}
	if c.Pending == 0 {
		c.Pending = DefaultPendingLimit
	}
	if c.Overflow == OverflowDefault {
		c.Overflow = def.Overflow
	}
	if c.Overflow == OverflowDefault {
		c.Overflow = DropNewest
	}
	return c
}

func (c SubscriberConfig) validate(field string) error {
	if c.Pending < 0 || c.Pending > MaxPendingLimit {
		return errs.Field(field+".Pending", "is %d, want 0 (the default, %d) to %d", c.Pending, DefaultPendingLimit, MaxPendingLimit)
	}
	if c.Overflow < OverflowDefault || c.Overflow > Disconnect {
		return errs.Field(field+".Overflow", "is %v, want drop-newest, drop-oldest or disconnect", c.Overflow)
	}
	return nil
}

// SubscribeOption sets a subscription's bound on its subscriber's pending
// publications. The bound belongs to the subscriber actor: when an actor
// subscribes to an exchange several times, the options of its first
// subscription that is still there apply to all of them.
type SubscribeOption func(*SubscriberConfig)

// WithPending bounds the subscriber's pending publications to n (1 to
// MaxPendingLimit; 0 means the hub's default).
func WithPending(n int) SubscribeOption { return func(c *SubscriberConfig) { c.Pending = n } }

// WithOverflow sets what becomes of a publication beyond the bound.
func WithOverflow(p OverflowPolicy) SubscribeOption {
	return func(c *SubscriberConfig) { c.Overflow = p }
}

// ErrSlowConsumer ends a subscription whose subscriber had its limit of
// pending publications and whose policy is Disconnect
// (Subscription.Err, SubscriptionEnded.Err, SubscriberEvent.Err). It is
// not ErrOverloaded: that one is a handler's, for requests.
var ErrSlowConsumer = errors.New("bourse: slow consumer: subscriber had its limit of pending publications")

// SubscriptionEnded is what a subscriber actor receives, after the
// publications it had pending, when the exchange ended one of its
// subscriptions by itself (Disconnect); not after Unsubscribe.
type SubscriptionEnded struct {
	Exchange, Pattern string
	Err               error // wraps ErrSlowConsumer
}

// SubscriberEventType says what happened to a subscriber's flow.
type SubscriberEventType int

// The subscriber events.
const (
	// Overflowing: the subscriber has its limit of pending publications
	// and starts losing some (DropNewest, DropOldest).
	Overflowing SubscriberEventType = iota + 1
	// CaughtUp: an Overflowing subscriber is back at half its limit;
	// Dropped says how many publications it lost meanwhile.
	CaughtUp
	// Disconnected: the subscriber overflowed with the Disconnect policy
	// and its subscriptions ended with ErrSlowConsumer.
	Disconnected
)

func (t SubscriberEventType) String() string {
	switch t {
	case Overflowing:
		return "overflowing"
	case CaughtUp:
		return "caught-up"
	case Disconnected:
		return "disconnected"
	}
	return fmt.Sprintf("SubscriberEventType(%d)", int(t))
}

// SubscriberEvent is a change of a local subscriber's flow (WatchSubscribers).
type SubscriberEvent struct {
	Type       SubscriberEventType
	Exchange   string
	Subscriber *actor.PID
	Policy     OverflowPolicy
	Limit      int
	// Dropped counts the publications the subscriber lost: in this
	// episode (CaughtUp), or 1 (Overflowing, Disconnected).
	Dropped uint64
	Err     error // Disconnected: wraps ErrSlowConsumer
	At      time.Time
}

// SubscriberWatchBuffer is the capacity of the channel WatchSubscribers
// returns.
const SubscriberWatchBuffer = 64

// dropOldestWindow is how many of a DropOldest subscriber's pending
// publications may be in its mailbox at once (the rest wait in its ring).
func dropOldestWindow(limit int) int64 {
	w := limit / 4
	switch {
	case w < 1:
		w = 1
	case w > 256:
		w = 256
	}
	return int64(w)
}

// flow is a subscriber's pending publications. Publishers call offer from
// any goroutine; took runs on the subscriber's actor.
type flow struct {
	p      *point
	pid    *actor.PID
	limit  int64
	policy OverflowPolicy
	window int64 // DropOldest: bound on those in the mailbox

	// What is in the mailbox, not taken yet, is sent - taken. Publishers
	// write sent, the subscriber's actor writes taken, each on a cache
	// line of its own; publishers read taken only when the last value
	// they saw (seen) leaves no room, so that a subscriber that keeps up
	// costs no cache line going back and forth per publication.
	_     [64]byte
	sent  atomic.Int64
	seen  atomic.Int64 // a value taken had; never more than taken now
	_     [48]byte
	taken atomic.Int64
	_     [56]byte

	gone atomic.Bool // disconnected (Disconnect)
	// overflowed is set at an overflow and cleared when pending is back
	// at half the limit (events Overflowing, CaughtUp); episode counts
	// the drops since it was set.
	overflowed atomic.Bool
	episode    atomic.Uint64

	// DropOldest: publications beyond the window, oldest first.
	queued atomic.Bool // the ring holds some: publishers go through it
	mu     sync.Mutex
	ring   []*Publication
	head   int
	n      int
}

func newFlow(p *point, pid *actor.PID, c SubscriberConfig) *flow {
	f := &flow{p: p, pid: pid, limit: int64(c.Pending), policy: c.Overflow}
	if f.policy == DropOldest {
		f.window = dropOldestWindow(c.Pending)
	}
	return f
}

// offer hands pub to the subscriber, or drops it by the policy. It reports
// whether pub was handed over or queued for it.
func (f *flow) offer(h *Hub, pub *Publication) bool {
	if f.policy == DropOldest {
		if !f.queued.Load() {
			if f.sent.Add(1)-f.taken.Load() <= f.window {
				h.root.Send(f.pid, &pub.env)
				return true
			}
			f.sent.Add(-1)
		}
		return f.enqueue(h, pub)
	}
	if n := f.sent.Add(1); n-f.seen.Load() <= f.limit || f.room(n) {
		h.root.Send(f.pid, &pub.env)
		return true
	}
	f.sent.Add(-1)
	if f.policy == Disconnect {
		if !f.gone.Swap(true) {
			f.p.overflowDrops.Add(1)
			f.p.slowDisconnects.Add(1)
			h.root.Send(f.p.popPID, &slowCmd{f: f})
			f.p.publishSub(SubscriberEvent{Type: Disconnected, Exchange: f.p.spec.Name, Subscriber: f.pid, Policy: f.policy,
				Limit: int(f.limit), Dropped: 1, Err: errSlow(f.p.spec.Name), At: time.Now()})
			return false
		}
		// Disconnected already: what still comes before the point forgets
		// the subscriber is dropped too.
		f.p.overflowDrops.Add(1)
		return false
	}
	f.dropped()
	return false
}

// room reports whether the subscriber has room for the n-th publication
// sent, reading what it has taken now (and keeping it in seen).
func (f *flow) room(n int64) bool {
	t := f.taken.Load()
	if s := f.seen.Load(); t > s {
		f.seen.CompareAndSwap(s, t)
	}
	return n-t <= f.limit
}

// pending is how many publications are in the subscriber's mailbox, not
// taken yet.
func (f *flow) pending() int64 { return f.sent.Load() - f.taken.Load() }

// enqueue is DropOldest's slow path: the ring, in order, its oldest
// dropped when it is full.
func (f *flow) enqueue(h *Hub, pub *Publication) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		if f.sent.Add(1)-f.taken.Load() <= f.window {
			f.queued.Store(false)
			h.root.Send(f.pid, &pub.env)
			return true
		}
		f.sent.Add(-1)
	}
	f.queued.Store(true)
	capacity := int(f.limit - f.window)
	if capacity <= 0 {
		f.dropped() // a limit of 1: nothing to drop but this one
		return false
	}
	if f.n == capacity {
		f.ring[f.head] = nil
		f.head = (f.head + 1) % len(f.ring)
		f.n--
		f.p.delivered.Add(^uint64(0)) // counted when it was queued
		f.dropped()
	}
	if f.n == len(f.ring) {
		f.grow(capacity)
	}
	f.ring[(f.head+f.n)%len(f.ring)] = pub
	f.n++
	return true
}

// grow doubles the ring, up to capacity, keeping its order.
func (f *flow) grow(capacity int) {
	size := min(max(2*len(f.ring), 64), capacity)
	ring := make([]*Publication, size)
	for i := 0; i < f.n; i++ {
		ring[i] = f.ring[(f.head+i)%len(f.ring)]
	}
	f.ring, f.head = ring, 0
}

// refill moves queued publications to the mailbox while the window has
// room (the actor took one).
func (f *flow) refill(h *Hub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.n > 0 {
		if f.sent.Add(1)-f.taken.Load() > f.window {
			f.sent.Add(-1)
			return
		}
		pub := f.ring[f.head]
		f.ring[f.head] = nil
		f.head = (f.head + 1) % len(f.ring)
		f.n--
		h.root.Send(f.pid, &pub.env)
	}
	f.queued.Store(false)
	if len(f.ring) > 64 {
		f.ring, f.head = nil, 0 // caught up: give the memory back
	}
}

// dropped counts one publication dropped by overflow, and reports the
// start of an episode.
func (f *flow) dropped() {
	f.p.overflowDrops.Add(1)
	f.episode.Add(1)
	if !f.overflowed.Load() && f.overflowed.CompareAndSwap(false, true) {
		f.p.publishSub(SubscriberEvent{Type: Overflowing, Exchange: f.p.spec.Name, Subscriber: f.pid, Policy: f.policy,
			Limit: int(f.limit), Dropped: 1, At: time.Now()})
	}
}

// took counts a publication taken by the subscriber (its actor's Receive
// returned from it).
func (f *flow) took(h *Hub) {
	// A publication that is not this flow's (the subscriber had it
	// before this flow was made, or its actor was forwarded it) counts
	// too: the bound is then looser by that many, for as long as the flow
	// lasts. Checking would cost a read of sent per publication.
	f.taken.Add(1)
	if f.queued.Load() {
		f.refill(h)
	}
	if f.overflowed.Load() && f.pending() <= f.limit/2 && f.overflowed.CompareAndSwap(true, false) {
		f.p.publishSub(SubscriberEvent{Type: CaughtUp, Exchange: f.p.spec.Name, Subscriber: f.pid, Policy: f.policy,
			Limit: int(f.limit), Dropped: f.episode.Swap(0), At: time.Now()})
	}
}

// queuedLen is how many publications wait in the ring (tests).
func (f *flow) queuedLen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func errSlow(exchange string) error {
	return &RequestError{Exchange: exchange, Err: ErrSlowConsumer}
}

// GetAutoResponse implements protoactor's actor.AutoRespond: the
// subscriber's actor context calls it once the actor's Receive has
// returned from the publication, which is when the publication stops
// counting as pending. Not for users to call.
func (pub *Publication) GetAutoResponse(ctx actor.Context) any {
	if pub.p != nil {
		// By the PID value first (the one given to Subscribe is the
		// actor's own when it came from Spawn: a pointer hashes faster
		// than a string), then by id.
		self := ctx.Self()
		v, ok := pub.p.flows.Load(self)
		if !ok {
			v, ok = pub.p.flows.Load(self.Id)
		}
		if ok {
			v.(*flow).took(pub.p.h)
		}
	}
	return nil
}

var _ actor.AutoRespond = (*Publication)(nil)

// flowSink is the sender of every publication: protoactor sends it the
// auto-response of each one taken, which it ignores (without it they
// would be dead letters).
type flowSink struct{}

func (flowSink) SendUserMessage(*actor.PID, any)   {}
func (flowSink) SendSystemMessage(*actor.PID, any) {}
func (flowSink) Stop(*actor.PID)                   {}

// slowCmd tells the pop actor that a Disconnect subscriber overflowed.
type slowCmd struct{ f *flow }

// watchSubs returns a channel of p's subscriber events and a function that
// ends it.
func (p *point) watchSubs() (<-chan SubscriberEvent, func()) {
	ch := make(chan SubscriberEvent, SubscriberWatchBuffer)
	p.subWatchMu.Lock()
	p.subWatches = append(p.subWatches, ch)
	p.subWatchMu.Unlock()
	return ch, func() {
		p.subWatchMu.Lock()
		defer p.subWatchMu.Unlock()
		for i, w := range p.subWatches {
			if w == ch {
				p.subWatches = append(p.subWatches[:i], p.subWatches[i+1:]...)
				close(ch)
				return
			}
		}
	}
}

// publishSub offers ev to every watcher; a full channel misses it.
func (p *point) publishSub(ev SubscriberEvent) {
	p.subWatchMu.Lock()
	defer p.subWatchMu.Unlock()
	for _, w := range p.subWatches {
		select {
		case w <- ev:
		default:
		}
	}
}

// closeSubWatches closes the watchers' channels (the hub stops).
func (p *point) closeSubWatches() {
	p.subWatchMu.Lock()
	defer p.subWatchMu.Unlock()
	for _, w := range p.subWatches {
		close(w)
	}
	p.subWatches = nil
}

// WatchSubscribers returns a channel of the flow events of pub-sub
// exchange name's subscribers on this node (Overflowing, CaughtUp,
// Disconnected), and a function that ends the watch and closes the
// channel (the hub's Stop closes it too). A watcher that falls behind
// misses events; Stats(name).Overflowed counts every drop. Events are
// sent from the publishing or the subscribing goroutine, never blocking.
func (h *Hub) WatchSubscribers(name string) (<-chan SubscriberEvent, func(), error) {
	p, err := h.lookup(name, PubSub)
	if err != nil {
		return nil, nil, err
	}
	ch, stop := p.watchSubs()
	return ch, stop, nil
}
