package exchange

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// rebuildWait bounds how long a new authority waits for live nodes to report
// their state before it starts routing with what it has. Nodes that answer
// later are merged in as they come.
const rebuildWait = 500 * time.Millisecond

// tableRepush is how long replies may wait for the nodes' acknowledgements
// of a table before the table is sent again to the nodes that did not
// acknowledge it. A table or its acknowledgement can be lost (a connection
// that drops it), and a node can refuse a table and not acknowledge it
// (one built without a quorum, or from an authority it does not follow
// yet); the current table, sent again, is one it takes.
const tableRepush = 500 * time.Millisecond

// seedKeep is how long an authority keeps the state of a node that
// answered it while its own node does not see that node yet (it came back
// from a partition a moment ago): four rebuild waits, ample for membership
// to hear the node's heartbeats; a node still unseen then is taken as gone
// and its state dropped.
const seedKeep = 4 * rebuildWait

// authority is an exchange's control plane: the one place that orders its
// connections by seniority, appoints the leader (the oldest connection: no
// voting), tells handlers Leader/SlaveUp/SlaveDown, aggregates subscriptions
// per node, and pushes a RoutingTable to every point of presence after each
// change. It is an ordinary actor, so all of this is serialised.
//
// The truth about who is connected lives with each node's point of presence.
// A new authority (at declaration, or on another node after the old one's
// node died or placement moved) starts by asking every live node for its
// state (Sync), merges what they report, seq numbers included, and only then
// routes: so the leader comes out the same when the old leader still lives.
type authority struct {
	name string
	log  *slog.Logger
	self string // this node's address

	handlers map[string]*boursepb.HandlerInfo // by connection id
	pids     map[string]*actor.PID            // connection id -> handler PID
	members  []*boursepb.HandlerInfo          // by seq, oldest first
	nextSeq  uint64
	epoch    uint64
	term     uint64                // set when the rebuild ends; 0 before
	nodes    map[string]*nodeState // by address

	succ         succession
	now          func() time.Duration             // the hub's monotonic clock
	quorumUntil  func() time.Time                 // Config.QuorumUntil
	stale        func(*boursepb.HandlerInfo) bool // Hub.staleHandler
	lease        time.Duration
	dead         map[string]bool   // addresses of nodes known gone for good (wiring.View.Dead)
	appt         selfTimer         // fires when a successor may be appointed
	acked        map[string]uint64 // address -> newest epoch of this term its pop acknowledged
	voters       []string          // addresses that count for the quorum (wiring.View.Cluster)
	round        *round            // the lease round in flight (vote.go)
	queued       []*boursepb.LeaseRequest
	roundSeq     uint64
	roundT       selfTimer                // fires when a won round may grant
	gone         map[string]time.Duration // connections certainly gone, and when (vote.go)
	acks         []ackWait                // replies held until every node routes with a table
	repush       selfTimer                // re-sends the table to nodes that did not acknowledge it (tableRepush)
	repushLogged uint64                   // the epoch awaited when a re-push was last logged at Info
	reports      reports                  // the newest term and leader the nodes reported (rebuild)
	asks         []*boursepb.Attach       // lease requests that came with the nodes' state (rebuild)
	// knownSubs are, per node, the subscriptions the newest report that
	// lists the node had in its table, with that report's term (rebuild):
	// after a partition the two sides' tables each list their own side.
	// (rebuild): see seed.
	knownSubs map[string]knownSub
	// live are the nodes this authority's node sees alive; seeded are the
	// nodes seed filled in that it did not see yet (a node just healed from
	// a partition sees the others one by one): kept until seen, known dead,
	// or seedT fires.
	live   map[string]bool
	seeded map[string]bool
	seedT  selfTimer

	// what handlers were last told
	announced       map[string]*boursepb.HandlerInfo
	announcedLeader string

	rebuilding bool
	retiring   bool                             // see retire
	waiting    map[string]bool                  // addresses not yet heard from
	known      map[string]*boursepb.HandlerInfo // connections the nodes' tables listed (rebuild)
	deferred   []deferredReply                  // acks held until the rebuild is done
	deadline   selfTimer                        // ends the rebuild after rebuildWait
	root       *actor.RootContext
}

type nodeState struct {
	node     string
	pop      *actor.PID // nil when the node does not have the exchange
	patterns map[string]struct{}
}

type knownSub struct {
	term uint64
	np   *boursepb.NodePatterns
}

type deferredReply struct {
	to  *actor.PID
	msg proto.Message
}

// ackWait is a reply sent once every live node acknowledged a table of
// epoch (or a newer one).
type ackWait struct {
	epoch uint64
	to    *actor.PID
	msg   proto.Message
}

// membersChanged tells the authority which node addresses are alive, whether
// its node has a quorum, and which departed nodes are known dead.
type membersChanged struct {
	live   map[string]bool
	quorum bool
	dead   map[string]bool
	voters []string
}

func newAuthority(h *Hub, name, self string, live []string, quorum bool, dead map[string]bool, voters []string, log *slog.Logger) *authority {
	a := &authority{
		now:         h.now,
		quorumUntil: h.cfg.QuorumUntil,
		stale:       h.staleHandler,
		voters:      voters,
		lease:       h.cfg.leaseDuration(),
		dead:        dead,
		acked:       map[string]uint64{},
		name:        name,
		self:        self,
		log:         log.With(slog.String("exchange", name)),
		handlers:    map[string]*boursepb.HandlerInfo{},
		pids:        map[string]*actor.PID{},
		nextSeq:     1,
		nodes:       map[string]*nodeState{},
		announced:   map[string]*boursepb.HandlerInfo{},
		waiting:     map[string]bool{},
	}
	a.succ = succession{wait: leaseWait(a.lease), lease: a.lease, quorum: quorum}
	a.rebuilding = true
	a.live = map[string]bool{}
	for _, addr := range live {
		a.live[addr] = true
		a.waiting[addr] = true
	}
	return a
}

// retire tells an authority that its node no longer owns the exchange: it
// goes on renewing its leader's lease (and nothing else) for one lease, so
// that the leader keeps leading while the points of presence move to the
// new owner's authority, which keeps that leader. The hub stops it then.
type retire struct{}

func (a *authority) Receive(ctx actor.Context) {
	if a.retiring {
		a.receiveRetiring(ctx)
		return
	}
	switch m := ctx.Message().(type) {
	case *retire:
		a.retiring = true
		a.deadline.Stop()
		a.appt.Stop()
		a.seedT.Stop()
		a.repush.Stop()
		if a.rebuilding {
			a.succ.leader = "" // it never decided anything
		}
	case *actor.Started:
		for addr := range a.waiting {
			ctx.Send(actor.NewPID(addr, ingressID), &boursepb.Sync{Exchange: a.name, Authority: fromPID(ctx.Self())})
		}
		a.root = ctx.ActorSystem().Root
		a.deadline.Start(a.root, ctx.Self(), rebuildWait)
	case *actor.Stopping:
		a.deadline.Stop()
		a.appt.Stop()
		a.seedT.Stop()
		a.roundT.Stop()
		a.repush.Stop()
	case *boursepb.Vote:
		a.onVote(ctx, m)
	case *timerTick:
		if a.roundT.Fired(m) && a.round != nil && a.round.won {
			a.endRound(ctx)
		}
		if a.deadline.Fired(m) && a.rebuilding {
			a.log.Debug("bourse: authority rebuilt without every node", slog.Int("missing", len(a.waiting)))
			a.finishRebuild(ctx)
		}
		if a.appt.Fired(m) && !a.rebuilding {
			a.commit(ctx, nil)
		}
		if a.repush.Fired(m) {
			a.repushTable(ctx)
		}
		if a.seedT.Fired(m) && len(a.seeded) > 0 {
			// Never seen: drop what was seeded for them.
			a.seeded = nil
			a.membersChanged(ctx, a.live)
		}
	case *boursepb.LeaseRequest:
		a.leaseRequest(ctx, m)
	case *boursepb.TableAck:
		if m.GetTerm() == a.term {
			addr := m.GetPop().GetAddress()
			a.acked[addr] = max(a.acked[addr], m.GetEpoch())
			a.releaseAcks(ctx)
		}
	case *boursepb.Attach:
		a.attach(ctx, m)
	case *boursepb.RegisterHandler:
		a.register(ctx, m.GetHandler())
	case *boursepb.UnregisterHandler:
		if info := a.handlers[m.GetId()]; info != nil {
			a.remove(m.GetId(), true)
			a.commit(ctx, map[string]string{m.GetId(): m.GetReason()})
			a.replyNow(ctx, &boursepb.HandlerAck{Exchange: a.name, Handler: info, Epoch: a.epoch})
		} else {
			a.replyNow(ctx, &boursepb.HandlerAck{Exchange: a.name, Handler: &boursepb.HandlerInfo{Id: m.GetId()}, Epoch: a.epoch})
		}
	case *boursepb.AddPattern:
		ns := a.node(m.GetPop().GetAddress(), m.GetNode())
		ns.pop = toPID(m.GetPop())
		if _, ok := ns.patterns[m.GetPattern()]; !ok {
			ns.patterns[m.GetPattern()] = struct{}{}
			a.commit(ctx, nil)
		}
		// Subscribe returns when every node that may publish routes to it.
		a.reply(ctx, &boursepb.PatternAck{Exchange: a.name, Pattern: m.GetPattern(), Epoch: a.epoch})
	case *boursepb.RemovePattern:
		for _, ns := range a.nodes {
			if ns.node == m.GetNode() {
				if _, ok := ns.patterns[m.GetPattern()]; ok {
					delete(ns.patterns, m.GetPattern())
					a.commit(ctx, nil)
				}
			}
		}
	case *membersChanged:
		a.dead = m.dead
		a.voters = m.voters
		if m.quorum != a.succ.quorum {
			a.succ.setQuorum(m.quorum)
		}
		a.membersChanged(ctx, m.live)
	}
}

// leaseRequest refuses at once a lease for a handler this authority does not
// name leader in that term (its leadership then ends at once), grants the
// others after a round of votes (see vote.go), and leaves unanswered those
// it cannot decide now (rebuilding, or its quorum in doubt): the lease then
// runs out unless a later request is granted.
func (a *authority) leaseRequest(ctx actor.Context, m *boursepb.LeaseRequest) {
	switch {
	case a.rebuilding || !a.succ.quorum:
		return // no answer: the lease runs out unless renewed in time
	case m.GetTerm() != a.term || m.GetHandler() != a.succ.leader:
		ctx.Send(toPID(m.GetPop()), &boursepb.LeaseGrant{Exchange: a.name, Handler: m.GetHandler(), Term: m.GetTerm(), Id: m.GetId()})
		return
	}
	a.askLease(ctx, m)
}

// quorumHolds reports whether the node's quorum holds, by the failure
// detector's clock (see Config.QuorumUntil), for as long as a lease granted
// now may run: a node cut off from the majority stops granting one lease
// before its peers declare it down, so the side that keeps the quorum never
// meets a lease granted on the other side once it has seen it go.
func (a *authority) quorumHolds() bool {
	return a.quorumUntil == nil || time.Now().Add(a.lease).Before(a.quorumUntil())
}

// receiveRetiring is a retiring authority's behaviour (see retire): lease
// requests only, and only for the leader it had. A point of presence that
// still sends it anything else re-sends it to the new authority when that
// one's first table comes.
func (a *authority) receiveRetiring(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *boursepb.LeaseRequest:
		a.leaseRequest(ctx, m)
	case *boursepb.Vote:
		a.onVote(ctx, m)
	case *timerTick:
		if a.roundT.Fired(m) && a.round != nil && a.round.won {
			a.endRound(ctx)
		}
	case *membersChanged:
		a.voters = m.voters
		if !m.quorum {
			a.succ.setQuorum(false)
		}
	case *actor.Stopping:
		a.roundT.Stop()
	}
}

func (a *authority) node(addr, name string) *nodeState {
	ns := a.nodes[addr]
	if ns == nil {
		ns = &nodeState{node: name, patterns: map[string]struct{}{}}
		a.nodes[addr] = ns
	}
	if name != "" {
		ns.node = name
	}
	return ns
}

// reply answers the sender once every live node routes with the current
// table (or a newer one), after the rebuild when one is under way.
func (a *authority) reply(ctx actor.Context, msg proto.Message) {
	if ctx.Sender() == nil {
		return
	}
	if a.rebuilding {
		a.deferred = append(a.deferred, deferredReply{to: ctx.Sender(), msg: msg})
		return
	}
	a.acks = append(a.acks, ackWait{epoch: a.epoch, to: ctx.Sender(), msg: msg})
	a.releaseAcks(ctx)
}

// replyNow answers the sender without waiting for the nodes' table
// acknowledgements (after the rebuild when one is under way): a
// disconnection, which a stopping node makes while the other nodes may be
// stopping too and no longer acknowledge anything. Close still returns only
// once the authority has taken the connection out of its table.
func (a *authority) replyNow(ctx actor.Context, msg proto.Message) {
	if ctx.Sender() == nil {
		return
	}
	if a.rebuilding {
		a.deferred = append(a.deferred, deferredReply{to: ctx.Sender(), msg: msg})
		return
	}
	ctx.Respond(msg)
}

// releaseAcks sends the held replies whose table every live node with the
// exchange has acknowledged.
func (a *authority) releaseAcks(ctx actor.Context) {
	if len(a.acks) == 0 {
		return
	}
	low := uint64(math.MaxUint64)
	for addr, ns := range a.nodes {
		if ns.pop != nil && a.live[addr] {
			low = min(low, a.acked[addr])
		}
	}
	kept := a.acks[:0]
	for _, w := range a.acks {
		if w.epoch <= low {
			ctx.Send(w.to, w.msg)
		} else {
			kept = append(kept, w)
		}
	}
	clear(a.acks[len(kept):])
	a.acks = kept
	if len(a.acks) > 0 && !a.repush.armed {
		a.repush.Start(a.root, ctx.Self(), tableRepush)
	}
}

// repushTable sends the current table again to the live nodes that did not
// acknowledge the epoch that held replies wait for, while any wait.
func (a *authority) repushTable(ctx actor.Context) {
	if len(a.acks) == 0 || a.rebuilding {
		return
	}
	want := uint64(0)
	for _, w := range a.acks {
		want = max(want, w.epoch)
	}
	var rt *boursepb.RoutingTable
	var late []string
	for addr, ns := range a.nodes {
		if ns.pop == nil || !a.live[addr] || a.acked[addr] >= want {
			continue
		}
		if rt == nil {
			rt = a.routingTable(ctx.Self())
		}
		ctx.Send(ns.pop, rt)
		late = append(late, ns.node)
	}
	if len(late) > 0 {
		sort.Strings(late)
		level := slog.LevelDebug
		if want != a.repushLogged {
			level, a.repushLogged = slog.LevelInfo, want // once per epoch awaited
		}
		a.log.Log(context.Background(), level, "bourse: table sent again to nodes that did not acknowledge it",
			slog.Uint64("term", a.term), slog.Uint64("epoch", a.epoch), slog.Any("nodes", late), slog.Int("replies_waiting", len(a.acks)))
	}
	a.repush.Start(a.root, ctx.Self(), tableRepush)
}

// attach takes a node's full state: its connections replace those the
// authority had for that node, its patterns replace that node's patterns.
func (a *authority) attach(ctx actor.Context, m *boursepb.Attach) {
	addr := m.GetPop().GetAddress()
	delete(a.waiting, addr)
	if !a.live[addr] && !a.dead[addr] && addr != "" {
		// It answered, so it runs, though this node does not see it yet (it
		// came back from a partition a moment ago): keep its state until it
		// is seen, rather than drop it at the next membership change and
		// lose the publications to it meanwhile.
		a.markSeeded(addr)
		if !a.rebuilding && !a.seedT.armed {
			a.seedT.Start(a.root, ctx.Self(), seedKeep)
		}
	}
	if a.rebuilding && m.GetHasExchange() {
		a.reports.add(m.GetTerm(), m.GetEpoch(), m.GetLeader())
		for _, np := range m.GetKnownSubscriptions() {
			addr := np.GetPop().GetAddress()
			if k, ok := a.knownSubs[addr]; !ok || m.GetTerm() > k.term {
				if a.knownSubs == nil {
					a.knownSubs = map[string]knownSub{}
				}
				a.knownSubs[addr] = knownSub{term: m.GetTerm(), np: np}
			}
		}
	}
	if a.rebuilding && m.GetLeaseId() != 0 {
		a.asks = append(a.asks, m)
	}
	if a.rebuilding {
		for _, h := range m.GetKnown() {
			if a.known == nil {
				a.known = map[string]*boursepb.HandlerInfo{}
			}
			a.known[h.GetId()] = h
		}
	}
	ns := a.node(addr, m.GetNode())
	departed := map[string]string{}
	if m.GetHasExchange() {
		ns.pop = toPID(m.GetPop())
		reported := map[string]bool{}
		for _, h := range m.GetHandlers() {
			reported[h.GetId()] = true
			if _, known := a.handlers[h.GetId()]; !known {
				a.add(h)
			}
		}
		for id, pid := range a.pids {
			if pid.Address == addr && !reported[id] {
				a.remove(id, true)
				departed[id] = "gone"
			}
		}
		ns.patterns = map[string]struct{}{}
		for _, p := range m.GetPatterns() {
			ns.patterns[p] = struct{}{}
		}
		if m.GetEpoch() > a.epoch {
			a.epoch = m.GetEpoch()
		}
	}
	if a.rebuilding {
		if len(a.waiting) == 0 {
			a.finishRebuild(ctx)
		}
		return
	}
	a.commit(ctx, departed)
}

func (a *authority) finishRebuild(ctx actor.Context) {
	a.rebuilding = false
	a.deadline.Stop()
	a.seed(ctx)
	// A new term only with a quorum: the minority side of a partition
	// must not outnumber the majority's term, or its nodes would refuse the
	// majority's tables once the partition heals. Without one, it routes
	// in the newest term it was told of and appoints nobody.
	a.term = a.reports.term
	if a.succ.quorum {
		a.term++
	}
	prevLd := a.reports.leader
	prev := a.handlers[prevLd]
	prevDead := prev == nil && prevLd != "" && a.dead[addrOfConn(prevLd)]
	a.succ.start(a.now(), prevLd, prev != nil, prevDead)
	a.appoint(ctx)
	a.epoch++
	a.push(ctx)
	// The kept leader's lease, asked for with its node's state: granted
	// now, after the table (same sender, same receiver: it arrives first).
	for _, ask := range a.asks {
		if ask.GetLeaseHandler() == a.succ.leader && a.succ.quorum {
			a.askLease(ctx, &boursepb.LeaseRequest{Exchange: a.name, Handler: ask.GetLeaseHandler(), Term: a.term,
				Id: ask.GetLeaseId(), Pop: ask.GetPop()})
		}
	}
	a.asks = nil
	// Everyone learns the leader the merged state gives: the same one as
	// before when it still lives, since seq numbers came back with the state.
	a.announced = map[string]*boursepb.HandlerInfo{}
	for id, h := range a.handlers {
		a.announced[id] = h
	}
	// Connections the old tables listed that no node reports went away with
	// the old authority (their node died with it, or they left meanwhile):
	// the survivors hear SlaveDown, as they would have from the old one.
	for id, info := range a.known {
		if _, still := a.handlers[id]; !still {
			reason := "node down"
			if _, attached := a.nodes[info.GetPid().GetAddress()]; attached {
				reason = "disconnected"
			}
			a.tellAll(ctx, &boursepb.SlaveDown{Exchange: a.name, Handler: info, Epoch: a.epoch, Term: a.term, Reason: reason}, "")
		}
	}
	// And connections no table listed yet (registered with the old authority
	// just before it went, or never acknowledged) are news to the others.
	for id, info := range a.handlers {
		if _, listed := a.known[id]; !listed {
			a.tellAll(ctx, &boursepb.SlaveUp{Exchange: a.name, Handler: info, Epoch: a.epoch, Term: a.term}, pidKey(a.pids[id]))
		}
	}
	a.known = nil
	if l := a.leader(); l != nil {
		a.announcedLeader = l.GetId()
		a.tellAll(ctx, a.leaderMsg(), "")
	}
	for _, d := range a.deferred {
		a.acks = append(a.acks, ackWait{epoch: a.epoch, to: d.to, msg: d.msg})
	}
	a.deferred = nil
	a.releaseAcks(ctx)
	a.log.Info("bourse: authority ready", slog.Int("handlers", len(a.members)), slog.Uint64("term", a.term),
		slog.Uint64("epoch", a.epoch), slog.String("leader", a.succ.leader))
}

// seed gives the nodes that did not answer the rebuild the handlers (live
// nodes) and subscriptions (any node not known dead: this node may not see
// them yet, just after a partition healed) that the newest report's table
// listed for them: the first table then keeps routing to them, as the old
// authority did, instead of dropping them until they answer (publications
// to them would be lost meanwhile; every node still routes only to nodes it
// sees alive). When such a node answers, its own state replaces what was
// seeded; when it goes, or is not seen in time, it is dropped.
func (a *authority) seed(ctx actor.Context) {
	for _, h := range a.known {
		// Handlers only of nodes this node sees alive: one it declared
		// down may be frozen, and its handler, the leader perhaps, must not
		// be kept as if connected.
		addr := h.GetPid().GetAddress()
		if _, attached := a.nodes[addr]; attached || !a.live[addr] || a.stale(h) {
			continue // (a handler of an earlier process at a live address is gone)
		}
		if _, ok := a.handlers[h.GetId()]; !ok {
			a.add(h)
			a.markSeeded(addr)
		}
	}
	for addr, k := range a.knownSubs {
		np := k.np
		if _, attached := a.nodes[addr]; attached || a.dead[addr] || addr == "" {
			continue
		}
		ns := a.node(addr, np.GetNode())
		ns.pop = toPID(np.GetPop())
		for _, p := range np.GetPatterns() {
			ns.patterns[p] = struct{}{}
		}
		a.markSeeded(addr)
	}
	a.knownSubs = nil
	if len(a.seeded) > 0 && !a.seedT.armed {
		a.seedT.Start(a.root, ctx.Self(), seedKeep)
	}
}

// markSeeded records that addr's state was seeded while this node does not
// see it alive (see seed).
func (a *authority) markSeeded(addr string) {
	if a.live[addr] {
		return
	}
	if a.seeded == nil {
		a.seeded = map[string]bool{}
	}
	a.seeded[addr] = true
}

// addrOfConn returns the node address in a connection id ("addr/actor@inc#tag").
func addrOfConn(id string) string {
	if i := strings.IndexByte(id, '/'); i >= 0 {
		return id[:i]
	}
	return ""
}

// appoint appoints the oldest connection leader when the exchange has none
// and succession allows it, or arms the timer for when it will.
func (a *authority) appoint(ctx actor.Context) {
	oldest := ""
	if len(a.members) > 0 {
		oldest = a.members[0].GetId()
	}
	if _, at := a.succ.appoint(a.now(), oldest); at > 0 {
		a.appt.Start(a.root, ctx.Self(), at-a.now()+time.Millisecond)
	}
}

func (a *authority) add(info *boursepb.HandlerInfo) {
	info = proto.Clone(info).(*boursepb.HandlerInfo)
	if info.GetSeq() == 0 {
		// Seniority is the connection's wall-clock time, made strictly
		// increasing here: when two authorities existed for a while (a node
		// that started before it could reach its peers) and their states
		// merge, the connection that is really the oldest still leads.
		info.Seq = max(uint64(time.Now().UnixNano()), a.nextSeq)
	}
	if info.GetSeq() >= a.nextSeq {
		a.nextSeq = info.GetSeq() + 1
	}
	a.handlers[info.GetId()] = info
	a.pids[info.GetId()] = toPID(info.GetPid())
	i := sort.Search(len(a.members), func(i int) bool { return olderThan(info, a.members[i]) })
	a.members = slices.Insert(a.members, i, info)
}

// olderThan orders connections by seniority: seq, then id, so that equal
// seqs from merged states still give every authority the same order.
func olderThan(x, y *boursepb.HandlerInfo) bool {
	if x.GetSeq() != y.GetSeq() {
		return x.GetSeq() < y.GetSeq()
	}
	return x.GetId() < y.GetId()
}

// remove drops connection id; dead says its going is certain (see
// succession).
func (a *authority) remove(id string, dead bool) {
	a.succ.removed(id, dead)
	if dead {
		a.noteGone(id)
	}
	delete(a.handlers, id)
	delete(a.pids, id)
	a.members = slices.DeleteFunc(a.members, func(h *boursepb.HandlerInfo) bool { return h.GetId() == id })
}

func (a *authority) register(ctx actor.Context, info *boursepb.HandlerInfo) {
	if known := a.handlers[info.GetId()]; known != nil {
		// A point of presence re-sends what it is still waiting for after
		// its authority moved: the registration stands.
		a.reply(ctx, &boursepb.HandlerAck{Exchange: a.name, Handler: known, Epoch: a.epoch})
		return
	}
	a.add(info)
	a.commit(ctx, nil)
	a.reply(ctx, &boursepb.HandlerAck{Exchange: a.name, Handler: a.handlers[info.GetId()], Epoch: a.epoch})
}

func (a *authority) membersChanged(ctx actor.Context, live map[string]bool) {
	a.live = live
	for addr := range a.seeded {
		if live[addr] {
			// Seen at last: its own state replaces what was seeded.
			delete(a.seeded, addr)
			ctx.Send(actor.NewPID(addr, ingressID), &boursepb.Sync{Exchange: a.name, Authority: fromPID(ctx.Self())})
		}
	}
	departed := map[string]string{}
	for id, pid := range a.pids {
		switch {
		case !live[pid.Address] && !(a.seeded[pid.Address] && !a.dead[pid.Address]):
			a.remove(id, a.dead[pid.Address])
			departed[id] = "node down"
		case a.stale(a.handlers[id]):
			// Its node restarted without this authority seeing it go.
			a.remove(id, true)
			departed[id] = "node down"
		}
	}
	changed := len(departed) > 0 || a.succ.leader == "" && len(a.members) > 0
	for addr := range a.nodes {
		if !live[addr] && !(a.seeded[addr] && !a.dead[addr]) {
			delete(a.seeded, addr)
			delete(a.nodes, addr)
			delete(a.acked, addr)
			changed = true
		}
	}
	a.releaseAcks(ctx)
	for addr := range a.waiting {
		if !live[addr] {
			delete(a.waiting, addr)
		}
	}
	for addr := range live {
		if _, known := a.nodes[addr]; !known && !a.rebuilding {
			// A node joined: ask for its state, it may host handlers already.
			ctx.Send(actor.NewPID(addr, ingressID), &boursepb.Sync{Exchange: a.name, Authority: fromPID(ctx.Self())})
		}
	}
	if a.rebuilding {
		if len(a.waiting) == 0 {
			a.finishRebuild(ctx)
		}
		return
	}
	if changed {
		a.commit(ctx, departed)
	}
}

// leader returns the appointed leader, nil when there is none.
func (a *authority) leader() *boursepb.HandlerInfo {
	return a.handlers[a.succ.leader]
}

// commit bumps the epoch, pushes the routing table, and tells handlers what
// changed since they were last told: SlaveDown for departures, SlaveUp and a
// Leader for arrivals, a Leader to all when the leader changed. departed
// gives the reason of each departure.
func (a *authority) commit(ctx actor.Context, departed map[string]string) {
	if !a.rebuilding {
		a.appoint(ctx)
	}
	a.epoch++
	a.push(ctx)
	if a.rebuilding {
		return
	}
	for id, info := range a.announced {
		if _, still := a.handlers[id]; still {
			continue
		}
		reason := departed[id]
		down := &boursepb.SlaveDown{Exchange: a.name, Handler: info, Epoch: a.epoch, Term: a.term, Reason: reason}
		a.tellAll(ctx, down, "")
		if reason == "disconnected" {
			// A handler that left alive hears of its own departure, so a
			// leader that disconnects knows at once it no longer leads.
			ctx.Send(toPID(info.GetPid()), down)
		}
		delete(a.announced, id)
	}
	leader := a.leader()
	leaderID := ""
	if leader != nil {
		leaderID = leader.GetId()
	}
	leaderChanged := leaderID != a.announcedLeader
	for _, info := range a.members {
		if _, told := a.announced[info.GetId()]; told {
			continue
		}
		a.announced[info.GetId()] = info
		pid := a.pids[info.GetId()]
		if !leaderChanged {
			ctx.Send(pid, a.leaderMsg())
		}
		a.tellAll(ctx, &boursepb.SlaveUp{Exchange: a.name, Handler: info, Epoch: a.epoch, Term: a.term}, pidKey(pid))
	}
	if leaderChanged {
		// A Leader naming nobody tells the handlers the exchange has none
		// for now (a silent leader's lease must run out, or no quorum).
		a.announcedLeader = leaderID
		a.tellAll(ctx, a.leaderMsg(), "")
	}
}

func (a *authority) leaderMsg() *boursepb.Leader {
	return &boursepb.Leader{Exchange: a.name, Leader: a.leader(), Handlers: slices.Clone(a.members), Epoch: a.epoch, Term: a.term}
}

// tellAll sends msg once to every distinct handler actor but skip.
func (a *authority) tellAll(ctx actor.Context, msg any, skip string) {
	seen := make(map[string]struct{}, len(a.members))
	for _, m := range a.members {
		pid := a.pids[m.GetId()]
		k := pidKey(pid)
		if _, dup := seen[k]; dup || k == skip {
			continue
		}
		seen[k] = struct{}{}
		ctx.Send(pid, msg)
	}
}

// push sends the routing table to every node's point of presence.
func (a *authority) push(ctx actor.Context) {
	rt := a.routingTable(ctx.Self())
	for _, ns := range a.nodes {
		if ns.pop != nil {
			ctx.Send(ns.pop, rt)
		}
	}
}

func (a *authority) routingTable(self *actor.PID) *boursepb.RoutingTable {
	rt := &boursepb.RoutingTable{Exchange: a.name, Epoch: a.epoch, Handlers: slices.Clone(a.members), Authority: fromPID(self),
		Term: a.term, Leader: a.succ.leader, Quorum: a.succ.quorum}
	addrs := make([]string, 0, len(a.nodes))
	for addr, ns := range a.nodes {
		if len(ns.patterns) > 0 {
			addrs = append(addrs, addr)
		}
	}
	sort.Strings(addrs)
	rt.KnownNodes = make([]string, 0, len(a.nodes))
	for addr := range a.nodes {
		rt.KnownNodes = append(rt.KnownNodes, addr)
	}
	sort.Strings(rt.KnownNodes)
	for _, addr := range addrs {
		ns := a.nodes[addr]
		np := &boursepb.NodePatterns{Node: ns.node, Pop: fromPID(ns.pop)}
		for p := range ns.patterns {
			np.Patterns = append(np.Patterns, p)
		}
		sort.Strings(np.Patterns)
		rt.Subscriptions = append(rt.Subscriptions, np)
	}
	return rt
}
