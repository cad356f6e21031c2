package exchange

import (
	"fmt"
	"hash/fnv"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
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

// authorityFor returns the local authority of exchange name, starting it when
// this node owns the exchange and has none yet; nil when another node owns it
// or the node is still joining (see setJoining; the point of presence that
// asked will retry).
func (h *Hub) authorityFor(name string) *actor.PID {
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	if h.stopped.Load() {
		return nil
	}
	if pid := h.auths[name]; pid != nil {
		return pid
	}
	if h.joining {
		return nil
	}
	if h.ownerOf(name, h.members) != h.address() {
		return nil
	}
	h.authSeq++
	live := h.liveAddresses(h.members)
	quorum, dead, voters := h.quorum.Load(), h.dead, h.voters
	pid, err := h.root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return newAuthority(h, name, h.address(), live, quorum, dead, voters, h.log)
	}), fmt.Sprintf("bourse$auth$%s$%d", name, h.authSeq))
	if err != nil {
		h.log.Error("bourse: cannot start authority", slog.String("exchange", name), slog.Any("error", err))
		return nil
	}
	h.auths[name] = pid
	return pid
}

// holdAttach keeps an Attach that came while this node was joining, for the
// authority that setJoining(false) starts: the point of presence that sent
// it would otherwise wait for its next retry (attachRetry), and a leader's
// lease could lapse meanwhile. Attaches for exchanges this node does not
// own are dropped, as before.
func (h *Hub) holdAttach(name string, msg any) {
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	if !h.joining || h.stopped.Load() || h.ownerOf(name, h.members) != h.address() {
		return
	}
	if h.held == nil {
		h.held = map[string][]any{}
	}
	if len(h.held[name]) < 1024 {
		h.held[name] = append(h.held[name], msg)
	}
}
