package status

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/bourse-go/bourse/exchange"
)

// timeFormat is the documents' time format: RFC 3339 with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// document is PathStatus.
func (s *Server) document() Document {
	now := time.Now()
	members := s.memberDocs(now)
	return Document{
		Time:      now.UTC().Format(timeFormat),
		Node:      s.node(),
		Members:   members,
		Exchanges: s.exchanges(members),
		Link:      s.link(members),
	}
}

func (s *Server) node() NodeDoc {
	me := s.cfg.Cluster.Self()
	return NodeDoc{
		Name: me.Node, Address: me.Address, Data: me.Data, Incarnation: me.Incarnation,
		Quorum:     s.cfg.Cluster.HasQuorum(),
		IntervalMS: float64(s.cfg.Interval) / float64(time.Millisecond),
		UptimeS:    time.Since(s.started).Seconds(),
	}
}

// memberLog remembers the members the server has seen, so that one that
// went down is shown as down (Cluster.Members lists the live ones only).
type memberLog struct {
	mu    sync.Mutex
	known map[string]*MemberDoc // by address
	since map[string]time.Time
}

// maxDown bounds how many members that went down the log keeps (the
// oldest go first).
const maxDown = 64

// memberDocs merges the live set into the log and returns every member it
// knows, the live ones first, each group sorted by node then address.
func (s *Server) memberDocs(now time.Time) []MemberDoc {
	self := s.cfg.Cluster.Self()
	live := s.cfg.Cluster.Members()
	l := &s.members
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.known == nil {
		l.known, l.since = map[string]*MemberDoc{}, map[string]time.Time{}
	}
	alive := make(map[string]bool, len(live))
	for _, m := range live {
		alive[m.Address] = true
		k := l.known[m.Address]
		if k == nil || !k.Alive || k.Incarnation != m.Incarnation || k.Node != m.Node {
			l.known[m.Address] = &MemberDoc{Node: m.Node, Address: m.Address, Data: m.Data, Incarnation: m.Incarnation,
				Labels: maps.Clone(m.Labels), Self: m.Address == self.Address && m.Incarnation == self.Incarnation, Alive: true}
			l.since[m.Address] = now
		}
	}
	var down []string
	for addr, k := range l.known {
		if alive[addr] {
			continue
		}
		if k.Alive {
			k.Alive = false
			l.since[addr] = now
		}
		down = append(down, addr)
	}
	if len(down) > maxDown {
		slices.SortFunc(down, func(a, b string) int { return l.since[a].Compare(l.since[b]) })
		for _, addr := range down[:len(down)-maxDown] {
			delete(l.known, addr)
			delete(l.since, addr)
		}
	}
	out := make([]MemberDoc, 0, len(l.known))
	for addr, k := range l.known {
		d := *k
		d.Labels = maps.Clone(k.Labels)
		d.Since = l.since[addr].UTC().Format(timeFormat)
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b MemberDoc) int {
		if a.Alive != b.Alive {
			if a.Alive {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Address, b.Address))
	})
	return out
}

// nodeAt returns the name of the member at remote address addr, or "".
func nodeAt(members []MemberDoc, addr string) string {
	for _, m := range members {
		if m.Address == addr {
			return m.Node
		}
	}
	return ""
}

// nodeAtData returns the name of the member whose data link is at addr,
// the live one first, or "".
func nodeAtData(members []MemberDoc, addr string) string {
	for _, m := range members {
		if m.Data == addr && addr != "" {
			return m.Node
		}
	}
	return ""
}

// exchanges returns every exchange declared on this node, sorted by name.
func (s *Server) exchanges(members []MemberDoc) []ExchangeDoc {
	specs := s.cfg.Broker.Exchanges()
	slices.SortFunc(specs, func(a, b exchange.Spec) int { return cmp.Compare(a.Name, b.Name) })
	out := make([]ExchangeDoc, 0, len(specs))
	for _, sp := range specs {
		out = append(out, s.exchange(sp, members))
	}
	return out
}

// exchange reads one exchange. An exchange undeclared meanwhile reads as
// empty.
func (s *Server) exchange(sp exchange.Spec, members []MemberDoc) ExchangeDoc {
	b := s.cfg.Broker
	owner := s.cfg.Cluster.Owner(sp.Name)
	d := ExchangeDoc{
		Name: sp.Name, Kind: sp.Kind.String(), Strategy: sp.Strategy,
		Authority:       NodeRef{Node: nodeAt(members, owner), Address: owner},
		Handlers:        []HandlerDoc{},
		HandlersPerNode: map[string]int{},
		Subscriptions:   []NodePatternsDoc{},
		Latency:         map[string]LatencyDoc{},
	}
	if sp.Kind == exchange.ReqResp && d.Strategy == "" && sp.Impl == nil {
		d.Strategy = exchange.DefaultStrategy
	}
	if st, err := b.Stats(sp.Name); err == nil {
		d.Epoch = st.Epoch
		d.Stats = StatsDoc{Published: st.Published, Delivered: st.Delivered, RemoteSent: st.RemoteSent,
			RemoteDropped: st.RemoteDropped, Received: st.Received, Expired: st.Expired, Unrouted: st.Unrouted,
			LeaderChanges: st.LeaderChanges, Ejections: st.Health.Ejections}
	}
	switch sp.Kind {
	case exchange.ReqResp:
		leader, term, err := b.Leader(sp.Name)
		d.Term = term
		if err != nil {
			d.LeaderError = leaderProblem(err)
		}
		hs, _ := b.Handlers(sp.Name)
		for _, h := range hs {
			hd := HandlerDoc{ID: h.GetId(), Node: h.GetNode(), ServiceTag: h.GetServiceTag(), ConnTag: h.GetConnTag(),
				Seq: h.GetSeq(), Leader: leader != nil && h.GetId() == leader.GetId()}
			d.Handlers = append(d.Handlers, hd)
			d.HandlersPerNode[hd.Node]++
			if hd.Leader {
				l := hd
				d.Leader = &l
			}
		}
		if leader != nil && d.Leader == nil { // the table lists it elsewhere: name it all the same
			d.Leader = &HandlerDoc{ID: leader.GetId(), Node: leader.GetNode(), ServiceTag: leader.GetServiceTag(),
				ConnTag: leader.GetConnTag(), Seq: leader.GetSeq(), Leader: true}
		}
	case exchange.PubSub:
		nps, _ := b.Subscriptions(sp.Name)
		for _, np := range nps {
			d.Subscriptions = append(d.Subscriptions, NodePatternsDoc{Node: np.GetNode(), Patterns: slices.Clone(np.GetPatterns())})
		}
		slices.SortFunc(d.Subscriptions, func(a, b NodePatternsDoc) int { return cmp.Compare(a.Node, b.Node) })
	}
	s.samples.exchange(sp.Name, &d)
	return d
}

// leaderProblem says in a few words why an exchange has no leader.
func leaderProblem(err error) string {
	switch {
	case errors.Is(err, exchange.ErrNoHandlers):
		return "no handlers"
	case errors.Is(err, exchange.ErrNoLeader):
		return "no leader"
	case errors.Is(err, exchange.ErrUnknownExchange):
		return "unknown exchange"
	}
	return err.Error()
}

// link is PathLink.
func (s *Server) link(members []MemberDoc) LinkDoc {
	ls, ok := s.cfg.Broker.LinkStats()
	d := LinkDoc{Present: ok, Peers: []PeerDoc{}}
	if !ok {
		return d
	}
	d.FramesSent, d.BytesSent, d.Writes = ls.FramesSent, ls.BytesSent, ls.Writes
	d.FramesReceived, d.BytesReceived, d.PeerFailures = ls.FramesReceived, ls.BytesReceived, ls.PeerFailures
	for _, p := range s.cfg.Broker.LinkPeers() {
		pd := PeerDoc{Data: p.Peer, Node: nodeAtData(members, p.Peer), Out: p.Out, OutError: p.OutError, Queued: p.Queued,
			FramesSent: p.FramesSent, BytesSent: p.BytesSent, In: p.In, FramesReceived: p.FramesReceived, BytesReceived: p.BytesReceived}
		if !p.RTTAt.IsZero() {
			pd.RTTMS, pd.SmoothedRTTMS = millis(p.RTT), millis(p.SmoothedRTT)
			pd.RTTAt = p.RTTAt.UTC().Format(timeFormat)
		}
		s.samples.peer(p.Peer, &pd)
		d.Peers = append(d.Peers, pd)
	}
	return d
}

// millis returns d in milliseconds, the documents' unit of durations.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
