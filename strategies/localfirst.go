package strategies

import (
	"math/rand/v2"
	"sync/atomic"
)

// NameLocalFirst names the local-first strategy in configuration.
const NameLocalFirst = "local-first"

// Overload is what local-first does with a request when no handler
// anywhere has free capacity.
type Overload int

const (
	// OverloadWait sends it to the least loaded handler, where it waits in
	// the queue within the caller's deadline (and fails with ErrOverloaded
	// should that queue be full too). The default.
	OverloadWait Overload = iota
	// OverloadFail fails it at once with ErrOverloaded.
	OverloadFail
)

// LocalFirst returns the "local-first" strategy (ZeroMQ's peering brokers:
// local workers first, spill-over by advertised capacity). A request goes to
// a handler on the caller's node while one has free capacity, in turn among
// them; otherwise it spills to the handlers on other nodes, by power of two
// choices on their free capacity as last advertised less what this node
// sent them since (so that many callers do not herd onto one), a handler
// whose advert is too old counting as unknown: behind one known to be free,
// ahead of one known to be full. When nothing has capacity anywhere, what
// happens is overload's choice.
//
// It needs the exchange's view of the load (LoadAware); built without one
// (Build), it sends requests to the members in turn, as round-robin does.
// Picking reads a few atomics and the clock; it never locks.
func LocalFirst(overload Overload) Strategy { return &localFirst{fail: overload == OverloadFail} }

// localFirstFactory reads the parameter "overload": "wait" (the default)
// or "fail".
func localFirstFactory(p Params) (Strategy, error) {
	if err := checkKeys(NameLocalFirst, p, "overload"); err != nil {
		return nil, err
	}
	o := OverloadWait
	if v, ok := p["overload"]; ok && v != nil {
		switch s, ok := v.(string); {
		case ok && (s == "wait" || s == ""):
		case ok && s == "fail":
			o = OverloadFail
		default:
			return nil, paramError(NameLocalFirst, "overload", "is %v, want \"wait\" or \"fail\"", v)
		}
	}
	return LocalFirst(o), nil
}

type localFirst struct {
	next atomic.Uint64 // the turn among local handlers (and among all, without a view)
	fail bool
}

// Build returns a picker without a view of the load: members in turn.
func (s *localFirst) Build(members []Member) Picker { return s.BuildLoad(members, nil) }

// BuildLoad may run while Pickers it returned earlier are picking: they
// share only the atomic turn.
func (s *localFirst) BuildLoad(members []Member, load LoadView) Picker {
	if len(members) == 0 {
		return noHandlers{}
	}
	p := &localFirstPicker{s: s, n: len(members), view: load}
	if load != nil {
		for i := range members {
			if load.Local(i) {
				p.local = append(p.local, i)
			} else {
				p.remote = append(p.remote, i)
			}
		}
	}
	return p
}

type localFirstPicker struct {
	s     *localFirst
	n     int
	view  LoadView // nil: no view, members in turn
	local []int    // members on this node
	// remote are the members on other nodes.
	remote []int
}

// Ranks of a member: higher is better.
const (
	rankAvoided = -1
	rankFull    = 0 // known, no free capacity
	rankUnknown = 1 // no advert young enough
	rankFree    = 2 // known free capacity
)

func (p *localFirstPicker) rank(i int, avoid func(int) bool) (rank, free int) {
	if avoid != nil && avoid(i) {
		return rankAvoided, 0
	}
	f, ok := p.view.Free(i)
	switch {
	case !ok:
		return rankUnknown, 0
	case f > 0:
		return rankFree, f
	}
	return rankFull, f
}

func (p *localFirstPicker) Pick(Request) (Decision, error) { return p.pick(nil) }

// PickAvoiding decides as Pick does among the members not avoided.
func (p *localFirstPicker) PickAvoiding(_ Request, avoid func(int) bool) (Decision, error) {
	return p.pick(avoid)
}

func (p *localFirstPicker) pick(avoid func(int) bool) (Decision, error) {
	turn := p.s.next.Add(1) - 1
	if p.view == nil {
		for k := 0; k < p.n; k++ {
			if t := int((turn + uint64(k)) % uint64(p.n)); avoid == nil || !avoid(t) {
				return Decision{Target: t}, nil
			}
		}
		return Decision{Target: int(turn % uint64(p.n))}, nil
	}
	// 1. A local handler with free capacity, in turn.
	if nl := uint64(len(p.local)); nl > 0 {
		for k := uint64(0); k < nl; k++ {
			i := p.local[(turn+k)%nl]
			if r, _ := p.rank(i, avoid); r == rankFree {
				return Decision{Target: i}, nil
			}
		}
	}
	// 2. Spill: the better of two handlers on other nodes, at random.
	if nr := len(p.remote); nr > 0 {
		ai := rand.IntN(nr)
		a := p.remote[ai]
		best, br, bf := a, 0, 0
		br, bf = p.rank(a, avoid)
		if nr > 1 {
			b := p.remote[(ai+1+rand.IntN(nr-1))%nr]
			if r, f := p.rank(b, avoid); r > br || r == br && f > bf {
				best, br = b, r
			}
		}
		if br >= rankUnknown {
			return Decision{Target: best}, nil
		}
		// Both full (or avoided): look at all of them, the rare case.
		if i, r, _ := p.best(p.remote, avoid); r >= rankUnknown {
			return Decision{Target: i}, nil
		}
	}
	// 3. No capacity anywhere.
	if p.s.fail {
		return Decision{}, ErrOverloaded
	}
	i, r, f := p.best(p.local, avoid)
	if j, rj, fj := p.best(p.remote, avoid); rj > r || rj == r && fj > f {
		i = j
	}
	if i < 0 {
		i = int(turn % uint64(p.n)) // every one avoided: the exchange never asks then
	}
	return Decision{Target: i}, nil
}

// best returns the member of idx with the highest rank, then the most free
// capacity (the least loaded); -1 when idx is empty.
func (p *localFirstPicker) best(idx []int, avoid func(int) bool) (i, rank, free int) {
	i, rank = -1, rankAvoided
	for _, j := range idx {
		if r, f := p.rank(j, avoid); i < 0 || r > rank || r == rank && f > free {
			i, rank, free = j, r, f
		}
	}
	if rank == rankAvoided {
		return -1, rankAvoided, 0
	}
	return i, rank, free
}

var (
	_ LoadAware = (*localFirst)(nil)
	_ Picker    = (*localFirstPicker)(nil)
	_ Avoider   = (*localFirstPicker)(nil)
)
