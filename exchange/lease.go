package exchange

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	boursepb "github.com/bourse-go/bourse/proto"
)

// Leadership tells a handler's actor that it starts or stops leading its
// exchange. A handler leads while the authority names its connection the
// leader AND its node holds a valid lease for it: the node's point of
// presence asks the authority to extend the lease every quarter of
// Config.LeaseDuration and counts each extension from the moment it asked,
// by its own clock. So a leader that is frozen, cut off from the authority
// or on the minority side of a partition stops leading within one lease, by
// itself, before the authority appoints anyone else; a grant that reaches a
// node after a freeze extends nothing.
//
// Handlers connected with Connect receive it as a message; package actors'
// services turn it into OnLeader calls and IsLeader.
type Leadership struct {
	// Exchange is the exchange led.
	Exchange string
	// Handler is the connection id of the handler that leads (or led).
	Handler string
	// Term is the authority's term that appointed it: a fencing token that
	// increases with every new authority.
	Term uint64
	// Leading is true when the leadership starts, false when it ends.
	Leading bool
	// Context, when Leading, ends when the leadership or its lease ends (or
	// the hub stops). nil when not Leading.
	Context context.Context

	lease *leaseState
	hub   *Hub
}

// Valid reports whether the leadership a Leading message started still
// holds at this instant: its lease has not run out. A message that waited in
// a mailbox while its node was frozen is no longer valid when it is read,
// and its end follows.
func (l *Leadership) Valid() bool {
	return l.Leading && l.lease != nil && l.lease.valid(l.hub.now()) && l.Context.Err() == nil
}

// leaseState is one connection's lease: the pop actor writes it, the
// Connection reads it (IsLeader) from any goroutine.
type leaseState struct {
	until atomic.Int64  // Hub.now() in nanoseconds until which it leads; 0: not leading
	term  atomic.Uint64 // the term of the authority that granted it
}

func (l *leaseState) valid(now time.Duration) bool { return int64(now) < l.until.Load() }

// renewsPerLease is how many times per lease a point of presence asks to
// extend the leases it holds: four, which leaves room for a request or its
// grant to be lost or late once or twice before the lease runs out, at a
// cost of four small messages per lease.
const renewsPerLease = 4

// leases are a point of presence's leases for its node's leading connections.
type leases struct {
	held   map[string]*heldLease // by connection id: the local connections the table names leader
	sent   map[uint64]sentLease  // lease requests in flight, by id
	nextID uint64
	renew  selfTimer // every LeaseDuration/renewsPerLease while any is held
	expire selfTimer // at the earliest end of a lease
}

type heldLease struct {
	conn    string
	state   *leaseState
	pid     *actor.PID // the handler
	term    uint64
	leading bool
	cancel  context.CancelFunc
}

type sentLease struct {
	at   time.Duration
	conn string
}

// IsLeader reports whether the connection leads its exchange now: the
// authority named it leader, and its node's lease has not run out.
func (c *Connection) IsLeader() bool { return c.lease != nil && c.lease.valid(c.hub.now()) }

// LeaderTerm returns the term of the authority that granted the
// connection's current or last lease (a fencing token).
func (c *Connection) LeaderTerm() uint64 {
	if c.lease == nil {
		return 0
	}
	return c.lease.term.Load()
}

// leadersChanged starts a lease for the local connection the table names
// leader and ends those of connections it no longer names.
func (a *popActor) leadersChanged(ctx actor.Context) {
	ls := &a.leases
	quorum := a.p.h.quorum.Load()
	for id, hl := range ls.held {
		if id != a.leader || !quorum || a.conns[id] == nil {
			a.endLease(ctx, hl)
			delete(ls.held, id)
		}
	}
	c := a.conns[a.leader]
	if a.leader == "" || !quorum || c == nil || c.lease == nil {
		return
	}
	hl := ls.held[a.leader]
	if hl == nil {
		if ls.held == nil {
			ls.held = map[string]*heldLease{}
		}
		hl = &heldLease{conn: a.leader, state: c.lease, pid: toPID(c.info.GetPid())}
		ls.held[a.leader] = hl
	} else if hl.term == a.term {
		return
	}
	// New, or the same leader under a new authority: ask now.
	hl.term = a.term
	a.requestLease(ctx, hl)
	if !ls.renew.armed {
		ls.renew.Start(a.p.h.root, ctx.Self(), a.p.h.cfg.leaseDuration()/renewsPerLease)
	}
}

// leaseAsk records a lease request for hl sent now and returns its id.
func (a *popActor) leaseAsk(hl *heldLease) uint64 {
	ls := &a.leases
	ls.nextID++
	if ls.sent == nil {
		ls.sent = map[uint64]sentLease{}
	}
	now := a.p.h.now()
	ls.sent[ls.nextID] = sentLease{at: now, conn: hl.conn}
	// Requests never answered (the authority's node died) are forgotten.
	for id, s := range ls.sent {
		if now-s.at > 2*a.p.h.cfg.leaseDuration() {
			delete(ls.sent, id)
		}
	}
	return ls.nextID
}

func (a *popActor) requestLease(ctx actor.Context, hl *heldLease) {
	if a.authPID == nil || !a.p.h.isLive(a.authPID.Address) {
		return // nothing goes to a node that is not a member: remote would dial it again and again
	}
	id := a.leaseAsk(hl)
	// Sent without a sender (the grant goes to Pop): a request that reaches
	// a stopped authority must not make protoactor answer a dead letter
	// over remote, which races with remote's shutdown (see cluster.Node.Stop).
	ctx.Send(a.authPID, &boursepb.LeaseRequest{Exchange: a.p.spec.Name, Handler: hl.conn, Term: hl.term, Id: id, Pop: fromPID(ctx.Self())})
}

func (a *popActor) leaseGrant(ctx actor.Context, m *boursepb.LeaseGrant) {
	ls := &a.leases
	s, ok := ls.sent[m.GetId()]
	if !ok {
		return
	}
	delete(ls.sent, m.GetId())
	hl := ls.held[m.GetHandler()]
	if hl == nil || m.GetTerm() != a.term || hl.term != a.term {
		return // from an authority or a leadership that is over
	}
	if !m.GetGranted() {
		a.p.h.log.Info("bourse: lease refused; leadership ends", slog.String("exchange", a.p.spec.Name), slog.String("handler", hl.conn), slog.Uint64("term", hl.term))
		a.endLease(ctx, hl)
		return
	}
	now := a.p.h.now()
	until := s.at + time.Duration(m.GetLeaseNanos())
	canStart, again := grantUse(now, until, a.p.h.cfg.leaseDuration())
	if again {
		a.requestLease(ctx, hl)
	}
	if until <= now || !hl.leading && !canStart {
		return // too late, or too little to start on: it extends nothing
	}
	if int64(until) > hl.state.until.Load() {
		hl.state.term.Store(hl.term)
		hl.state.until.Store(int64(until))
	}
	if !hl.leading {
		a.p.h.log.Info("bourse: leadership starts", slog.String("exchange", a.p.spec.Name), slog.String("handler", hl.conn),
			slog.Uint64("term", hl.term), slog.String("authority", a.authPID.String()), slog.Duration("lease_left", until-now))
		hl.leading = true
		var lctx context.Context
		lctx, hl.cancel = context.WithCancel(context.Background())
		ctx.Send(hl.pid, &Leadership{Exchange: a.p.spec.Name, Handler: hl.conn, Term: hl.term, Leading: true, Context: lctx,
			lease: hl.state, hub: a.p.h})
	}
	a.armExpiry(ctx)
}

// grantUse decides what a point of presence does with a grant whose lease
// runs until until (now and until on the hub's clock, lease the configured
// LeaseDuration): whether its handler may start leading on it, and whether
// to ask again at once rather than at the next renewal.
//
// A lease counts from the request, and a round may have waited out another
// leader's lease before granting it (vote.go), so a grant can arrive with
// little of its lease left. Started on it, the handler led for a few
// milliseconds, stopped, and led again at the next renewal a quarter lease
// later: two starts for one leadership, and a gap without a leader (the
// chaos suite saw 14 starts of 340 with less than a quarter lease left, 4
// with less than 20 ms). So a grant that leaves less than the renewal
// period asks again at once, and one that leaves less than a tenth of the
// lease starts nothing: the grant of that new request will. A grant that
// came too late asks again too.
func grantUse(now, until, lease time.Duration) (canStart, again bool) {
	left := until - now
	return left >= lease/10, left < lease/renewsPerLease
}

// armExpiry sets the expiry timer to the earliest end of a running lease.
func (a *popActor) armExpiry(ctx actor.Context) {
	ls := &a.leases
	var first time.Duration
	for _, hl := range ls.held {
		if u := time.Duration(hl.state.until.Load()); hl.leading && (first == 0 || u < first) {
			first = u
		}
	}
	if first == 0 {
		ls.expire.Stop()
		return
	}
	ls.expire.Start(a.p.h.root, ctx.Self(), max(first-a.p.h.now(), 0)+time.Millisecond)
}

// leaseTick handles the lease timers' ticks.
func (a *popActor) leaseTick(ctx actor.Context, m *timerTick) {
	ls := &a.leases
	if ls.renew.Fired(m) && len(ls.held) > 0 {
		for _, hl := range ls.held {
			a.requestLease(ctx, hl)
		}
		ls.renew.Start(a.p.h.root, ctx.Self(), a.p.h.cfg.leaseDuration()/renewsPerLease)
	}
	if ls.expire.Fired(m) {
		now := a.p.h.now()
		for _, hl := range ls.held {
			if hl.leading && !hl.state.valid(now) {
				a.p.h.log.Info("bourse: lease ran out; leadership ends", slog.String("exchange", a.p.spec.Name), slog.String("handler", hl.conn),
					slog.Uint64("term", hl.term), slog.Bool("authority_live", a.authPID != nil && a.p.h.isLive(a.authPID.Address)))
				a.endLease(ctx, hl) // still named: a later grant may start it again
			}
		}
		a.armExpiry(ctx)
	}
}

// endLease ends a leadership at once, and tells its handler.
func (a *popActor) endLease(ctx actor.Context, hl *heldLease) {
	hl.state.until.Store(0)
	if !hl.leading {
		return
	}
	hl.leading = false
	hl.cancel()
	ctx.Send(hl.pid, &Leadership{Exchange: a.p.spec.Name, Handler: hl.conn, Term: hl.term})
}

// endLeases ends every leadership of this node's connections.
func (a *popActor) endLeases(ctx actor.Context, _ string) {
	for id, hl := range a.leases.held {
		a.endLease(ctx, hl)
		delete(a.leases.held, id)
	}
	a.leases.renew.Stop()
	a.leases.expire.Stop()
}
