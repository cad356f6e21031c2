package exchange

import (
	"hash/fnv"

	"github.com/bourse-go/bourse/internal/wiring"
)

// Placement: each exchange has one authority, on the node that owns the
// exchange's name. The owner is chosen by rendezvous (highest random weight)
// hashing of the name over the live members' addresses: each member scores
// mix64(FNV-1a(name, 0, address)) and the highest score wins. It is a pure
// function of the name and the member list, so every node computes the same
// owner without asking anyone, and a change of membership moves only the
// exchanges owned by the nodes that came or went. Changing the hash changes
// every node's answer at once: placement_test.go pins it.

// ownerOf places exchange name on one live node by rendezvous hashing: every
// node computes the same owner from the same members, and a change of
// membership moves only the exchanges of the nodes that came or went.
func (h *Hub) ownerOf(name string, members []wiring.Member) string {
	if len(members) == 0 {
		return h.address()
	}
	best, bestScore := "", uint64(0)
	for _, m := range members {
		f := fnv.New64a()
		_, _ = f.Write([]byte(name))
		_, _ = f.Write([]byte{0})
		_, _ = f.Write([]byte(m.Address))
		if s := mix64(f.Sum64()); best == "" || s > bestScore {
			best, bestScore = m.Address, s
		}
	}
	return best
}

// mix64 is SplitMix64's finalizer: it spreads FNV's bits so that nearby
// names and addresses do not score alike.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// liveAddresses returns the members' addresses, or this node's alone when
// there are no members (a hub outside a cluster owns every exchange).
func (h *Hub) liveAddresses(members []wiring.Member) []string {
	if len(members) == 0 {
		return []string{h.address()}
	}
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.Address
	}
	return out
}
