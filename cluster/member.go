package cluster

import (
	"cmp"
	"maps"
	"slices"
	"sync"

	"github.com/bourse-go/bourse/internal/wiring"
)

// Member is one live node of the cluster.
type Member struct {
	// Node is the node's name (Config.Node).
	Node string
	// Address is the node's protoactor remote address, "host:port".
	Address string
	// Data is the address of the node's data link, "" when it has none
	// (Config.DataPort).
	Data string
	// Incarnation tells one run of a node from the next at the same address:
	// it is chosen at Start (from the clock, so it grows across restarts).
	Incarnation uint64
	// Labels are the node's labels (Config.Labels), as its heartbeats carry
	// them: every node sees the same labels for a member. They are fixed
	// for an incarnation (a heartbeat of a known incarnation with other
	// labels does not change them). nil when the node has none. Each copy
	// of a Member that Node returns has a map of its own.
	Labels map[string]string
}

// same reports whether a and b are the same run of the same node.
func (m Member) same(o Member) bool {
	return m.Address == o.Address && m.Incarnation == o.Incarnation && m.Node == o.Node
}

// cloneMembers copies ms and each member's labels, for a caller that may
// keep or change them.
func cloneMembers(ms []Member) []Member {
	out := slices.Clone(ms)
	for i := range out {
		out[i].Labels = maps.Clone(out[i].Labels)
	}
	return out
}

// EventType says what happened to a member.
type EventType int

// The membership events.
const (
	// MemberUp: a peer was heard from for the first time (or again after it
	// was declared dead, or with a new incarnation).
	MemberUp EventType = iota + 1
	// MemberDown: a peer left, went silent, lost its endpoint, or restarted.
	MemberDown
)

func (t EventType) String() string {
	switch t {
	case MemberUp:
		return "MemberUp"
	case MemberDown:
		return "MemberDown"
	}
	return "EventType(?)"
}

// DownReason says why a member went down.
type DownReason string

// The reasons of MemberDown.
const (
	// ReasonLeft: the peer stopped gracefully and said so (Node.Stop).
	ReasonLeft DownReason = "left"
	// ReasonSilent: no heartbeat from the peer for Config.SuspectAfter.
	ReasonSilent DownReason = "silent"
	// ReasonTerminated: remote lost its connection to the peer and the peer's
	// port refuses connections (a killed process).
	ReasonTerminated DownReason = "endpoint-terminated"
	// ReasonRestarted: a heartbeat came from a new incarnation at the same
	// address; a MemberUp for the new incarnation follows.
	ReasonRestarted DownReason = "restarted"
)

// MembershipEvent is one change of the live set.
type MembershipEvent struct {
	Type EventType
	// Member is the member that came up or went down.
	Member Member
	// Reason is set for MemberDown.
	Reason DownReason
	// Members is the live set after the change, self included, sorted by
	// address. It is the observer's own copy.
	Members []Member
}

// SubscriptionBuffer is the capacity of the channel Subscribe returns.
const SubscriptionBuffer = 64

// fanout hands events to subscribers without ever blocking the one that
// publishes: a subscriber whose channel is full misses the event. It
// serves membership events (Node.Subscribe) and deployment events
// (Node.WatchDeploy). The zero value is ready for use.
type fanout[T any] struct {
	mu     sync.Mutex
	subs   map[chan T]struct{}
	closed bool
}

// subscribe returns a channel of capacity size and the function that ends
// the subscription and closes it.
func (o *fanout[T]) subscribe(size int) (<-chan T, func()) {
	ch := make(chan T, size)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		close(ch)
		return ch, func() {}
	}
	if o.subs == nil {
		o.subs = map[chan T]struct{}{}
	}
	o.subs[ch] = struct{}{}
	return ch, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if _, ok := o.subs[ch]; ok {
			delete(o.subs, ch)
			close(ch)
		}
	}
}

// publish offers ev to every subscriber, each its own copy when clone is
// not nil; a full channel misses it.
func (o *fanout[T]) publish(ev T, clone func(T) T) (dropped int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for ch := range o.subs {
		e := ev
		if clone != nil {
			e = clone(ev)
		}
		select {
		case ch <- e:
		default:
			dropped++
		}
	}
	return dropped
}

// close closes every subscriber's channel; later subscribers get a closed
// channel.
func (o *fanout[T]) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for ch := range o.subs {
		close(ch)
	}
	o.subs = nil
}

// cloneEvent gives a subscriber a membership event of its own: it may
// change its maps and slices.
func cloneEvent(ev MembershipEvent) MembershipEvent {
	ev.Member.Labels = maps.Clone(ev.Member.Labels)
	ev.Members = cloneMembers(ev.Members)
	return ev
}

func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.Address, b.Address) })
}

// toWiring turns a view into the hub's members.
func toWiring(ms []Member) []wiring.Member {
	out := make([]wiring.Member, len(ms))
	for i, m := range ms {
		out[i] = wiring.Member{Node: m.Node, Address: m.Address, Data: m.Data, Incarnation: m.Incarnation}
	}
	return out
}
