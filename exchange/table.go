package exchange

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/topic"
	boursepb "github.com/bourse-go/bourse/proto"
	"github.com/bourse-go/bourse/strategies"
)

// table is a point of presence's immutable copy of an exchange's routing
// state. The data path loads it atomically and never locks.
type table struct {
	term  uint64
	epoch uint64
	// leader is the appointed leader's connection id, "" when there is none
	// this node may route to: none appointed, or its node is not a member,
	// or this node has no quorum. When set, it is all.infos[0].
	leader string
	all    *group
	byTag  map[string]*group
	// subscriptions are the nodes' aggregated patterns (pub-sub).
	subscriptions []*boursepb.NodePatterns
	// remote are the other nodes with subscriptions, each with a trie of its
	// patterns, so a publication goes once to each node that wants it.
	remote []remoteSubs
}

type remoteSubs struct {
	addr string
	trie *topic.Trie[struct{}]
}

// group is a set of handlers sharing a service tag (or all of them), oldest
// first, with the picker the strategy built for it.
type group struct {
	members []strategies.Member
	infos   []*boursepb.HandlerInfo
	pids    []*actor.PID
	picker  strategies.Picker
	health  []*health // probation standing, by index (probation.go); nil when off
	// loads are the counts of the local handlers, by index (capacity.go);
	// nil for a handler on another node.
	loads []*load
	// view is the load view a load-aware strategy's picker reads; nil for
	// other strategies.
	view *loadView
}

// lookup finds the point of presence of exchange name, of kind kind: the
// first step of every request and publication, whose table it holds.
func (h *Hub) lookup(name string, kind Kind) (*point, error) {
	if h.stopped.Load() {
		return nil, &RequestError{Exchange: name, Err: ErrStopped}
	}
	p := (*h.points.Load())[name]
	if p == nil {
		return nil, &RequestError{Exchange: name, Err: ErrUnknownExchange}
	}
	if p.spec.Kind != kind {
		return nil, &RequestError{Exchange: name, Err: fmt.Errorf("%w: %q is %s, not %s", ErrWrongKind, name, p.spec.Kind, kind)}
	}
	return p, nil
}

var emptyPicker = strategies.PickerFunc(func(strategies.Request) (strategies.Decision, error) {
	return strategies.Decision{}, strategies.ErrNoHandlers
})

func emptyTable() *table {
	return &table{all: &group{picker: emptyPicker}}
}

// buildTable turns a pushed RoutingTable into a table, leaving out the
// handlers and subscribers on nodes that are not live members (live nil: no
// membership known, all are). The appointed leader comes first when it is
// left in and quorum holds. pids reuses the PID values of the previous table
// so that protoactor's per-PID process cache stays warm across rebuilds.
//
// ads, not nil for a strategy that routes by load (strategies.LoadAware),
// are the point's adverts: buildTable keeps one for each handler on another
// node, and gives the picker a view of them and of the local handlers.
func buildTable(rt *boursepb.RoutingTable, strat strategies.Strategy, prev *table, h *Hub, live map[string]bool, quorum bool, ads *adverts) *table {
	t := &table{term: rt.GetTerm(), epoch: rt.GetEpoch()}
	isLive := func(addr string) bool { return live == nil || live[addr] || addr == h.address() }
	for _, np := range rt.GetSubscriptions() {
		addr := np.GetPop().GetAddress()
		if !isLive(addr) {
			continue
		}
		t.subscriptions = append(t.subscriptions, np)
		if addr == h.address() || addr == "" {
			continue // local subscribers are matched against the local trie
		}
		rs := remoteSubs{addr: addr, trie: &topic.Trie[struct{}]{}}
		for _, pat := range np.GetPatterns() {
			if _, err := rs.trie.Add(pat, struct{}{}); err != nil {
				h.log.Warn("bourse: ignoring an invalid pattern from another node", slog.String("exchange", rt.GetExchange()),
					slog.String("node", np.GetNode()), slog.Any("error", err))
			}
		}
		t.remote = append(t.remote, rs)
	}
	known := map[string]*actor.PID{}
	if prev != nil {
		for i, info := range prev.all.infos {
			known[info.GetId()] = prev.all.pids[i]
		}
	}
	infos := make([]*boursepb.HandlerInfo, 0, len(rt.GetHandlers()))
	for _, info := range rt.GetHandlers() {
		if !isLive(info.GetPid().GetAddress()) || h.staleHandler(info) {
			continue
		}
		if quorum && info.GetId() == rt.GetLeader() {
			t.leader = info.GetId()
			infos = append([]*boursepb.HandlerInfo{info}, infos...)
			continue
		}
		infos = append(infos, info)
	}
	byTag := map[string][]int{}
	all := &group{}
	for i, info := range infos {
		pid := known[info.GetId()]
		if pid == nil {
			pid = toPID(info.GetPid())
		}
		all.infos = append(all.infos, info)
		all.pids = append(all.pids, pid)
		all.members = append(all.members, memberOf(info))
		var l *load
		if h.isLocal(pid) {
			l = h.loads.get(info.GetId())
		}
		all.loads = append(all.loads, l)
		if tag := info.GetServiceTag(); tag != "" {
			byTag[tag] = append(byTag[tag], i)
		}
	}
	la, _ := strat.(strategies.LoadAware)
	if la != nil && ads != nil {
		all.view = ads.viewOf(h, all)
	}
	switch {
	case all.view != nil:
		all.picker = la.BuildLoad(all.members, all.view)
	case strat != nil:
		all.picker = strat.Build(all.members)
	default:
		all.picker = emptyPicker
	}
	t.all = all
	if len(byTag) > 0 {
		t.byTag = make(map[string]*group, len(byTag))
		for tag, idx := range byTag {
			g := &group{}
			for _, i := range idx {
				g.infos = append(g.infos, all.infos[i])
				g.pids = append(g.pids, all.pids[i])
				g.members = append(g.members, all.members[i])
				g.loads = append(g.loads, all.loads[i])
			}
			if all.view != nil {
				g.view = all.view.subset(idx)
				g.picker = la.BuildLoad(g.members, g.view)
			} else {
				g.picker = strat.Build(g.members)
			}
			t.byTag[tag] = g
		}
	}
	return t
}

func memberOf(info *boursepb.HandlerInfo) strategies.Member {
	return strategies.Member{
		ID:         info.GetId(),
		ServiceTag: info.GetServiceTag(),
		ConnTag:    info.GetConnTag(),
		Node:       info.GetNode(),
		Seq:        info.GetSeq(),
		Options:    info.GetOptions(),
	}
}

func toPID(p *boursepb.Pid) *actor.PID {
	if p == nil {
		return nil
	}
	return actor.NewPID(p.GetAddress(), p.GetId())
}

func fromPID(p *actor.PID) *boursepb.Pid {
	if p == nil {
		return nil
	}
	return &boursepb.Pid{Address: p.Address, Id: p.Id}
}

func pidKey(p *actor.PID) string { return p.Address + "/" + p.Id }
