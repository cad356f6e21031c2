package exchange

import (
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	boursepb "github.com/bourse-go/bourse/proto"
)

// Lease rounds: why an authority asks a majority before every grant.
//
// Placement gives an exchange one owner per view, but views differ for a
// while after a partition heals or a node resumes: two nodes may then both
// own the exchange, both with a quorum, and each authority would keep its
// own leader leading. So a lease is granted only after a round of votes in
// which a majority of the cluster's nodes confirmed that the authority's
// term is the newest they know for the exchange (a node confirms at most one
// authority per term, and never a lower term than one it confirmed). Any two
// majorities share a node, so once a newer term has a majority, an older
// authority can no longer complete a round: it renews nothing, and its
// leader stops within one lease. A node also reports the last leader other
// than the round's that it confirmed a lease for, and how long ago: the
// authority grants a different leader nothing until that lease has surely
// run out (unless its holder is known gone). A node keeps its votes in
// memory only, so a restart of a process the cluster knew (wiring.View.Restarted)
// votes for nobody for one lease wait: whatever its predecessor confirmed
// has run out by then. It learns that it restarted from the first
// heartbeat of a peer that knew its predecessor, which the peer sends before
// anything else once it hears the new process; a vote asked for in the
// instant before that heartbeat is read is not covered (docs/guarantees.md).

// voter is a node's side of lease rounds, for every exchange. The ingress
// calls it from remote's readers, so it locks.
type voter struct {
	mu   sync.Mutex
	seen bool          // told it is a restart
	from time.Duration // no vote before (see above)
	wait time.Duration // how long after a vote a lease it confirmed may run
	ex   map[string]*promise
}

// promise is what a node confirmed for one exchange.
type promise struct {
	term  uint64
	auth  string                   // the authority confirmed in term
	votes map[string]time.Duration // leader -> when last confirmed
}

func newVoter(wait time.Duration) *voter {
	return &voter{wait: wait, ex: map[string]*promise{}}
}

// restarted records, the first time it is told, that this process restarts
// one the cluster knew: it votes for nobody for one lease wait from now.
func (v *voter) restarted(now time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.seen {
		v.seen = true
		v.from = max(v.from, now+v.wait)
	}
}

// vote answers a round at now (the hub's monotonic clock).
func (v *voter) vote(now time.Duration, self string, m *boursepb.VoteRequest) *boursepb.Vote {
	out := &boursepb.Vote{Exchange: m.GetExchange(), Address: self, Term: m.GetTerm(), Round: m.GetRound()}
	auth := pidKey(toPID(m.GetAuthority()))
	v.mu.Lock()
	defer v.mu.Unlock()
	if now < v.from {
		return out // abstains (see above)
	}
	p := v.ex[m.GetExchange()]
	if p == nil {
		p = &promise{votes: map[string]time.Duration{}}
		v.ex[m.GetExchange()] = p
	}
	if m.GetTerm() < p.term || m.GetTerm() == p.term && auth != p.auth {
		out.Promised = p.term
		return out
	}
	p.term, p.auth = m.GetTerm(), auth
	var last time.Duration
	for leader, at := range p.votes {
		switch {
		case now-at >= v.wait:
			delete(p.votes, leader)
		case leader != m.GetLeader() && (out.Other == "" || at > last):
			out.Other, last = leader, at
		}
	}
	if out.Other != "" {
		out.OtherAgeNanos = int64(now - last)
	}
	p.votes[m.GetLeader()] = now
	out.Granted, out.Promised = true, p.term
	return out
}

// majority reports whether yes holds a majority of voters (the addresses
// that count for the cluster's quorum), by the cluster layer's rule: half
// exactly is a majority when it holds the lowest address.
func majority(voters []string, yes map[string]bool) bool {
	if len(voters) == 0 {
		return false
	}
	n := 0
	for _, a := range voters {
		if yes[a] {
			n++
		}
	}
	return 2*n > len(voters) || 2*n == len(voters) && yes[slices.Min(voters)]
}

// round is an authority's lease round in flight.
type round struct {
	id        uint64
	leader    string
	started   time.Duration
	yes       map[string]bool
	won       bool          // a majority confirmed it
	notBefore time.Duration // another leader's lease may run until then
	reqs      []*boursepb.LeaseRequest
}

// roundFor is how long a round may take before a new request starts
// another: half a lease (a grant later than that would leave little of the
// lease, which counts from the request).
func (a *authority) roundFor() time.Duration { return a.lease / 2 }

// askLease takes a lease request that the authority would grant: at once
// when it is alone, otherwise after a round (see above).
func (a *authority) askLease(ctx actor.Context, m *boursepb.LeaseRequest) {
	if len(a.voters) <= 1 {
		// Alone: the failure detector's word on the quorum stands in for a
		// round (see Config.QuorumUntil).
		if a.quorumHolds() {
			a.grantLease(ctx, m, a.now())
		}
		return
	}
	a.queued = append(a.queued, m)
	a.startRound(ctx)
}

// startRound sends a round for the queued requests, unless one younger than
// roundFor is in flight; an older one that no majority answered is given
// up, its requests carried over.
func (a *authority) startRound(ctx actor.Context) {
	now := a.now()
	r := a.round
	if r != nil && (r.won || now-r.started < a.roundFor()) {
		return
	}
	reqs := a.queued
	if r != nil {
		reqs = append(r.reqs, reqs...)
	}
	a.queued = nil
	reqs = slices.DeleteFunc(reqs, func(q *boursepb.LeaseRequest) bool { return q.GetTerm() != a.term })
	if len(reqs) == 0 || a.succ.leader == "" {
		a.round = nil
		return
	}
	a.roundSeq++
	a.round = &round{id: a.roundSeq, leader: a.succ.leader, started: now, yes: map[string]bool{}, reqs: reqs}
	req := &boursepb.VoteRequest{Exchange: a.name, Authority: fromPID(ctx.Self()), Term: a.term, Round: a.roundSeq, Leader: a.succ.leader}
	for _, addr := range a.voters {
		if a.live[addr] {
			ctx.Send(actor.NewPID(addr, ingressID), req)
		}
	}
}

// onVote counts a vote; a refusal from a newer term makes this authority
// take a newer one still (see outvoted).
func (a *authority) onVote(ctx actor.Context, v *boursepb.Vote) {
	if !v.GetGranted() {
		if v.GetPromised() >= a.term && v.GetTerm() == a.term {
			a.outvoted(ctx, v.GetPromised())
		}
		return
	}
	r := a.round
	if r == nil || r.won || v.GetRound() != r.id || v.GetTerm() != a.term {
		return
	}
	r.yes[v.GetAddress()] = true
	if o := v.GetOther(); o != "" && o != r.leader && !a.certainlyGone(o) {
		r.notBefore = max(r.notBefore, a.now()-time.Duration(v.GetOtherAgeNanos())+a.succ.wait)
	}
	if !majority(a.voters, r.yes) {
		return
	}
	r.won = true
	if now := a.now(); now < r.notBefore {
		a.roundT.Start(a.root, ctx.Self(), r.notBefore-now+time.Millisecond)
		return
	}
	a.endRound(ctx)
}

// endRound grants the won round's requests that still stand, and starts
// the next round if requests are queued.
func (a *authority) endRound(ctx actor.Context) {
	r := a.round
	a.round = nil
	a.roundT.Stop()
	now := a.now()
	for _, m := range r.reqs {
		if m.GetHandler() == r.leader && now >= r.notBefore {
			a.grantLease(ctx, m, now)
		}
	}
	if len(a.queued) > 0 {
		a.startRound(ctx)
	}
}

// grantLease grants m if it still stands: same term, same leader. A won
// round is the quorum's confirmation, by round trips sent after the request:
// the failure detector's (quorumHolds) is not asked again, as a node that
// joined a moment ago has not measured its peers' round trips yet and would
// let its leader's lease lapse.
func (a *authority) grantLease(ctx actor.Context, m *boursepb.LeaseRequest, now time.Duration) {
	if m.GetTerm() != a.term || !a.succ.grant(m.GetHandler(), now) {
		return // no answer: the point of presence asks again, or its lease runs out
	}
	ctx.Send(toPID(m.GetPop()), &boursepb.LeaseGrant{Exchange: a.name, Handler: m.GetHandler(), Term: m.GetTerm(), Id: m.GetId(),
		Granted: true, LeaseNanos: int64(a.lease)})
}

// outvoted moves this authority to a term above promised, the term of
// another authority that a node confirmed (views differ, or a retired
// authority had a higher term than this one's rebuild saw). The leader
// stays; the points of presence follow the newer term's tables, and the
// next round asks for it. A retiring authority, or one without quorum,
// just stops granting.
func (a *authority) outvoted(ctx actor.Context, promised uint64) {
	a.round = nil
	a.roundT.Stop()
	if a.retiring || !a.succ.quorum || a.rebuilding {
		return
	}
	a.log.Info("bourse: authority outvoted; takes a newer term", "term", a.term, "outvoted_by", promised, "new_term", promised+1)
	a.term = promised + 1
	a.commit(ctx, nil)
}

// certainlyGone reports whether connection id is known to be gone for good:
// disconnected, or on a node known dead. Its lease no longer matters.
func (a *authority) certainlyGone(id string) bool {
	if _, ok := a.gone[id]; ok {
		return true
	}
	return a.dead[addrOfConn(id)]
}

// noteGone records that connection id went away for certain (see
// certainlyGone), forgetting those older than a lease wait.
func (a *authority) noteGone(id string) {
	now := a.now()
	if a.gone == nil {
		a.gone = map[string]time.Duration{}
	}
	for g, at := range a.gone {
		if now-at > a.succ.wait {
			delete(a.gone, g)
		}
	}
	a.gone[id] = now
}
