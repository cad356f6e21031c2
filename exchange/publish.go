package exchange

import (
	"context"
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/codec"
	"github.com/bourse-go/bourse/internal/lifecycle"
	"github.com/bourse-go/bourse/internal/topic"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// Subscription is one subscription of an actor to a pub-sub exchange.
type Subscription struct {
	hub     *Hub
	p       *point
	id      uint64
	pattern string
	ended   lifecycle.Once

	mu    sync.Mutex
	onEnd func() // SetOnEnd's; run once the subscription has ended
	done  chan struct{}
	err   error // why the exchange ended it; nil after Unsubscribe
}

// SetOnEnd has fn run once the subscription has ended, by Unsubscribe or
// by the exchange (Disconnect); not when the subscriber actor stops by
// itself, nor when the hub stops. It is for the code that made the
// subscriber's actor, to stop it with its subscription
// (actors.SubscribeFunc does). When the subscription has ended already,
// fn runs at once. fn must not block.
func (s *Subscription) SetOnEnd(fn func()) {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		fn()
		return
	default:
	}
	s.onEnd = fn
	s.mu.Unlock()
}

// Done returns a channel closed when the subscription has ended: by
// Unsubscribe, or by the exchange when its subscriber overflowed with the
// Disconnect policy (Err then says why).
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the exchange ended the subscription: an error wrapping
// ErrSlowConsumer (the Disconnect policy), or nil while it runs and after
// Unsubscribe.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// end ends s with err (nil: Unsubscribe) once, and runs SetOnEnd's fn.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return
	default:
	}
	s.err = err
	close(s.done)
	fn := s.onEnd
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// Pattern returns the subscription's routing-key pattern.
func (s *Subscription) Pattern() string { return s.pattern }

// Unsubscribe ends the subscription. It returns when no later publication
// reaches the subscriber through it. When ctx ends first, the subscription
// still ends and Unsubscribe returns an error wrapping ctx.Err().
// Unsubscribe is idempotent, as Stop is: later calls return the first
// call's result (a call made while the first one runs waits for it, or for
// its own ctx). It is safe for concurrent use.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	return s.ended.Do(ctx, func() error {
		if s.hub.stopped.Load() {
			return nil
		}
		select {
		case <-s.done:
			return nil // the exchange ended it (Disconnect)
		default:
		}
		cmd := &unsubscribeCmd{id: s.id, res: make(chan result, 1)}
		s.hub.root.Send(s.p.popPID, cmd)
		_, err := s.hub.wait(ctx, s.p.spec.Name, cmd.res)
		if err != nil && s.Err() != nil {
			err = nil // the exchange ended it meanwhile
		}
		s.end(nil)
		return err
	})
}

// Subscribe subscribes the actor pid to the pub-sub exchange name for routing
// keys matching pattern: dotted words, where "*" stands for one word and "#"
// for zero or more. pid receives a *Publication for each match, once per
// publication even when several of its subscriptions match. When pid stops,
// its subscriptions are removed. Subscribe returns when publications reach pid.
//
// pid's pending publications (handed to it, not yet taken: its Receive has
// not returned from them) are bounded: opts (WithPending, WithOverflow)
// over Config.Subscribers say how many, and what becomes of the
// publications beyond (flow.go: DropNewest, DropOldest, Disconnect).
func (h *Hub) Subscribe(ctx context.Context, name, pattern string, pid *actor.PID, opts ...SubscribeOption) (*Subscription, error) {
	if pid == nil {
		return nil, &RequestError{Exchange: name, Err: fmt.Errorf("%w: nil subscriber PID", ErrInvalid)}
	}
	if err := topic.ValidatePattern(pattern); err != nil {
		return nil, &RequestError{Exchange: name, Err: fmt.Errorf("%w: %w", ErrInvalid, err)}
	}
	p, err := h.lookup(name, PubSub)
	if err != nil {
		return nil, err
	}
	var cfg SubscriberConfig
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate("exchange.SubscribeOption"); err != nil {
		return nil, &RequestError{Exchange: name, Err: err}
	}
	sub := &Subscription{hub: h, p: p, id: h.subSeq.Add(1), pattern: pattern, done: make(chan struct{})}
	cmd := &subscribeCmd{id: sub.id, pattern: pattern, pid: pid, cfg: cfg, sub: sub, res: make(chan result, 1)}
	h.root.Send(p.popPID, cmd)
	if _, err := h.wait(ctx, name, cmd.res); err != nil {
		return nil, err
	}
	return sub, nil
}

var matchPool = sync.Pool{New: func() any { s := make([]*flow, 0, 64); return &s }}

// Publish publishes payload on the pub-sub exchange name under routing key
// key. Every subscriber whose pattern matches receives one *Publication:
// local subscribers straight from this goroutine, those of another node
// through one network message to that node, which copies it to its own.
// Publications of one goroutine (or actor) reach each subscriber in the order
// they were published. Publish does not wait for delivery; it returns how
// many local subscribers it was copied to (a subscriber with its limit
// pending may drop it: see Subscribe).
func (h *Hub) Publish(ctx context.Context, name, key string, payload proto.Message) (n int, err error) {
	var p *point
	if h.rec != nil {
		start := monoNow()
		defer func() { h.recordSent(p, name, OpPublish, start, err) }()
	}
	if err := topic.ValidateKey(key); err != nil {
		return 0, &RequestError{Exchange: name, Err: fmt.Errorf("%w: %w", ErrInvalid, err)}
	}
	p, err = h.lookup(name, PubSub)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, reqErr(name, err)
	}
	var out *codec.OutPublication
	matched := false
	for _, rs := range p.table.Load().remote {
		if !rs.trie.HasMatch(key) {
			continue
		}
		matched = true
		if out == nil {
			out = h.codec.Publication(codec.OutPublication{Exchange: name, Key: key, Payload: payload})
			if err := out.Encode(); err != nil {
				return 0, &RequestError{Exchange: name, Err: err}
			}
		}
		if err := h.sendWire(rs.addr, codec.KindPublication, out); err != nil {
			// The node is down or stopping: the membership drops it from
			// the table; a publication is not retried (at most once).
			p.remoteDropped.Add(1)
			continue
		}
		p.remoteSent.Add(1)
	}
	p.published.Add(1)
	matches, n := h.fanOut(p, key, payload)
	if matches == 0 && !matched {
		p.unrouted.Add(1)
	}
	return n, nil
}

// fanOut copies a publication to the local subscribers whose patterns
// match, each within its bound (flow.go). It returns how many matched and
// how many it was handed (or queued) to.
func (h *Hub) fanOut(p *point, key string, payload proto.Message) (matches, n int) {
	buf := matchPool.Get().(*[]*flow)
	p.subMu.RLock()
	targets := p.subs.Match(key, (*buf)[:0])
	p.subMu.RUnlock()
	if len(targets) > 0 {
		// One value for every subscriber, its envelope in it: the
		// publication's sender is the flow sink (flow.go), at no
		// allocation more.
		pub := &Publication{Exchange: p.spec.Name, Key: key, Payload: payload, p: p}
		pub.env = actor.MessageEnvelope{Message: pub, Sender: h.flowPID}
		for _, s := range targets {
			if s.offer(h, pub) {
				n++
			}
		}
	}
	matches = len(targets)
	clear(targets)
	*buf = targets[:0]
	matchPool.Put(buf)
	p.delivered.Add(uint64(n))
	return matches, n
}

// Stats are an exchange's counters on this node.
type Stats struct {
	// Published counts publications accepted from this node's publishers.
	Published uint64
	// Delivered counts copies handed to this node's subscribers.
	Delivered uint64
	// RemoteSent counts network messages sent to other nodes' subscribers:
	// at most one per matching node per publication.
	RemoteSent uint64
	// RemoteDropped counts publications to other nodes that could not be
	// sent (the node was down, or its data link failed).
	RemoteDropped uint64
	// Received counts publications that came from other nodes.
	Received uint64
	// Expired counts requests to this node's handlers that were dropped,
	// not processed, because the caller's deadline had passed when the
	// handler reached them (Request.DropExpired; an actors.Service drops
	// them before calling its handler). They are counted on the handler's
	// node, not the caller's; the caller saw ErrTimeout.
	Expired uint64
	// Overflowed counts publications dropped, not handed to a subscriber of
	// this node, because it had its limit of pending publications (by its
	// policy: DropNewest, DropOldest, or Disconnect).
	Overflowed uint64
	// SlowDisconnects counts the subscribers of this node whose
	// subscriptions ended with ErrSlowConsumer (Disconnect).
	SlowDisconnects uint64
	// Unrouted counts this node's publications that no subscriber matched,
	// on this node or any other (dropped: nobody subscribes to their key).
	Unrouted uint64
	// LeaderChanges counts the changes of the leader this node routes to
	// (req-resp exchanges): of its connection, to or from none, or of its
	// term, as ObserveLeader reports them.
	LeaderChanges uint64
	// Epoch is the routing table's epoch.
	Epoch uint64
	// Health counts probation's ejections, probes and readmissions of this
	// exchange's handlers on this node (req-resp exchanges).
	Health HealthStats
	// AdvertsSent counts the capacity adverts of this node's handlers sent
	// to other nodes (one per node reached), and AdvertsHeard those
	// received from other nodes: exchanges whose strategy routes by load
	// (local-first) only, beside the adverts that replies carry.
	AdvertsSent, AdvertsHeard uint64
}

// Stats returns the counters of exchange name on this node.
func (h *Hub) Stats(name string) (Stats, error) {
	p := (*h.points.Load())[name]
	if p == nil {
		return Stats{}, &RequestError{Exchange: name, Err: ErrUnknownExchange}
	}
	return Stats{Published: p.published.Load(), Delivered: p.delivered.Load(), RemoteSent: p.remoteSent.Load(),
		RemoteDropped: p.remoteDropped.Load(), Received: p.received.Load(), Expired: p.expired.Load(), Unrouted: p.unrouted.Load(),
		LeaderChanges: p.leaderChanges.Load(), Epoch: p.table.Load().epoch,
		Overflowed: p.overflowDrops.Load(), SlowDisconnects: p.slowDisconnects.Load(),
		Health: p.prob.stats(), AdvertsSent: p.advertsSent.Load(), AdvertsHeard: p.advertsHeard.Load()}, nil
}

// Subscriptions returns the subscriptions of pub-sub exchange name aggregated
// per node (each distinct pattern once per node, however many local
// subscribers share it), as this node last received them from the authority.
func (h *Hub) Subscriptions(name string) ([]*boursepb.NodePatterns, error) {
	p, err := h.lookup(name, PubSub)
	if err != nil {
		return nil, err
	}
	return p.table.Load().subscriptions, nil
}
