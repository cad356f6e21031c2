package actors

import (
	"context"

	"github.com/bourse-go/bourse/exchange"
)

// LeaderChange is a change of a req-resp exchange's leader as this node
// knows it: Leader is the handler requests to a consensus exchange go to
// (nil when there is none), Term the fencing token of the authority that
// appointed it (0 with no leader).
type LeaderChange = exchange.LeaderChange

// LeaderWatchBuffer is how many changes a WatchLeader channel holds before
// the oldest unread one is dropped for each new one.
const LeaderWatchBuffer = 16

// WatchLeader returns a channel that receives the leader of req-resp
// exchange name as this node knows it, at once, then every change of it, in
// order: another handler leads, the leader's authority changed (a new Term),
// or there is no leader any more (Leader nil: its handlers went away, its
// node did, or this node lost its quorum). It is for code that follows the
// leader without being a handler, as raft's LeaderCh; a handler learns the
// same from its own messages (Leader, Leadership, OnLeading).
//
// The leader watched is the one this node routes to: it changes when this
// node's routing table does, a few milliseconds after the authority decides,
// and a handler holding the leadership acts only under its lease (see
// OnLeading), so the two may briefly differ.
//
// Watching never slows the exchange: the channel holds LeaderWatchBuffer
// changes, and when the watcher lags further behind, the oldest change it
// has not read is dropped for each new one. Changes are never reordered,
// and the last one received is always the current leader.
//
// The channel is closed when ctx ends or the broker stops; no goroutine is
// left behind. Errors: ErrUnknownExchange, ErrWrongKind (a pub-sub
// exchange), ErrStopped, or ctx's error when it has already ended. It is
// safe for concurrent use.
func (b *Broker) WatchLeader(ctx context.Context, name string) (<-chan LeaderChange, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &leaderWatch{ch: make(chan LeaderChange, LeaderWatchBuffer)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return nil, ErrStopped
	}
	stop, err := b.hub.ObserveLeader(name, w.deliver)
	if err != nil {
		return nil, err
	}
	w.stopObserving = stop
	b.watches[w] = struct{}{}
	// Registered with b.mu held: when ctx has ended meanwhile, endWatch
	// runs after this returns and finds w.
	w.stopAfter = context.AfterFunc(ctx, func() { b.endWatch(w) })
	return w.ch, nil
}

// leaderWatch is one WatchLeader channel.
type leaderWatch struct {
	ch            chan LeaderChange
	stopObserving func()      // ends the hub's calls of deliver
	stopAfter     func() bool // unregisters the end at ctx's end
}

// deliver hands c to the watcher without ever blocking (the hub calls it
// with the exchange's routing table locked, never concurrently): when the
// channel is full, its oldest change gives way.
func (w *leaderWatch) deliver(c LeaderChange) {
	for {
		select {
		case w.ch <- c:
			return
		default:
		}
		select {
		case <-w.ch:
		default:
		}
	}
}

// close ends w (once the caller has taken it out of Broker.watches, so
// exactly once): no delivery follows, and the channel closes.
func (w *leaderWatch) close() {
	w.stopAfter()
	w.stopObserving()
	close(w.ch)
}

// endWatch ends w when its context ends, unless Stop already did.
func (b *Broker) endWatch(w *leaderWatch) {
	b.mu.Lock()
	_, ok := b.watches[w]
	delete(b.watches, w)
	b.mu.Unlock()
	if ok {
		w.close()
	}
}

// endWatches ends every watch (Stop).
func (b *Broker) endWatches() {
	b.mu.Lock()
	ws := b.watches
	b.watches = map[*leaderWatch]struct{}{}
	b.mu.Unlock()
	for w := range ws {
		w.close()
	}
}
