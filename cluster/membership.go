package cluster

import (
	"maps"
	"slices"
	"time"

	boursepb "github.com/bourse-go/bourse/proto"
)

// membership is the failure detector's state: which peers exist, which are
// alive, when each was last heard from, which to probe. It does no I/O and
// reads no clock; the node's membership goroutine feeds it events and acts
// on the effects it returns. It is not safe for concurrent use.
type membership struct {
	cluster      string
	self         Member
	suspectAfter time.Duration
	joinProbe    time.Duration // probe period of peers never heard from
	deadProbe    time.Duration // probe period of peers declared dead
	forgetAfter  time.Duration // a dead peer discovery does not list is forgotten after this

	peers map[string]*peer

	// gotDiscovery: discovery delivered its first list (see settled).
	gotDiscovery bool

	lastRun    time.Time     // when the last event was handled
	pauseAfter time.Duration // a gap between events longer than this is a pause of this process
	pauses     int           // pauses seen (for the log)
	pausedAt   time.Time     // when the last pause was noticed

	// restarted: a peer knew another incarnation at this node's address
	// (see Heartbeat.known_incarnation).
	restarted bool

	hbSeq  uint64               // of the last heartbeat sent
	sentAt map[uint64]time.Time // when each recent heartbeat was sent, by seq
}

type peer struct {
	addr        string
	member      Member // last incarnation heard from
	alive       bool
	heard       bool // ever heard from
	lastHeard   time.Time
	discovered  bool   // listed by the latest discovery update
	gossiped    bool   // named alive in a live peer's heartbeat
	leftInc     uint64 // incarnation that said leaving (its late heartbeats are ignored)
	probing     bool   // a reachability probe is in flight
	unreachable bool   // the latest reachability probe failed
	nextProbe   time.Time
	left        bool      // its latest incarnation said it leaves (not counted for the quorum)
	stale       bool      // not heard from since this process last paused: not counted as live for the quorum
	lastSeq     uint64    // the newest heartbeat seq received from it (echoed back as ack)
	ackedAt     time.Time // when this node sent the newest heartbeat the peer echoed
	certain     bool      // not alive, and known dead (left, refused connections, restarted)
	replaced    uint64    // the incarnation member's replaced at its address (0: none)
	downAt      time.Time // when it was last declared down (zero: never)

	// After remote reports the endpoint terminated, the peer's port is
	// checked at every tick until verifyUntil: a refused connection means
	// the process is gone. A single check does not do: while a killed
	// process is torn down, the kernel may close its connections before its
	// listening socket, which still completes handshakes.
	verifyUntil time.Time
	verifying   bool // a check is in flight
}

// change is one transition of the live set.
type change struct {
	up     bool
	member Member
	reason DownReason
}

// probeReq asks the node to check whether addr accepts TCP connections.
// verify: the check follows an endpoint-terminated event for incarnation inc
// (a refused connection then means the peer is dead); otherwise it is a
// reachability probe before a heartbeat is sent to a peer that is not alive.
type probeReq struct {
	addr   string
	verify bool
	inc    uint64
}

// effects is what the node must do after an event, in this order: apply the
// changes (one SetView per change), send a heartbeat to each of send,
// start each probe.
type effects struct {
	changes []change
	send    []string
	probes  []probeReq
	paused  time.Duration // this process did not run for this long (see tick)
}

// forever stands for "no end" where the quorum needs a time: a node alone
// in its cluster has a quorum that no peer's silence can take away. A
// century: beyond any run, and well within a time.Duration (292 years).
const forever = 100 * 365 * 24 * time.Hour

func newMembership(cfg Config, self Member) *membership {
	return &membership{
		cluster:      cfg.Cluster,
		self:         self,
		suspectAfter: cfg.SuspectAfter,
		joinProbe:    cfg.HeartbeatInterval,
		deadProbe:    max(time.Second, cfg.HeartbeatInterval),
		forgetAfter:  10 * max(cfg.SuspectAfter, time.Second),
		pauseAfter:   max(cfg.SuspectAfter/2, 4*cfg.HeartbeatInterval),
		peers:        map[string]*peer{},
		sentAt:       map[uint64]time.Time{},
	}
}

func (m *membership) peer(addr string) *peer {
	p := m.peers[addr]
	if p == nil {
		p = &peer{addr: addr}
		m.peers[addr] = p
	}
	return p
}

// view returns the live set, self included, sorted by address.
func (m *membership) view() []Member {
	ms := []Member{m.self}
	for _, p := range m.peers {
		if p.alive {
			ms = append(ms, p.member)
		}
	}
	sortMembers(ms)
	return ms
}

// alive returns the addresses of the live peers.
func (m *membership) alive() []string {
	var as []string
	for a, p := range m.peers {
		if p.alive {
			as = append(as, a)
		}
	}
	return as
}

func (m *membership) down(p *peer, reason DownReason, now time.Time) change {
	p.alive = false
	p.downAt = now
	p.certain = reason != ReasonSilent
	p.nextProbe = now.Add(m.deadProbe)
	p.verifyUntil = time.Time{}
	return change{member: p.member, reason: reason}
}

// notice is called first with every event: an event much later than the
// previous one (the membership goroutine gets one every HeartbeatInterval at
// least) means this process did not run meanwhile (SIGSTOP, a VM or GC
// pause, starvation): its peers' silence is its own. They are given the
// time of the pause back, so that they are not declared down (which would
// drop them from the data path); but none counts for the quorum until it is
// heard from again, and none for the leases' quorum (quorumUntil) until it
// echoes a heartbeat sent after the pause, so that what this node decided
// before the pause (its authorities, its leaders) is not trusted until it
// knows where the cluster stands. It is noticed before the event is
// handled: the first events after a freeze are often heartbeats that waited
// in the socket, sent before the peers gave this node up.
func (m *membership) notice(now time.Time) effects {
	var e effects
	if !m.lastRun.IsZero() {
		if gap := now.Sub(m.lastRun); gap > m.pauseAfter {
			m.pauses++
			m.pausedAt = now
			e.paused = gap
			for _, p := range m.peers {
				if p.alive {
					if p.lastHeard.Before(m.lastRun) { // not heard since it resumed
						if p.lastHeard = p.lastHeard.Add(gap); p.lastHeard.After(now) {
							p.lastHeard = now
						}
					}
					p.stale = true
				}
			}
		}
	}
	if now.After(m.lastRun) {
		m.lastRun = now
	}
	return e
}

// heartbeat handles a heartbeat. The caller has checked the cluster name and
// that it is not from self.
func (m *membership) heartbeat(hb *boursepb.Heartbeat, now time.Time) effects {
	e := m.notice(now)
	addr, inc := hb.GetAddress(), hb.GetIncarnation()
	if addr == "" {
		return e
	}
	p := m.peer(addr)
	if hb.GetLeaving() {
		if p.alive && inc >= p.member.Incarnation {
			e.changes = append(e.changes, m.down(p, ReasonLeft, now))
		}
		p.leftInc = max(p.leftInc, inc)
		p.lastHeard = now
		p.left, p.certain = true, true
		return e
	}
	if inc <= p.leftInc {
		return e // a late heartbeat of an incarnation that left
	}
	if k, r := hb.GetKnownIncarnation(), hb.GetReplacedIncarnation(); k != 0 && k != m.self.Incarnation || r != 0 && r != m.self.Incarnation {
		m.restarted = true
	}
	e.probes = append(e.probes, m.gossip(hb.GetPeers(), now)...)
	if p.member.Incarnation != 0 && inc > p.member.Incarnation {
		p.replaced = p.member.Incarnation
	}
	nm := Member{Node: hb.GetNode(), Address: addr, Data: hb.GetDataAddress(), Incarnation: inc}
	switch {
	case inc > p.member.Incarnation:
		p.lastSeq = hb.GetSeq() // a new run numbers its heartbeats afresh
	case inc == p.member.Incarnation:
		p.lastSeq = max(p.lastSeq, hb.GetSeq())
	}
	if t, ok := m.sentAt[hb.GetAck()]; ok && t.After(p.ackedAt) && inc >= p.member.Incarnation {
		p.ackedAt = t
	}
	if p.ackedAt.After(m.pausedAt) {
		// It answered a heartbeat sent since this process last paused:
		// it counts for the quorum again (see notice).
		p.stale = false
	}
	if p.alive {
		switch {
		case inc == p.member.Incarnation:
			p.lastHeard = now
			return e
		case inc < p.member.Incarnation:
			return e // from an older run of the process: stale
		}
		e.changes = append(e.changes, m.down(p, ReasonRestarted, now))
	} else if p.heard && inc == p.member.Incarnation && !p.downAt.IsZero() {
		// The incarnation this node declared down comes back only on a
		// heartbeat that echoes one sent since: a heartbeat it sent
		// before, held back by TCP's retransmission back-off through a
		// partition, reached peers 490 ms after its sender was killed
		// (its kernel still sends what a dead process's sockets held),
		// and counted a dead node up again for SuspectAfter (a chaos run,
		// seed 20261202). Answer at once, so that a live one echoes a
		// fresh heartbeat within a round trip; a dead one cannot.
		if t, ok := m.sentAt[hb.GetAck()]; !ok || !t.After(p.downAt) {
			e.send = append(e.send, addr)
			return e
		}
	}
	if len(hb.GetLabels()) > 0 {
		nm.Labels = maps.Clone(hb.GetLabels())
	}
	p.member, p.alive, p.heard, p.lastHeard = nm, true, true, now
	p.left, p.certain = false, false
	p.verifyUntil = time.Time{}
	e.changes = append(e.changes, change{up: true, member: nm})
	e.send = append(e.send, addr) // answer at once: the peer learns of us a tick sooner
	return e
}

// gossip records the peers a live peer's heartbeat names and probes those
// never heard from: how a node that knows one member comes to know all.
func (m *membership) gossip(addrs []string, now time.Time) []probeReq {
	var probes []probeReq
	for _, a := range addrs {
		if a == "" || a == m.self.Address {
			continue
		}
		p := m.peers[a]
		if p == nil {
			p = m.peer(a)
			p.lastHeard = now
		}
		p.gossiped = true
		if !p.alive && !p.heard && !p.probing {
			p.probing = true
			probes = append(probes, probeReq{addr: a})
		}
	}
	return probes
}

// tick declares silent peers dead, lists the heartbeat targets (every live
// peer) and starts the probes that are due.
func (m *membership) tick(now time.Time) effects {
	e := m.notice(now)
	for addr, p := range m.peers {
		switch {
		case p.alive && now.Sub(p.lastHeard) > m.suspectAfter:
			e.changes = append(e.changes, m.down(p, ReasonSilent, now))
		case p.alive:
			e.send = append(e.send, addr)
			if !p.verifying && now.Before(p.verifyUntil) {
				p.verifying = true
				e.probes = append(e.probes, probeReq{addr: addr, verify: true, inc: p.member.Incarnation})
			}
		case p.discovered || (p.gossiped && !p.heard):
			if !p.probing && !now.Before(p.nextProbe) {
				p.probing = true
				e.probes = append(e.probes, probeReq{addr: addr})
			}
		case !p.probing && !p.verifying && now.Sub(p.lastHeard) > m.forgetAfter:
			delete(m.peers, addr)
		}
	}
	return e
}

// discovered records discovery's latest list of peers and probes the new
// ones at once.
func (m *membership) discovered(peers []Peer, now time.Time) effects {
	listed := make(map[string]bool, len(peers))
	for _, pr := range peers {
		if pr.Address != "" && pr.Address != m.self.Address {
			listed[pr.Address] = true
		}
	}
	m.gotDiscovery = true
	e := m.notice(now)
	for addr, p := range m.peers {
		p.discovered = listed[addr]
	}
	for addr := range listed {
		p := m.peers[addr]
		if p == nil {
			p = m.peer(addr)
			p.lastHeard = now
		}
		p.discovered = true
		if !p.alive && !p.probing && !p.heard {
			p.probing = true
			e.probes = append(e.probes, probeReq{addr: addr})
		}
	}
	return e
}

// endpointTerminated handles remote's EndpointTerminatedEvent: a live peer's
// port is checked at once and then at every tick for SuspectAfter; the first
// refused connection declares it dead. The event alone does not prove the
// peer dead: remote also publishes it late, after a connection attempt begun
// before the peer restarted failed, and on a network error.
func (m *membership) endpointTerminated(addr string, now time.Time) effects {
	e := m.notice(now)
	p := m.peers[addr]
	if p == nil || !p.alive {
		return e
	}
	p.verifyUntil = now.Add(m.suspectAfter)
	if !p.verifying {
		p.verifying = true
		e.probes = append(e.probes, probeReq{addr: addr, verify: true, inc: p.member.Incarnation})
	}
	return e
}

// probed handles the result of a probe: reachable says whether addr
// accepted a TCP connection.
func (m *membership) probed(r probeReq, reachable bool, now time.Time) effects {
	e := m.notice(now)
	p := m.peers[r.addr]
	if p == nil {
		return e
	}
	if r.verify {
		p.verifying = false
		if !reachable && p.alive && p.member.Incarnation == r.inc {
			e.changes = append(e.changes, m.down(p, ReasonTerminated, now))
		}
		return e
	}
	p.probing = false
	p.unreachable = !reachable
	if p.heard {
		p.nextProbe = now.Add(m.deadProbe)
	} else {
		p.nextProbe = now.Add(m.joinProbe)
	}
	if reachable && !p.alive {
		e.send = append(e.send, r.addr)
	}
	return e
}

// settled reports whether the node has joined the cluster discovery
// describes: discovery delivered its list and every peer listed, or named by
// a live peer, was heard from or found unreachable. Until then the node may not know nodes that
// are alive, and what it decides alone (where an exchange's authority lives)
// would be decided again, differently, a moment later.
func (m *membership) settled() bool {
	if !m.gotDiscovery {
		return false
	}
	for _, p := range m.peers {
		if (p.discovered || p.gossiped) && !p.heard && !p.unreachable {
			return false
		}
	}
	return true
}

// quorum reports whether a view of live members (self included) holds a
// majority of the cluster as this node knows it (see counted: a peer that
// discovery stops listing and that stays dead is forgotten after
// forgetAfter, and then no longer counted). Half exactly is a majority when the view holds the lowest
// address of the cluster, so that one side of an even split keeps going, as
// Akka's keep-majority split-brain resolver does.
//
// A node that sees only a minority appoints no leader, and its leaders stop
// at the end of their lease: two sides of a partition never both lead.
func (m *membership) quorum(view []Member) bool {
	known := m.counted()
	live := map[string]bool{}
	for _, v := range view {
		if p := m.peers[v.Address]; p == nil || !p.stale {
			live[v.Address] = true
		}
	}
	n := 0
	lowest := known[0]
	for _, a := range known {
		if live[a] {
			n++
		}
		lowest = min(lowest, a)
	}
	return 2*n > len(known) || (2*n == len(known) && live[lowest])
}

// counted returns the addresses that count for the quorum: this node's and
// every peer's that did not leave gracefully and that it heard from, that
// discovery lists, or that a live peer named. A peer never heard from
// counts too: a node that starts (or restarts) while its peers do not
// answer yet must not believe it is a majority of one. A peer that is not
// alive while a live member (or this node) has its node's name at another
// address does not: that node restarted on a new address and counts once,
// there; else every restart on a new port would grow the cluster for good
// and, after a few, leave no majority anywhere.
func (m *membership) counted() []string {
	// For each node name, the address that stands for it: a live one, else
	// the one of its newest incarnation.
	stands := map[string]*peer{m.self.Node: nil} // nil: this node
	for _, p := range m.peers {
		if !p.heard || p.member.Node == "" || p.left {
			continue
		}
		cur, ok := stands[p.member.Node]
		switch {
		case !ok:
			stands[p.member.Node] = p
		case cur == nil || cur.alive && !p.alive:
		case p.alive && !cur.alive, p.alive == cur.alive && p.member.Incarnation > cur.member.Incarnation:
			stands[p.member.Node] = p
		}
	}
	known := []string{m.self.Address}
	for a, p := range m.peers {
		switch {
		case p.left || !(p.heard || p.discovered || p.gossiped):
		case p.heard && p.member.Node != "" && stands[p.member.Node] != p:
		default:
			known = append(known, a)
		}
	}
	return known
}

// dead returns the addresses of the peers that are not alive and are known
// dead (see wiring.View.Dead).
func (m *membership) dead() map[string]bool {
	d := map[string]bool{}
	for a, p := range m.peers {
		if !p.alive && p.certain {
			d[a] = true
		}
	}
	return d
}

// incarnationsOf returns what a heartbeat to addr tells it of its own
// incarnations: the one held for it and the one that replaced (see
// Heartbeat.known_incarnation).
func (m *membership) incarnationsOf(addr string) (known, replaced uint64) {
	if p := m.peers[addr]; p != nil {
		return p.member.Incarnation, p.replaced
	}
	return 0, 0
}

// nextHeartbeat numbers a heartbeat sent now and returns its seq.
func (m *membership) nextHeartbeat(now time.Time) uint64 {
	m.hbSeq++
	m.sentAt[m.hbSeq] = now
	for seq, t := range m.sentAt {
		if now.Sub(t) > 2*m.suspectAfter {
			delete(m.sentAt, seq)
		}
	}
	return m.hbSeq
}

// ackFor returns what a heartbeat to addr echoes: the newest seq heard
// from it.
func (m *membership) ackFor(addr string) uint64 {
	if p := m.peers[addr]; p != nil {
		return p.lastSeq
	}
	return 0
}

// quorumUntil returns until when this node's quorum holds if nothing is
// heard meanwhile, for the leases it grants: the time at which, peers being
// given up one by one SuspectAfter after the heartbeat of this node they
// last echoed was sent, fewer than a majority would be left. The zero time
// when it has no such quorum now. It counts round trips from this node's
// own sending, not the time heartbeats were read: a node whose membership
// goroutine lags (starved of CPU) reads old heartbeats late, and a node
// that resumes after a freeze finds in its sockets heartbeats sent before
// its peers gave it up; once this process has paused (see notice), only
// heartbeats sent after the pause count. So a node never grants a lease on a
// quorum older than it believes, whatever order its goroutines run in.
func (m *membership) quorumUntil(now time.Time) time.Time {
	type fresh struct {
		p  *peer
		at time.Time
	}
	var ps []fresh
	for _, p := range m.peers {
		if p.alive && !p.stale && p.ackedAt.After(m.pausedAt) {
			ps = append(ps, fresh{p, p.ackedAt})
		}
	}
	slices.SortFunc(ps, func(a, b fresh) int { return b.at.Compare(a.at) })
	view := []Member{m.self}
	if m.quorum(view) {
		return now.Add(forever) // alone: no peer to lose
	}
	for _, f := range ps {
		view = append(view, f.p.member)
		if m.quorum(view) {
			return f.at.Add(m.suspectAfter)
		}
	}
	return time.Time{}
}
