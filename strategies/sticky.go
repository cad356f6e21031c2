package strategies

import (
	"cmp"
	"math"
	"slices"
	"sync/atomic"
)

// Defaults and bounds of the sticky strategies' parameters.
const (
	// DefaultLoadFactor is the bound on a member's load relative to the
	// average: no member owns more than 25% more partitions than its fair
	// share. Lower values balance better but move more keys when members
	// come and go; Mirrokni et al. find 1.25 a good trade.
	DefaultLoadFactor = 1.25
	// DefaultPartitions is the number of fixed slices of the key space
	// (2^14, as many as Redis Cluster's hash slots). Each member owns about
	// P/n partitions, and capacity is rounded to whole partitions, so P must
	// be well above the group size for the load bound to be tight: with 16384
	// a group of 1000 still gets 16 partitions each. The table costs 4 bytes
	// per partition (64 KiB) per Build, and Build is O(P + n*vnodes).
	DefaultPartitions = 1 << 14
	// DefaultVNodes is the number of points each member has on the ring.
	// More points give each member a more even share of the ring before the
	// load bound applies, so fewer partitions overflow to a neighbour and
	// fewer move on a membership change. Over 40 random groups of 10, 256
	// points kept the largest share below 1.18 times the average (128 let it
	// reach the 1.25 bound) and moved at most 10.3% of the partitions when an
	// 11th member joined; the ring of n*256 points is sorted once per Build.
	DefaultVNodes = 256

	// MaxPartitions bounds the table at 4 MiB per Build.
	MaxPartitions = 1 << 20
	// MaxVNodes bounds the ring, which Build sorts, at n*1024 points.
	MaxVNodes = 1024
)

// StickyConfig are the parameters of the sticky strategies. A field left at
// zero takes its default. In configuration they are "load_factor",
// "partitions" and "vnodes".
//
// Every node of a cluster must use the same values: they decide which member
// each key belongs to.
type StickyConfig struct {
	// LoadFactor bounds each member's share of partitions to
	// ceil(LoadFactor * Partitions / members). It must be greater than 1.
	LoadFactor float64
	// Partitions is how many fixed slices the key space is cut into, in
	// [1, MaxPartitions]. Any value works; powers of two are customary.
	Partitions int
	// VNodes is how many points each member has on the hash ring, in
	// [1, MaxVNodes].
	VNodes int
}

// DefaultStickyConfig returns the default parameters.
func DefaultStickyConfig() StickyConfig {
	return StickyConfig{LoadFactor: DefaultLoadFactor, Partitions: DefaultPartitions, VNodes: DefaultVNodes}
}

// Validate reports the first field out of range, as an error wrapping
// ErrInvalidParams that names it. Zero fields are valid (they take defaults).
func (c StickyConfig) Validate() error {
	return c.validate(NameSticky)
}

func (c StickyConfig) validate(strategy string) error {
	if c.LoadFactor != 0 && (!(c.LoadFactor > 1) || math.IsInf(c.LoadFactor, 0)) {
		return paramError(strategy, "load_factor", "want a finite number > 1, got %v", c.LoadFactor)
	}
	if c.Partitions != 0 && (c.Partitions < 1 || c.Partitions > MaxPartitions) {
		return paramError(strategy, "partitions", "want an integer in [1, %d], got %d", MaxPartitions, c.Partitions)
	}
	if c.VNodes != 0 && (c.VNodes < 1 || c.VNodes > MaxVNodes) {
		return paramError(strategy, "vnodes", "want an integer in [1, %d], got %d", MaxVNodes, c.VNodes)
	}
	return nil
}

func (c StickyConfig) withDefaults() StickyConfig {
	d := DefaultStickyConfig()
	if c.LoadFactor == 0 {
		c.LoadFactor = d.LoadFactor
	}
	if c.Partitions == 0 {
		c.Partitions = d.Partitions
	}
	if c.VNodes == 0 {
		c.VNodes = d.VNodes
	}
	return c
}

// stickyConfigFromParams reads load_factor, partitions and vnodes.
func stickyConfigFromParams(strategy string, p Params) (StickyConfig, error) {
	var c StickyConfig
	var err error
	if c.LoadFactor, err = floatParam(strategy, p, "load_factor", DefaultLoadFactor); err != nil {
		return c, err
	}
	if c.LoadFactor <= 1 {
		return c, paramError(strategy, "load_factor", "want a finite number > 1, got %v", c.LoadFactor)
	}
	if c.Partitions, err = intParam(strategy, p, "partitions", DefaultPartitions, 1, MaxPartitions); err != nil {
		return c, err
	}
	if c.VNodes, err = intParam(strategy, p, "vnodes", DefaultVNodes, 1, MaxVNodes); err != nil {
		return c, err
	}
	return c, nil
}

// HashFunc hashes a request for the sticky-fun strategy: requests with equal
// hashes go to the same member. It is called on the data path, from many
// goroutines at once, and must be a pure function of the request (the same
// on every node of a cluster). Its result need not be well distributed: it is
// mixed before use, so small integers such as user IDs are fine.
type HashFunc func(Request) uint64

// NewSticky returns a sticky strategy (R10) with parameters cfg. hash, when not
// nil, replaces the hash of Request.Key (that is sticky-fun, R11).
//
// Keys are hashed into cfg.Partitions fixed partitions, and Build hands the
// partitions to members by consistent hashing with bounded loads (Mirrokni,
// Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads", 2018): each
// member has cfg.VNodes points on a hash ring, and each partition, in index
// order, goes to the first member clockwise from the partition's own ring
// position that owns fewer than ceil(LoadFactor * Partitions / n) partitions.
// So no member owns more than LoadFactor times its fair share, and a member
// joining or leaving moves about 1/n of the keys. Pick is one hash and one
// table load.
//
// The assignment depends only on the members' IDs (not on their order or on
// the process), so every node of a cluster computes the same one and a key
// keeps its member across rebuilds while the membership is unchanged.
//
// Without a hash function, a request with an empty Key has nothing to stick
// to: such requests are spread round-robin over the members, so that they do
// not all land on the member that owns the empty string's partition.
func NewSticky(cfg StickyConfig, hash HashFunc) (Strategy, error) {
	name := NameSticky
	if hash != nil {
		name = NameStickyFun
	}
	if err := cfg.validate(name); err != nil {
		return nil, err
	}
	return &sticky{cfg: cfg.withDefaults(), hash: hash}, nil
}

func stickyFactory(p Params) (Strategy, error) {
	if err := checkKeys(NameSticky, p, "load_factor", "partitions", "vnodes"); err != nil {
		return nil, err
	}
	cfg, err := stickyConfigFromParams(NameSticky, p)
	if err != nil {
		return nil, err
	}
	return NewSticky(cfg, nil)
}

type sticky struct {
	cfg  StickyConfig
	hash HashFunc
	// next spreads keyless requests; shared by all Pickers for the same
	// reason as round-robin's counter.
	next atomic.Uint64
}

// Build may run while Pickers it returned earlier are picking: they share
// only the atomic counter. It does not keep members.
func (s *sticky) Build(members []Member) Picker {
	n := len(members)
	if n == 0 {
		return noHandlers{}
	}
	p := &stickyPicker{hash: s.hash, next: &s.next, n: uint64(n)}
	if n > 1 {
		p.owners = assign(members, s.cfg)
	}
	return p
}

type stickyPicker struct {
	hash HashFunc
	next *atomic.Uint64
	n    uint64
	// owners[p] is the index in members of the owner of partition p; nil
	// for a single member, who owns everything.
	owners []int32
}

func (p *stickyPicker) Pick(req Request) (Decision, error) {
	if p.owners == nil {
		return Decision{}, nil
	}
	h, keyed := p.hashOf(req)
	if !keyed {
		i := p.next.Add(1) - 1
		return Decision{Target: int(i % p.n)}, nil
	}
	return Decision{Target: int(p.owners[reduce(h, len(p.owners))])}, nil
}

// hashOf returns req's hash, and false for a request without a key (and
// without a hash function), which goes round-robin.
func (p *stickyPicker) hashOf(req Request) (uint64, bool) {
	switch {
	case p.hash != nil:
		return mix64(p.hash(req)), true
	case req.Key == "":
		return 0, false
	default:
		return hashString(req.Key), true
	}
}

// PickAvoiding sends a key whose owner is avoided to the owner of the next
// partition on the ring that is not, for this call alone: the assignment
// does not change, so the key goes back to its owner once it is no longer
// avoided.
func (p *stickyPicker) PickAvoiding(req Request, avoid func(int) bool) (Decision, error) {
	if p.owners == nil {
		return Decision{}, nil
	}
	h, keyed := p.hashOf(req)
	if !keyed {
		i := p.next.Add(1) - 1
		for k := uint64(0); k < p.n; k++ {
			if t := int((i + k) % p.n); !avoid(t) {
				return Decision{Target: t}, nil
			}
		}
		return Decision{Target: int(i % p.n)}, nil
	}
	part := reduce(h, len(p.owners))
	for k := range len(p.owners) {
		if o := int(p.owners[(part+k)%len(p.owners)]); !avoid(o) {
			return Decision{Target: o}, nil
		}
	}
	// The members not avoided own no partition (few partitions, many
	// members): the first of them, the same for every key.
	for i := range int(p.n) {
		if !avoid(i) {
			return Decision{Target: i}, nil
		}
	}
	return Decision{Target: int(p.owners[part])}, nil
}

var _ Avoider = (*stickyPicker)(nil)

// vnode is one point of a member on the ring.
type vnode struct {
	point  uint64
	member int32 // index in members
}

// assign returns the owner of every partition, as indexes into members, by
// consistent hashing with bounded loads. It requires len(members) > 0.
func assign(members []Member, cfg StickyConfig) []int32 {
	n := len(members)
	ring := make([]vnode, 0, n*cfg.VNodes)
	for i := range members {
		h := hashString(members[i].ID)
		for v := 0; v < cfg.VNodes; v++ {
			ring = append(ring, vnode{point: vnodePoint(h, v), member: int32(i)})
		}
	}
	// Ties (two IDs whose points collide, a 2^-64 event per pair) are broken
	// by ID, never by position in members, so that the ring, and therefore
	// the assignment, is the same whatever order members come in.
	slices.SortFunc(ring, func(a, b vnode) int {
		if c := cmp.Compare(a.point, b.point); c != 0 {
			return c
		}
		if c := cmp.Compare(members[a.member].ID, members[b.member].ID); c != 0 {
			return c
		}
		return cmp.Compare(a.member, b.member)
	})

	parts := cfg.Partitions
	limit := capacity(cfg.LoadFactor, parts, n)
	load := make([]int32, n)
	owners := make([]int32, parts)
	// Partitions are visited in index order, which is also ring order
	// (partition p starts at p*2^64/P), so the first ring point at or after
	// each partition's start only moves forward: one pass over the ring in
	// total, plus the steps over members that are already full.
	j := 0
	for p := 0; p < parts; p++ {
		start := arcStart(p, parts)
		for j < len(ring) && ring[j].point < start {
			j++
		}
		// capacity*n >= P, so some member always has room and this ends.
		for k := j; ; k++ {
			m := ring[k%len(ring)].member
			if load[m] < limit {
				owners[p] = m
				load[m]++
				break
			}
		}
	}
	return owners
}

// capacity is ceil(loadFactor * parts / n), at most parts. Since loadFactor >
// 1, capacity*n >= parts. The explicit float64 conversion rounds the product
// before the division so no platform may fuse the two; with IEEE arithmetic
// every node then computes the same capacity.
func capacity(loadFactor float64, parts, n int) int32 {
	c := math.Ceil(float64(loadFactor*float64(parts)) / float64(n))
	if c >= float64(parts) {
		return int32(parts)
	}
	return int32(c)
}

// StickyFun returns a Factory for the sticky strategy with h in place of the
// hash of Request.Key, for registering under a name of the user's choosing:
//
//	reg.Register("by-user", strategies.StickyFun(byUser))
//
// The factory takes the sticky parameters (load_factor, partitions, vnodes).
func StickyFun(h HashFunc) Factory {
	return func(p Params) (Strategy, error) {
		if h == nil {
			return nil, paramError(NameStickyFun, "hash", "nil HashFunc")
		}
		if err := checkKeys(NameStickyFun, p, "load_factor", "partitions", "vnodes"); err != nil {
			return nil, err
		}
		cfg, err := stickyConfigFromParams(NameStickyFun, p)
		if err != nil {
			return nil, err
		}
		return NewSticky(cfg, h)
	}
}

// stickyFunFactory is the built-in "sticky-fun": it takes its HashFunc from
// Params["hash"], which configuration written in Go can set (YAML cannot
// carry a function; register StickyFun under a name instead).
func stickyFunFactory(p Params) (Strategy, error) {
	var h HashFunc
	switch f := p["hash"].(type) {
	case HashFunc:
		h = f
	case func(Request) uint64:
		h = f
	case nil:
		return nil, paramError(NameStickyFun, "hash", "missing (want a strategies.HashFunc)")
	default:
		return nil, paramError(NameStickyFun, "hash", "want a strategies.HashFunc, got %T", f)
	}
	if h == nil {
		return nil, paramError(NameStickyFun, "hash", "missing (want a strategies.HashFunc)")
	}
	rest := make(Params, len(p))
	for k, v := range p {
		if k != "hash" {
			rest[k] = v
		}
	}
	return StickyFun(h)(rest)
}

var (
	_ Strategy = (*sticky)(nil)
	_ Picker   = (*stickyPicker)(nil)
)
