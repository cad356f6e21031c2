package exchange

import (
	boursepb "github.com/bourse-go/bourse/proto"
)

// LeaderChange is a change of a req-resp exchange's leader as this node's
// point of presence knows it: the leader requests are routed to (see
// Hub.Leader).
type LeaderChange struct {
	// Exchange is the exchange's name.
	Exchange string
	// Leader is the new leader's connection, nil when the exchange has no
	// leader this node may route to (nobody is connected, none is appointed
	// yet, the leader's node went away, or this node has no quorum).
	Leader *boursepb.HandlerInfo
	// Term is the term of the authority that appointed Leader: a fencing
	// token that increases with every new authority. 0 when Leader is nil.
	Term uint64
}

// ObserveLeader calls fn with the current leader of req-resp exchange name
// (a LeaderChange with a nil Leader when there is none), then with every
// change of leader or of its term, in order, until the returned stop
// function is called. A change of leader is one of the leader's connection
// (including to and from none) or, with a leader, of its term.
//
// fn runs on the goroutine that changed the routing table (the point of
// presence's actor, or the cluster layer's while it applies a new view),
// with the table's lock held: it must return at once, never block, and
// never call the Hub. Calls never overlap. After stop returns fn is not
// called again; stop must not be called from fn, and calling it twice does
// nothing.
func (h *Hub) ObserveLeader(name string, fn func(LeaderChange)) (stop func(), err error) {
	p, err := h.lookup(name, ReqResp)
	if err != nil {
		return nil, err
	}
	o := &observer{fn: fn}
	p.tableMu.Lock()
	fn(leaderChange(name, p.table.Load()))
	p.observers = append(p.observers, o)
	p.tableMu.Unlock()
	return func() {
		p.tableMu.Lock()
		defer p.tableMu.Unlock()
		for i, x := range p.observers {
			if x == o {
				p.observers = append(p.observers[:i:i], p.observers[i+1:]...)
				return
			}
		}
	}, nil
}

// observer is one ObserveLeader registration (a pointer, so that stop
// finds its own among equal functions).
type observer struct {
	fn func(LeaderChange)
}

// storeTable makes t the table the data path routes with, and tells the
// leader's observers when the leader or its term changed (with tableMu
// held).
func (p *point) storeTable(t *table) {
	p.prob.attach(t)
	prev := p.table.Swap(t)
	if prev.leader == t.leader && (t.leader == "" || prev.term == t.term) {
		return
	}
	p.leaderChanges.Add(1)
	if len(p.observers) == 0 {
		return
	}
	c := leaderChange(p.spec.Name, t)
	for _, o := range p.observers {
		o.fn(c)
	}
}

func leaderChange(name string, t *table) LeaderChange {
	if t.leader == "" {
		return LeaderChange{Exchange: name}
	}
	return LeaderChange{Exchange: name, Leader: t.all.infos[0], Term: t.term}
}
