package exchange

import (
	"log/slog"
	"sort"

	"github.com/asynkron/protoactor-go/actor"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// authority is an exchange's control plane: the one place that orders its
// connections by seniority, appoints the leader (the oldest connection: no
// voting, and the same answer when the state is rebuilt from the points of
// presence), tells handlers Leader/SlaveUp/SlaveDown, aggregates subscriptions
// per node, and pushes a RoutingTable to every point of presence after each
// change. It is an ordinary actor, so all of this is serialised.
type authority struct {
	name    string
	log     *slog.Logger
	members []*boursepb.HandlerInfo // by seq, oldest first
	pids    map[string]*actor.PID   // connection id -> handler PID
	nextSeq uint64
	epoch   uint64
	pops    map[string]*actor.PID // node -> point of presence
	nodes   map[string]*nodeSubs  // node -> aggregated patterns
}

type nodeSubs struct {
	pop      *boursepb.Pid
	patterns map[string]struct{}
}

func newAuthority(name string, log *slog.Logger) *authority {
	return &authority{
		name:    name,
		log:     log.With(slog.String("exchange", name)),
		pids:    map[string]*actor.PID{},
		nextSeq: 1,
		pops:    map[string]*actor.PID{},
		nodes:   map[string]*nodeSubs{},
	}
}

func (a *authority) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *boursepb.Attach:
		a.pops[m.GetNode()] = toPID(m.GetPop())
		ctx.Respond(a.routingTable())
	case *boursepb.RegisterHandler:
		a.register(ctx, m.GetHandler())
	case *boursepb.UnregisterHandler:
		a.unregister(ctx, m.GetId(), m.GetReason())
	case *boursepb.AddPattern:
		ns := a.nodes[m.GetNode()]
		if ns == nil {
			ns = &nodeSubs{patterns: map[string]struct{}{}}
			a.nodes[m.GetNode()] = ns
		}
		ns.pop = m.GetPop()
		ns.patterns[m.GetPattern()] = struct{}{}
		a.changed(ctx)
		if ctx.Sender() != nil {
			ctx.Respond(&boursepb.PatternAck{Exchange: a.name, Pattern: m.GetPattern(), Epoch: a.epoch})
		}
	case *boursepb.RemovePattern:
		if ns := a.nodes[m.GetNode()]; ns != nil {
			delete(ns.patterns, m.GetPattern())
			if len(ns.patterns) == 0 {
				delete(a.nodes, m.GetNode())
			}
			a.changed(ctx)
		}
	}
}

func (a *authority) leader() *boursepb.HandlerInfo {
	if len(a.members) == 0 {
		return nil
	}
	return a.members[0]
}

func (a *authority) register(ctx actor.Context, info *boursepb.HandlerInfo) {
	if _, dup := a.pids[info.GetId()]; dup {
		ctx.Respond(&boursepb.HandlerAck{Exchange: a.name, Handler: info, Epoch: a.epoch,
			Error: ErrorToWire(a.name, ErrAlreadyConnected)})
		return
	}
	oldLeader := a.leader()
	info = proto.Clone(info).(*boursepb.HandlerInfo)
	if info.GetSeq() == 0 {
		info.Seq = a.nextSeq
	}
	if info.GetSeq() >= a.nextSeq {
		a.nextSeq = info.GetSeq() + 1
	}
	pid := toPID(info.GetPid())
	a.pids[info.GetId()] = pid
	i := sort.Search(len(a.members), func(i int) bool { return a.members[i].GetSeq() > info.GetSeq() })
	a.members = append(a.members, nil)
	copy(a.members[i+1:], a.members[i:])
	a.members[i] = info
	a.changed(ctx)

	// The newcomer learns who leads and who is there; the others learn of it.
	leader := a.leader()
	if oldLeader == nil || oldLeader.GetId() != leader.GetId() {
		a.tellAll(ctx, a.leaderMsg(), "")
	} else {
		ctx.Send(pid, a.leaderMsg())
		a.tellAll(ctx, &boursepb.SlaveUp{Exchange: a.name, Handler: info, Epoch: a.epoch}, pidKey(pid))
	}
	a.log.Debug("bourse: handler connected", slog.String("id", info.GetId()), slog.Uint64("seq", info.GetSeq()),
		slog.String("leader", leader.GetId()), slog.Uint64("epoch", a.epoch))
	ctx.Respond(&boursepb.HandlerAck{Exchange: a.name, Handler: info, Epoch: a.epoch})
}

func (a *authority) unregister(ctx actor.Context, id, reason string) {
	pid, ok := a.pids[id]
	if !ok {
		return
	}
	wasLeader := len(a.members) > 0 && a.members[0].GetId() == id
	var gone *boursepb.HandlerInfo
	for i, m := range a.members {
		if m.GetId() == id {
			gone = m
			a.members = append(a.members[:i], a.members[i+1:]...)
			break
		}
	}
	delete(a.pids, id)
	a.changed(ctx)
	down := &boursepb.SlaveDown{Exchange: a.name, Handler: gone, Epoch: a.epoch, Reason: reason}
	a.tellAll(ctx, down, "")
	if reason != "terminated" {
		// A handler that left alive hears of its own departure, so a leader
		// that disconnects knows at once that it no longer leads.
		ctx.Send(pid, down)
	}
	if wasLeader && len(a.members) > 0 {
		a.tellAll(ctx, a.leaderMsg(), "")
	}
	a.log.Debug("bourse: handler disconnected", slog.String("id", id), slog.String("reason", reason),
		slog.Bool("was_leader", wasLeader), slog.Uint64("epoch", a.epoch))
	if ctx.Sender() != nil {
		ctx.Respond(&boursepb.HandlerAck{Exchange: a.name, Handler: gone, Epoch: a.epoch})
	}
}

func (a *authority) leaderMsg() *boursepb.Leader {
	return &boursepb.Leader{Exchange: a.name, Leader: a.leader(), Handlers: append([]*boursepb.HandlerInfo(nil), a.members...), Epoch: a.epoch}
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

// changed bumps the epoch and pushes the new routing table to every point of
// presence.
func (a *authority) changed(ctx actor.Context) {
	a.epoch++
	rt := a.routingTable()
	for _, pop := range a.pops {
		ctx.Send(pop, rt)
	}
}

func (a *authority) routingTable() *boursepb.RoutingTable {
	rt := &boursepb.RoutingTable{Exchange: a.name, Epoch: a.epoch, Handlers: append([]*boursepb.HandlerInfo(nil), a.members...)}
	nodes := make([]string, 0, len(a.nodes))
	for n := range a.nodes {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		ns := a.nodes[n]
		np := &boursepb.NodePatterns{Node: n, Pop: ns.pop}
		for p := range ns.patterns {
			np.Patterns = append(np.Patterns, p)
		}
		sort.Strings(np.Patterns)
		rt.Subscriptions = append(rt.Subscriptions, np)
	}
	return rt
}
