package deploy

import (
	"slices"
	"strconv"

	"github.com/bourse-go/bourse/errs"
)

// Candidate is a live member as placement sees it: its name and labels
// (cluster.Member's Node and Labels).
type Candidate struct {
	// Node is the node's name, unique among the candidates. Placement
	// hashes it: a node that restarts under the same name gets the same
	// slots back.
	Node string
	// Labels are the node's labels; nil for none.
	Labels map[string]string
}

// Placement is one instance of a service on one node.
type Placement struct {
	// Slot numbers the instance: 0..Total-1 for ModeReplicas, 0 for
	// ModeClusterSingleton. For ModeNodeSingleton the slots number the
	// eligible nodes in the order of their names, so a node's slot changes
	// when a node before it comes or goes: a node singleton is known by its
	// node, not by its slot.
	Slot int
	// Node is the node it runs on.
	Node string
}

// Assignment is where the instances of one service run, as Place computes
// it.
type Assignment struct {
	// Service is the spec's name.
	Service string
	// Placements has one entry per slot, ordered by slot.
	Placements []Placement
}

// On returns the slots placed on node, in order.
func (a Assignment) On(node string) []int {
	var slots []int
	for _, p := range a.Placements {
		if p.Node == node {
			slots = append(slots, p.Slot)
		}
	}
	return slots
}

// Counts returns how many instances each node runs (nodes with none are
// absent).
func (a Assignment) Counts() map[string]int {
	c := map[string]int{}
	for _, p := range a.Placements {
		c[p.Node]++
	}
	return c
}

// Place computes where the instances of spec run on members: the same
// Assignment on every node that calls it with the same spec and the same
// members, in whatever order the members come, so that no node has to ask
// another. The eligible members are those spec.Selector matches.
//
//   - ModeNodeSingleton: one slot per eligible member.
//   - ModeClusterSingleton: one slot, on the eligible member that ranks
//     first for (service, 0).
//   - ModeReplicas: Total slots; slot i goes to the eligible member that
//     ranks first for (service, i) among those holding fewer than
//     MaxPerNode slots (0: no bound), slots taken in order.
//
// The rank is rendezvous (highest random weight) hashing of the service's
// name, the slot and the member's name (FNV-1a 64, then SplitMix64's
// finalizer; ties, which need a 64-bit collision, go to the smaller name).
// It is part of the protocol: every node of a cluster must run the same
// Place. Without a binding MaxPerNode, a member that joins takes only the
// slots for which it ranks first (about Total/N of them) and no other slot
// moves; a member that leaves gives up only its own slots, each to the
// member ranking next. When MaxPerNode binds, a slot that moves frees room
// on its old member, which may then take back a later slot that had to go
// elsewhere: a few more slots move, each between two members it ranks
// high on. A cluster singleton moves to a member that joins and ranks
// first for it; keeping it where it runs is the runtime's job (it knows
// where it runs; Place does not).
//
// Errors: spec.Validate's, an *errs.FieldError for a member without a name
// or named twice, and a *PlaceError wrapping ErrNoEligibleNode (no member
// matches the selector) or ErrCannotFit (MaxPerNode × eligible members <
// Total). Every one wraps errs.ErrInvalid.
//
// Place does not keep members or their labels.
func Place(spec Spec, members []Candidate) (Assignment, error) {
	if err := spec.Validate(); err != nil {
		return Assignment{}, err
	}
	eligible := make([]string, 0, len(members))
	seen := make(map[string]bool, len(members))
	for i, m := range members {
		switch {
		case m.Node == "":
			return Assignment{}, errs.Field("deploy.Place.members["+strconv.Itoa(i)+"].Node", "is empty")
		case seen[m.Node]:
			return Assignment{}, errs.Field("deploy.Place.members["+strconv.Itoa(i)+"].Node", "%q is named twice: node names are unique in a cluster", m.Node)
		}
		seen[m.Node] = true
		if spec.Selector.Matches(m.Labels) {
			eligible = append(eligible, m.Node)
		}
	}
	fail := func(err error) (Assignment, error) {
		return Assignment{}, &PlaceError{Service: spec.Name, Members: len(members), Eligible: len(eligible),
			Total: spec.Total, MaxPerNode: spec.MaxPerNode, Err: err}
	}
	if len(eligible) == 0 {
		return fail(ErrNoEligibleNode)
	}
	slices.Sort(eligible) // the input order must not matter
	a := Assignment{Service: spec.Name}
	switch spec.Mode {
	case ModeNodeSingleton:
		a.Placements = make([]Placement, len(eligible))
		for i, n := range eligible {
			a.Placements[i] = Placement{Slot: i, Node: n}
		}
	case ModeClusterSingleton:
		a.Placements = []Placement{{Slot: 0, Node: eligible[best(spec.Name, 0, eligible, nil, 0)]}}
	case ModeReplicas:
		if spec.MaxPerNode > 0 && spec.MaxPerNode*len(eligible) < spec.Total {
			return fail(ErrCannotFit)
		}
		count := make([]int, len(eligible))
		a.Placements = make([]Placement, spec.Total)
		for slot := range spec.Total {
			i := best(spec.Name, slot, eligible, count, spec.MaxPerNode)
			count[i]++
			a.Placements[slot] = Placement{Slot: slot, Node: eligible[i]}
		}
	}
	return a, nil
}

// best returns the index of the node of nodes (sorted) that ranks first
// for (service, slot) among those with count below limit (limit 0: all).
func best(service string, slot int, nodes []string, count []int, limit int) int {
	bi, bs := -1, uint64(0)
	for i, n := range nodes {
		if limit > 0 && count[i] >= limit {
			continue
		}
		// Ties go to the smaller name: nodes are sorted, so the first.
		if s := Score(service, slot, n); bi < 0 || s > bs {
			bi, bs = i, s
		}
	}
	return bi
}

// Score is the rendezvous weight of node for slot of service: the higher,
// the more the slot wants the node. It is FNV-1a 64 of the service's name,
// the slot (8 bytes, big-endian) and the node's name, each name followed by
// a zero byte, mixed by SplitMix64's finalizer so that names that differ in
// one character spread over the whole range.
func Score(service string, slot int, node string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211 // FNV-1a 64
	h := uint64(offset)
	for i := 0; i < len(service); i++ {
		h = (h ^ uint64(service[i])) * prime
	}
	h *= prime // the zero byte
	for shift := 56; shift >= 0; shift -= 8 {
		h = (h ^ uint64(slot)>>shift&0xff) * prime
	}
	for i := 0; i < len(node); i++ {
		h = (h ^ uint64(node[i])) * prime
	}
	h *= prime // the zero byte
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
