package exchange

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/topic"
	boursepb "github.com/bourse-go/bourse/proto"
	"github.com/bourse-go/bourse/strategies"
	"google.golang.org/protobuf/proto"
)

// point is an exchange's point of presence on this node: the routing table the
// data path reads, the node's local subscriptions, and the pop actor that owns
// the node's connections and talks to the authority.
type point struct {
	h          *Hub
	spec       Spec
	strat      strategies.Strategy
	leaderOnly bool // strat sends every request to the leader (strategies.LeaderOnly)

	table atomic.Pointer[table]
	prob  *probation // this node's view of its handlers' health (probation.go)
	// rec is the hub's Recorder bound to this exchange; nil without one.
	rec ExchangeRecorder
	// ads are the capacity adverts of the handlers on other nodes, for a
	// strategy that routes by load (capacity.go); nil for others.
	ads *adverts

	// tableMu serialises table builds: the pop actor's (a new table came)
	// and setView's (membership changed, see refilter).
	tableMu sync.Mutex
	raw     *boursepb.RoutingTable // the last table accepted, as pushed
	live    map[string]bool        // the live set it was last filtered with; nil: all
	quorum  bool
	// observers are told of leader changes (ObserveLeader), with tableMu
	// held.
	observers []*observer

	subMu sync.RWMutex
	subs  topic.Trie[*flow]
	// flows are the local subscribers by actor id and by the *actor.PID
	// given to Subscribe, for their actors to count what they took
	// (flow.go: GetAutoResponse).
	flows      sync.Map
	subWatchMu sync.Mutex
	subWatches []chan SubscriberEvent // WatchSubscribers

	popPID *actor.PID
	ready  chan struct{}

	published     atomic.Uint64 // publications accepted from local publishers
	delivered     atomic.Uint64 // copies handed to local subscribers
	remoteSent    atomic.Uint64 // network messages sent to other nodes' subscribers
	remoteDropped atomic.Uint64 // publications to other nodes that could not be sent
	received      atomic.Uint64 // publications received from other nodes
	expired       atomic.Uint64 // requests to local handlers dropped past their deadline (Request.DropExpired)
	unrouted      atomic.Uint64 // local publications no subscriber anywhere matched
	leaderChanges atomic.Uint64 // changes of the table's leader or its term
	// overflowDrops counts publications dropped because their subscriber
	// had its limit pending; slowDisconnects the subscribers ended for it.
	overflowDrops   atomic.Uint64
	slowDisconnects atomic.Uint64
	// advertsSent counts the capacity adverts this node sent of its
	// handlers (one per node it went to), advertsHeard those it received
	// (advertise.go).
	advertsSent  atomic.Uint64
	advertsHeard atomic.Uint64
}

func newPoint(h *Hub, s Spec, strat strategies.Strategy) *point {
	p := &point{h: h, spec: s, strat: strat, ready: make(chan struct{}), quorum: true,
		prob: newProbation(s.Name, h.cfg.Probation), rec: BindRecorder(h.rec, s.Name)}
	if lo, ok := strat.(strategies.LeaderOnly); ok {
		p.leaderOnly = lo.LeaderOnly()
	}
	if _, ok := strat.(strategies.LoadAware); ok {
		p.ads = &adverts{}
	}
	p.table.Store(emptyTable())
	return p
}

// setTable routes with rt from now on (the pop actor calls it).
func (p *point) setTable(rt *boursepb.RoutingTable) {
	p.tableMu.Lock()
	defer p.tableMu.Unlock()
	rt = carrySubscriptions(p.raw, rt, p.live)
	p.raw = rt
	p.storeTable(buildTable(rt, p.strat, p.table.Load(), p.h, p.live, p.quorum, p.ads))
}

// carrySubscriptions returns next with the subscriptions of prev for live
// nodes that next's authority does not know yet (see
// RoutingTable.known_nodes). live nil means every node.
func carrySubscriptions(prev, next *boursepb.RoutingTable, live map[string]bool) *boursepb.RoutingTable {
	if prev == nil || len(next.GetKnownNodes()) == 0 {
		return next
	}
	var carried []*boursepb.NodePatterns
	for _, np := range prev.GetSubscriptions() {
		addr := np.GetPop().GetAddress()
		if live != nil && !live[addr] {
			continue
		}
		if _, known := slices.BinarySearch(next.GetKnownNodes(), addr); !known {
			carried = append(carried, np)
		}
	}
	if len(carried) == 0 {
		return next
	}
	out := proto.Clone(next).(*boursepb.RoutingTable)
	out.Subscriptions = append(out.Subscriptions, carried...)
	return out
}

// refilter rebuilds the table for a new view, before setView returns: a
// node's handlers and subscribers leave the data path the moment
// membership drops the node, not when the authority's next table comes.
func (p *point) refilter(live map[string]bool, quorum bool) {
	p.tableMu.Lock()
	defer p.tableMu.Unlock()
	p.live, p.quorum = live, quorum
	if p.raw != nil {
		p.storeTable(buildTable(p.raw, p.strat, p.table.Load(), p.h, live, quorum, p.ads))
	}
}

// start spawns this node's point of presence and waits until it is attached
// to the exchange's authority (started on demand on the owning node) and
// holds a routing table.
func (p *point) start(ctx context.Context) error {
	pop, err := p.h.root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &popActor{p: p, conns: map[string]*localConn{}, watched: map[string]*watched{}, subs: map[uint64]*localSub{},
			patternWait: map[string][]*subscribeCmd{}, pending: map[string]*connectCmd{}, leaving: map[string]*disconnectCmd{}}
	}), "bourse$pop$"+p.spec.Name)
	if err != nil {
		return fmt.Errorf("bourse: exchange %q: spawn point of presence: %w", p.spec.Name, err)
	}
	p.popPID = pop
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		p.h.root.Stop(pop)
		return fmt.Errorf("bourse: exchange %q: declare: no authority answered: %w", p.spec.Name, ctx.Err())
	}
}

// reattach tells a point of presence that membership changed: its authority
// may have moved, and its node may have lost or regained its quorum.
type reattach struct {
	quorum   bool
	regained bool // the node's authorities were stopped, to be rebuilt
}

// attachRetry is how often a point of presence re-sends Attach until its
// authority answers (the owning node may not have started it yet).
const attachRetry = 200 * time.Millisecond

// controlResend is how often a point of presence re-sends the requests
// still waiting for its authority's answer (a connection, a disconnection,
// a subscription pattern), and checks that it follows the owner's
// authority. The answer normally comes in milliseconds; without a re-send,
// a request or answer lost on the way (an authority that retired or
// stopped with it, a connection that dropped it) would leave the caller of
// Connect, Close or Subscribe waiting until its ctx ends: a chaos run saw
// Serve hang at start-up that way while the authority moved. The authority
// treats repeats as no-ops.
const controlResend = time.Second

// reattachAfter is how many re-sends in a row the authority may leave
// unanswered before the point of presence attaches again (resendWaiting).
const reattachAfter = 2

// control-plane commands from the Hub's API to the pop actor. Each carries a
// buffered result channel the API waits on (with its context).
type result struct {
	info *boursepb.HandlerInfo
	err  error
}

type connectCmd struct {
	info      *boursepb.HandlerInfo
	lease     *leaseState
	pid       *actor.PID
	res       chan result
	abandoned atomic.Bool
}

type disconnectCmd struct {
	id  string
	res chan result
}

type subscribeCmd struct {
	id      uint64
	pattern string
	pid     *actor.PID
	cfg     SubscriberConfig
	sub     *Subscription
	res     chan result
}

type unsubscribeCmd struct {
	id  uint64
	res chan result
}

type localConn struct {
	info  *boursepb.HandlerInfo
	key   string // pidKey of the handler
	lease *leaseState
}

type localSub struct {
	pattern string
	sub     *flow // one per local actor whatever its number of subscriptions, so the trie dedupes by it
	key     string
	handle  *Subscription
}

// watched is a local actor the pop watches because it holds connections or
// subscriptions: when it dies they all go.
type watched struct {
	pid   *actor.PID
	conns map[string]struct{}
	subs  map[uint64]struct{}
	sub   *flow
}

type popActor struct {
	p           *point
	conns       map[string]*localConn
	pending     map[string]*connectCmd    // connections waiting for the authority's ack
	leaving     map[string]*disconnectCmd // disconnections waiting for it
	watched     map[string]*watched
	subs        map[uint64]*localSub
	patternWait map[string][]*subscribeCmd // subscribers waiting for the pattern's ack
	ready       bool                       // p.ready closed

	owner    string     // address of the node owning the exchange, as last computed
	authPID  *actor.PID // the authority whose table was last accepted
	attached bool       // a table from the owner's authority has arrived
	retry    selfTimer  // re-sends the attach until attached
	resend   selfTimer  // re-sends what waits for the authority (controlResend)
	// unanswered counts the re-sends since the authority last answered
	// (a table, an ack): see resendWaiting.
	unanswered int
	term       uint64 // of the last table accepted
	epoch      uint64 // of the last table accepted
	leader     string // of the last table accepted

	leases leases // the leases of this node's leading connections (lease.go)
}

func (a *popActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.attach(ctx)
	case *reattach:
		if !m.quorum {
			a.endLeases(ctx, "no quorum")
		}
		if owner := a.p.h.ownerOf(a.p.spec.Name, a.p.h.liveMembers()); owner != a.owner || m.regained {
			a.attach(ctx)
		}
	case *timerTick:
		if a.retry.Fired(m) && !a.attached {
			a.attach(ctx)
		}
		if a.resend.Fired(m) {
			a.resendWaiting(ctx)
		}
		a.leaseTick(ctx, m)
	case *boursepb.LeaseGrant:
		a.leaseGrant(ctx, m)
	case *actor.Stopping:
		a.retry.Stop()
		a.resend.Stop()
		a.endLeases(ctx, "stopping")
	case *boursepb.Sync:
		// A new authority asks for this node's state.
		ctx.Send(toPID(m.GetAuthority()), a.state(ctx))
	case *boursepb.RoutingTable:
		a.table(ctx, m)
	case *connectCmd:
		a.connect(ctx, m)
	case *boursepb.HandlerAck:
		a.handlerAck(ctx, m)
	case *disconnectCmd:
		if _, ok := a.conns[m.id]; !ok {
			m.res <- result{err: fmt.Errorf("%w: no connection %q", ErrInvalid, m.id)}
			return
		}
		// Answer once the authority has pushed a table without it.
		a.leaving[m.id] = m
		a.dropConn(ctx, m.id, "disconnected")
	case *subscribeCmd:
		a.subscribe(ctx, m)
	case *boursepb.PatternAck:
		a.unanswered = 0
		for _, w := range a.patternWait[m.GetPattern()] {
			w.res <- result{}
		}
		delete(a.patternWait, m.GetPattern())
	case *slowCmd:
		a.disconnect(ctx, m.f)
	case *unsubscribeCmd:
		if _, ok := a.subs[m.id]; !ok {
			m.res <- result{err: fmt.Errorf("%w: no subscription %d", ErrInvalid, m.id)}
			return
		}
		a.dropSub(ctx, m.id)
		m.res <- result{}
	case *actor.Terminated:
		a.terminated(ctx, m.Who)
	case *actor.DeadLetterResponse:
		// A request of this pop's reached no actor: the authority it
		// follows has stopped (the pop's only other requests go to an
		// ingress, which is always there). Attach again at once, rather
		// than after reattachAfter re-sends.
		if !a.p.h.lost(m) && a.authPID != nil {
			a.p.h.log.Info("bourse: the authority is gone: attaching again", slog.String("exchange", a.p.spec.Name),
				slog.Any("authority", a.authPID))
			a.unanswered = 0
			a.attach(ctx)
		}
	}
}

// attach sends this node's state to the owner's ingress, which hands it to
// the authority (starting it if needed); it is re-sent until a table from
// that authority arrives.
func (a *popActor) attach(ctx actor.Context) {
	a.owner = a.p.h.ownerOf(a.p.spec.Name, a.p.h.liveMembers())
	a.attached = false
	ctx.Request(a.p.h.ingressOf(a.owner), a.state(ctx))
	a.retry.Start(a.p.h.root, ctx.Self(), attachRetry)
}

// state is this node's truth about the exchange.
func (a *popActor) state(ctx actor.Context) *boursepb.Attach {
	st := &boursepb.Attach{Exchange: a.p.spec.Name, Node: a.p.h.cfg.Node, Pop: fromPID(ctx.Self()), HasExchange: true,
		Epoch: a.epoch, Term: a.term, Leader: a.leader}
	if hl := a.leases.held[a.leader]; hl != nil {
		st.LeaseHandler, st.LeaseId = hl.conn, a.leaseAsk(hl)
	}
	for _, c := range a.conns {
		st.Handlers = append(st.Handlers, c.info)
	}
	a.p.tableMu.Lock()
	if a.p.raw != nil {
		st.Known = a.p.raw.GetHandlers()
		st.KnownSubscriptions = a.p.raw.GetSubscriptions()
	}
	a.p.tableMu.Unlock()
	a.p.subMu.RLock()
	st.Patterns = a.p.subs.Patterns()
	a.p.subMu.RUnlock()
	return st
}

func (a *popActor) table(ctx actor.Context, m *boursepb.RoutingTable) {
	auth := toPID(m.GetAuthority())
	if auth == nil {
		return
	}
	// From the owner's authority, or from a newer term's authority that
	// appointed a leader (so it has a quorum): while an authority moves,
	// nodes learn of the new owner at different moments, and the leader's
	// node must follow the new authority at once, or its lease lapses.
	// A minority side's authority never names a leader, so a node never
	// follows it away from the majority's.
	fromOwner := auth.Address == a.owner
	newer := m.GetTerm() > a.term && m.GetLeader() != ""
	if !fromOwner && !newer {
		return // from an authority this node no longer attaches to
	}
	if a.authPID != nil && !m.GetQuorum() && a.p.h.quorum.Load() {
		return // built without a quorum: the table held is better (see RoutingTable.quorum)
	}
	moved := a.authPID == nil || !a.authPID.Equal(auth)
	switch {
	case !moved && (m.GetTerm() < a.term || m.GetTerm() == a.term && m.GetEpoch() < a.epoch):
		return // reordered
	case moved && !fromOwner && m.GetTerm() <= a.term:
		return // from an authority older than one already heard
	}
	// A new authority on the owner's node is followed whatever its term: the
	// one followed before may have been another side's, during a partition
	// or while views differed, with a higher term that the owner's never
	// saw; refusing the owner's for it would leave this node stuck with the
	// tables of an authority that no longer runs.
	a.authPID = auth
	a.unanswered = 0
	a.term, a.epoch, a.leader = m.GetTerm(), m.GetEpoch(), m.GetLeader()
	a.p.setTable(m)
	if a.p.h.isLive(auth.Address) {
		ack := &boursepb.TableAck{Exchange: a.p.spec.Name, Term: m.GetTerm(), Epoch: m.GetEpoch(), Pop: fromPID(ctx.Self())}
		if !a.p.h.lost(ack) {
			ctx.Send(auth, ack)
		}
	}
	a.leadersChanged(ctx)
	if !a.attached {
		a.attached = true
		a.retry.Stop()
	}
	if moved {
		// What the old authority never answered, the new one gets again; it
		// treats repeats as no-ops.
		a.sendWaiting(ctx)
	}
	if !a.ready {
		a.ready = true
		close(a.p.ready)
	}
}

// toAuthority sends a control message to the authority, if one is known yet;
// otherwise it goes out when the first table arrives (see table). Either
// way it is sent again every controlResend until answered.
func (a *popActor) toAuthority(ctx actor.Context, msg proto.Message) {
	if a.authPID != nil && !a.p.h.lost(msg) {
		ctx.Request(a.authPID, msg)
	}
	if !a.resend.armed {
		a.resend.Start(a.p.h.root, ctx.Self(), controlResend)
	}
}

// waiting reports whether a request waits for the authority's answer.
func (a *popActor) waiting() bool {
	return len(a.pending) > 0 || len(a.leaving) > 0 || len(a.patternWait) > 0
}

// sendWaiting sends the authority every request still waiting for its
// answer.
func (a *popActor) sendWaiting(ctx actor.Context) {
	if a.authPID == nil {
		return
	}
	for _, cmd := range a.pending {
		ctx.Request(a.authPID, &boursepb.RegisterHandler{Exchange: a.p.spec.Name, Handler: cmd.info})
	}
	for id := range a.leaving {
		ctx.Request(a.authPID, &boursepb.UnregisterHandler{Exchange: a.p.spec.Name, Id: id, Reason: "disconnected"})
	}
	for pattern := range a.patternWait {
		ctx.Request(a.authPID, &boursepb.AddPattern{Exchange: a.p.spec.Name, Node: a.p.h.cfg.Node, Pop: fromPID(ctx.Self()), Pattern: pattern})
	}
}

// resendWaiting runs every controlResend while requests wait: it sends
// them again, and attaches again when the authority followed is not the
// owner's (the owner's table would have moved it, and did not come), or
// when it has not answered reattachAfter re-sends in a row: it may have
// stopped on the owner's node itself (a node that regains its quorum
// stops its authorities and rebuilds them in a new term, and only its own
// points of presence are told), and messages to a stopped actor are
// dropped, so re-sending to it would wait for ever. Attaching goes to the
// owner's ingress, which hands it to the authority running there, or
// starts one.
func (a *popActor) resendWaiting(ctx actor.Context) {
	if !a.waiting() {
		a.unanswered = 0
		return
	}
	a.unanswered++
	// Rare (an answer lost, or slower than controlResend): worth a line.
	a.p.h.log.Info("bourse: re-sending what waits for the authority's answer", slog.String("exchange", a.p.spec.Name),
		slog.Any("authority", a.authPID), slog.Int("connections", len(a.pending)),
		slog.Int("disconnections", len(a.leaving)), slog.Int("patterns", len(a.patternWait)))
	a.sendWaiting(ctx)
	switch owner := a.p.h.ownerOf(a.p.spec.Name, a.p.h.liveMembers()); {
	case a.authPID == nil || a.authPID.Address != owner:
		a.attach(ctx)
	case a.unanswered >= reattachAfter:
		a.p.h.log.Info("bourse: the authority did not answer: attaching again", slog.String("exchange", a.p.spec.Name),
			slog.Any("authority", a.authPID), slog.Int("resends", a.unanswered))
		a.unanswered = 0
		a.attach(ctx)
	}
	a.resend.Start(a.p.h.root, ctx.Self(), controlResend)
}

func (a *popActor) watch(ctx actor.Context, pid *actor.PID) *watched {
	k := pidKey(pid)
	w := a.watched[k]
	if w == nil {
		w = &watched{pid: pid, conns: map[string]struct{}{}, subs: map[uint64]struct{}{}}
		a.watched[k] = w
		ctx.Watch(pid)
	}
	return w
}

func (a *popActor) unwatchIfIdle(ctx actor.Context, k string) {
	if w := a.watched[k]; w != nil && len(w.conns) == 0 && len(w.subs) == 0 {
		ctx.Unwatch(w.pid)
		delete(a.watched, k)
	}
}

func (a *popActor) connect(ctx actor.Context, m *connectCmd) {
	id := m.info.GetId()
	if _, ok := a.conns[id]; ok {
		m.res <- result{err: fmt.Errorf("%w: %s", ErrAlreadyConnected, id)}
		return
	}
	w := a.watch(ctx, m.pid)
	w.conns[id] = struct{}{}
	a.conns[id] = &localConn{info: m.info, key: pidKey(m.pid), lease: m.lease}
	a.pending[id] = m
	a.toAuthority(ctx, &boursepb.RegisterHandler{Exchange: a.p.spec.Name, Handler: m.info})
}

func (a *popActor) handlerAck(ctx actor.Context, m *boursepb.HandlerAck) {
	a.unanswered = 0
	id := m.GetHandler().GetId()
	if d := a.leaving[id]; d != nil {
		delete(a.leaving, id)
		d.res <- result{}
		return
	}
	cmd := a.pending[id]
	if cmd == nil {
		return // ack of an unregistration nobody waits for
	}
	delete(a.pending, id)
	if m.GetError() != nil {
		a.forget(ctx, id)
		cmd.res <- result{err: ErrorFromWire(m.GetError())}
		return
	}
	if c := a.conns[id]; c != nil {
		c.info = m.GetHandler()
	}
	if cmd.abandoned.Load() {
		// The caller gave up waiting; do not leave a connection it does not
		// know about.
		a.dropConn(ctx, id, "connect abandoned")
		return
	}
	cmd.res <- result{info: m.GetHandler()}
}

// forget removes a connection locally without telling the authority.
func (a *popActor) forget(ctx actor.Context, id string) {
	c := a.conns[id]
	if c == nil {
		return
	}
	delete(a.conns, id)
	a.p.h.loads.remove(id)
	if hl := a.leases.held[id]; hl != nil {
		a.endLease(ctx, hl)
		delete(a.leases.held, id)
	}
	if w := a.watched[c.key]; w != nil {
		delete(w.conns, id)
	}
	a.unwatchIfIdle(ctx, c.key)
}

func (a *popActor) dropConn(ctx actor.Context, id, reason string) {
	if _, ok := a.conns[id]; !ok {
		return
	}
	a.forget(ctx, id)
	if cmd := a.pending[id]; cmd != nil {
		delete(a.pending, id)
		cmd.res <- result{err: fmt.Errorf("%w: handler went away while connecting", ErrInvalid)}
	}
	a.toAuthority(ctx, &boursepb.UnregisterHandler{Exchange: a.p.spec.Name, Id: id, Reason: reason})
}

func (a *popActor) subscribe(ctx actor.Context, m *subscribeCmd) {
	w := a.watch(ctx, m.pid)
	if w.sub == nil {
		w.sub = newFlow(a.p, m.pid, m.cfg.withDefaults(a.p.h.cfg.Subscribers))
		a.p.flows.Store(m.pid.Id, w.sub)
		a.p.flows.Store(m.pid, w.sub)
	}
	a.p.subMu.Lock()
	first, err := a.p.subs.Add(m.pattern, w.sub)
	a.p.subMu.Unlock()
	if err != nil {
		a.unwatchIfIdle(ctx, pidKey(m.pid))
		m.res <- result{err: fmt.Errorf("%w: %w", ErrInvalid, err)}
		return
	}
	w.subs[m.id] = struct{}{}
	a.subs[m.id] = &localSub{pattern: m.pattern, sub: w.sub, key: pidKey(m.pid), handle: m.sub}
	if waiters, pending := a.patternWait[m.pattern]; pending {
		a.patternWait[m.pattern] = append(waiters, m)
		return
	}
	if !first {
		m.res <- result{}
		return
	}
	// First local subscriber of this pattern: the node subscribes upstream,
	// once, and the caller returns when the authority has it.
	a.patternWait[m.pattern] = []*subscribeCmd{m}
	a.toAuthority(ctx, &boursepb.AddPattern{Exchange: a.p.spec.Name, Node: a.p.h.cfg.Node, Pop: fromPID(ctx.Self()), Pattern: m.pattern})
}

func (a *popActor) dropSub(ctx actor.Context, id uint64) {
	s := a.subs[id]
	delete(a.subs, id)
	a.p.subMu.Lock()
	gone := a.p.subs.Remove(s.pattern, s.sub)
	a.p.subMu.Unlock()
	if w := a.watched[s.key]; w != nil {
		delete(w.subs, id)
		if len(w.subs) == 0 && w.sub != nil {
			// Its next subscription starts a new flow, with its options.
			a.p.flows.CompareAndDelete(w.pid.Id, w.sub)
			a.p.flows.CompareAndDelete(w.pid, w.sub)
			w.sub = nil
		}
	}
	a.unwatchIfIdle(ctx, s.key)
	if gone {
		a.toAuthority(ctx, &boursepb.RemovePattern{Exchange: a.p.spec.Name, Node: a.p.h.cfg.Node, Pattern: s.pattern})
	}
}

func (a *popActor) terminated(ctx actor.Context, pid *actor.PID) {
	w := a.watched[pidKey(pid)]
	if w == nil {
		return
	}
	a.p.h.log.Debug("bourse: local actor died; dropping its connections and subscriptions",
		slog.String("exchange", a.p.spec.Name), slog.String("pid", pid.String()),
		slog.Int("connections", len(w.conns)), slog.Int("subscriptions", len(w.subs)))
	for id := range w.conns {
		a.dropConn(ctx, id, "terminated")
	}
	for id := range w.subs {
		a.dropSub(ctx, id)
	}
}

// disconnect ends the subscriptions of a Disconnect subscriber that
// overflowed (flow.offer): each Subscription ends with ErrSlowConsumer and
// the actor receives a *SubscriptionEnded for each, after what it has
// pending.
func (a *popActor) disconnect(ctx actor.Context, f *flow) {
	w := a.watched[pidKey(f.pid)]
	if w == nil || w.sub != f {
		return // gone meanwhile
	}
	err := errSlow(a.p.spec.Name)
	a.p.h.log.Warn("bourse: slow consumer disconnected", slog.String("exchange", a.p.spec.Name),
		slog.String("pid", f.pid.String()), slog.Int("pending_limit", int(f.limit)))
	for id := range w.subs {
		ls := a.subs[id]
		a.dropSub(ctx, id)
		ctx.Send(f.pid, &SubscriptionEnded{Exchange: a.p.spec.Name, Pattern: ls.pattern, Err: err})
		if ls.handle != nil {
			ls.handle.end(err)
		}
	}
}

// wait waits for a command's result, the caller's context, or hub stop.
func (h *Hub) wait(ctx context.Context, name string, res chan result) (result, error) {
	select {
	case r := <-res:
		return r, r.err
	case <-ctx.Done():
		return result{}, reqErr(name, ctx.Err())
	case <-h.done:
		return result{}, reqErr(name, ErrStopped)
	}
}
