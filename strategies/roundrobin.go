package strategies

import "sync/atomic"

// RoundRobin returns the "round-robin" strategy: members take requests in turn
// (R7). Picking is one atomic increment; it never locks.
//
// The turn counter belongs to the Strategy, not to each Picker, so that a
// membership change continues the rotation instead of restarting it at
// members[0]: under frequent churn a per-Picker counter would send a
// disproportionate share of requests to the oldest members.
func RoundRobin() Strategy { return &roundRobin{} }

func roundRobinFactory(p Params) (Strategy, error) {
	if err := checkKeys(NameRoundRobin, p); err != nil {
		return nil, err
	}
	return RoundRobin(), nil
}

type roundRobin struct {
	next atomic.Uint64
}

// Build may run while Pickers it returned earlier are picking: they share
// only the atomic counter.
func (s *roundRobin) Build(members []Member) Picker {
	if len(members) == 0 {
		return noHandlers{}
	}
	return &roundRobinPicker{next: &s.next, n: uint64(len(members))}
}

type roundRobinPicker struct {
	next *atomic.Uint64
	n    uint64
}

func (p *roundRobinPicker) Pick(Request) (Decision, error) {
	// Add(1)-1 hands out 0, 1, 2, ... so the first request after creation
	// goes to members[0]; wrap-around at 2^64 only shifts the rotation.
	i := p.next.Add(1) - 1
	return Decision{Target: int(i % p.n)}, nil
}

// PickAvoiding takes the turn and passes it on to the next member that is
// not avoided.
func (p *roundRobinPicker) PickAvoiding(_ Request, avoid func(int) bool) (Decision, error) {
	i := p.next.Add(1) - 1
	for k := uint64(0); k < p.n; k++ {
		if t := int((i + k) % p.n); !avoid(t) {
			return Decision{Target: t}, nil
		}
	}
	return Decision{Target: int(i % p.n)}, nil // every one avoided: the exchange never asks then
}

var (
	_ Strategy = (*roundRobin)(nil)
	_ Picker   = (*roundRobinPicker)(nil)
	_ Avoider  = (*roundRobinPicker)(nil)
)
