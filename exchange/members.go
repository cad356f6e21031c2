package exchange

import (
	"github.com/asynkron/protoactor-go/extensions"
	"github.com/bourse-go/bourse/internal/wiring"
	"maps"
	"slices"
	"strings"
)

// setView applies the cluster layer's view (see wiring.Hub.SetView).
func (h *Hub) setView(v wiring.View) {
	ms := slices.Clone(v.Members)
	slices.SortFunc(ms, func(a, b wiring.Member) int { return strings.Compare(a.Address, b.Address) })
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	prev := h.members
	h.members = ms
	regained := v.Quorum && !h.quorum.Load()
	h.quorum.Store(v.Quorum)
	h.dead = maps.Clone(v.Dead)
	if v.Restarted {
		h.votes.restarted(h.now())
	}
	h.voters = slices.Clone(v.Cluster)
	if len(h.voters) == 0 {
		h.voters = h.liveAddresses(ms)
	}
	slices.Sort(h.voters)
	h.setPeers(ms)
	h.applyMembers(prev, ms, regained)
}

// setJoining holds back the start of authorities while the node joins (see
// wiring.Hub.SetJoining): the Attaches that come meanwhile are held, and
// handed to their authorities when it has joined.
func (h *Hub) setJoining(joining bool) {
	h.membersMu.Lock()
	h.joining = joining
	held := h.held
	if !joining {
		h.held = nil
	}
	h.membersMu.Unlock()
	if joining {
		return
	}
	for name, msgs := range held {
		if auth := h.authorityFor(name); auth != nil {
			for _, m := range msgs {
				h.root.Send(auth, m)
			}
		}
	}
}

// liveMembers returns the live nodes the hub was last told of.
func (h *Hub) liveMembers() []wiring.Member {
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	return slices.Clone(h.members)
}

// owner returns the address of the node whose authority runs exchange name
// under the current membership (rendezvous hashing over the live nodes).
func (h *Hub) owner(name string) string {
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	return h.ownerOf(name, h.members)
}

// isLive reports whether the node at addr is a member as far as the data
// path knows (every node is, until the hub is told of members).
func (h *Hub) isLive(addr string) bool {
	pm := h.peers.Load()
	return pm.live == nil || pm.live[addr]
}

// wired is the hub as the cluster layer drives it (wiring.Hub), registered
// as an extension of the hub's actor system so that package cluster finds it
// with wiring.HubOf. Its methods are not the Hub's: a service author, who
// holds an actors.Broker, never sees them.
type wired struct{ h *Hub }

var _ wiring.Extension = wired{}

func (w wired) ExtensionID() extensions.ExtensionID { return wiring.ExtensionID }
func (w wired) SetView(v wiring.View)               { w.h.setView(v) }
func (w wired) SetJoining(joining bool)             { w.h.setJoining(joining) }
func (w wired) DataAddress() string                 { return w.h.dataAddress() }
func (w wired) Members() []wiring.Member            { return w.h.liveMembers() }
func (w wired) Owner(name string) string            { return w.h.owner(name) }
