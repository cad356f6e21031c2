package exchange

import "time"

// succession decides an exchange's leader for its authority. It does no I/O
// and reads no clock: every time is the caller's monotonic reading, so its
// rules are tested as plain sequences of events (succession_test.go).
//
// The rules, which together keep an exchange from ever having two leaders:
//   - A leader is appointed, or kept, only while the authority's node has a
//     quorum: without one, the authority's tables name nobody.
//   - A leader acts only while its lease runs; a lease is granted only to
//     the appointed leader, by an authority with a quorum, and runs at most
//     LeaseDuration from the moment the leader's node asked for it.
//   - When a leader goes away, its successor is appointed at once if its
//     going is certain (it disconnected, its actor or its node is known dead),
//     and otherwise (its node went silent: frozen, cut off, or overloaded)
//     only once its last lease has surely run out: wait after the last grant.
//   - A new authority keeps the leader of the newest table the nodes
//     report (see reports), if it is still connected; if it is not, it
//     waits as above from its own start plus one lease, since its
//     predecessor, retiring, goes on renewing its leader's lease for one
//     lease after the move (so a move never interrupts the leader). The
//     same holds when the kept leader goes silent early in the new
//     authority's life. A node coming back (after a
//     freeze, a partition or a restart) never takes leadership back from a
//     running leader.
type succession struct {
	wait      time.Duration // how long after a grant its lease may still run anywhere
	lease     time.Duration // how long a retiring predecessor may still grant
	leader    string        // the appointed leader's connection id; "" none
	quorum    bool
	lastGrant time.Duration // when the leader was last granted a lease
	notBefore time.Duration // no leader is appointed before this
	inherited time.Duration // until then, a predecessor's lease may still run
}

// leaseWait is how long after a grant a lease of length lease may still run
// on the leader's node: the lease, plus 10% and 5 ms for clocks that run at
// slightly different rates and for the time the grant takes to be decided.
func leaseWait(lease time.Duration) time.Duration { return lease + lease/10 + 5*time.Millisecond }

// start begins a new authority's term. prev is the leader the nodes
// reported from the newest term ("" if none), connected whether it is still
// connected, dead whether its node is known to be gone for good. Without a
// quorum the authority names no leader, not even prev: its tables would
// otherwise tell its side, and the authority its node rebuilds when the
// partition heals, that prev still leads in that term.
func (s *succession) start(now time.Duration, prev string, connected, dead bool) {
	if prev != "" && !dead {
		s.inherited = now + s.lease + s.wait
	}
	switch {
	case prev != "" && connected && s.quorum:
		s.leader = prev
		s.lastGrant = now
	case prev != "" && !dead:
		s.notBefore = max(s.notBefore, s.inherited)
	}
}

// removed records that connection id went away; dead says its going is
// certain (see the type's rules).
func (s *succession) removed(id string, dead bool) {
	if id == "" || id != s.leader {
		return
	}
	s.leader = ""
	if !dead {
		s.notBefore = max(s.notBefore, s.lastGrant+s.wait, s.inherited)
	}
}

// setQuorum records whether the authority's node has a quorum. Losing it
// ends the leadership: no lease is granted any more, so the leader stops
// acting within one lease, and no successor may be appointed before that.
func (s *succession) setQuorum(q bool) {
	if !q && s.leader != "" {
		s.notBefore = max(s.notBefore, s.lastGrant+s.wait, s.inherited)
		s.leader = ""
	}
	s.quorum = q
}

// grant reports whether connection id may have its lease extended, and
// records the grant.
func (s *succession) grant(id string, now time.Duration) bool {
	if !s.quorum || id == "" || id != s.leader {
		return false
	}
	s.lastGrant = now
	return true
}

// appoint makes oldest ("" when nobody is connected) the leader when there
// is none and the rules allow it now. It reports whether the leader
// changed, and, when one must wait, the time at which to call it again.
func (s *succession) appoint(now time.Duration, oldest string) (changed bool, retryAt time.Duration) {
	if s.leader != "" || !s.quorum || oldest == "" {
		return false, 0
	}
	if now < s.notBefore {
		return false, s.notBefore
	}
	s.leader = oldest
	s.lastGrant = now
	return true, 0
}

// reports gathers, while an authority is rebuilt, the newest term and
// leader the nodes' routing tables name: the authority takes a term above
// it and keeps that leader while it is still connected (succession.start).
//
// One term may name several leaders: its authority replaced a leader
// without a new term (the leader's node went silent or its handler left),
// and a node that did not hear of it still reports the old one (it was
// frozen, or cut off and its own authority had no quorum). The table
// with the highest epoch of the term is the newest, since one authority
// numbers its tables in order; tables that name no leader do not count
// for it (an authority without a quorum names none), so "" wins only when
// no node of the newest term names anyone. A node's own report arrives
// first: before, the first report named the leader, and a node back from
// a partition rebuilt with its own stale leader and took leadership back.
type reports struct {
	term   uint64 // the newest term reported
	epoch  uint64 // the epoch of the table that named leader
	leader string // the leader of the newest term, "" if none
}

// add takes one node's report: the term, epoch and leader of its table.
func (r *reports) add(term, epoch uint64, leader string) {
	switch {
	case term < r.term:
	case term > r.term:
		r.term, r.epoch, r.leader = term, epoch, leader
	case leader != "" && (r.leader == "" || epoch > r.epoch):
		r.epoch, r.leader = epoch, leader
	}
}
