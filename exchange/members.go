package exchange

import (
	"maps"
	"slices"
	"strings"
)

// Member is one live node of a cluster, as the cluster layer reports it.
type Member struct {
	// Node is the node's name (Config.Node of its hub).
	Node string
	// Address is the node's protoactor remote address, "host:port".
	Address string
	// Data is the address of the node's data link (Hub.DataAddress), "" when
	// it has none. Requests, replies and publications between two nodes go
	// over the data link when both have one, and through remote otherwise.
	Data string
	// Incarnation identifies the node's process (0: unknown). A handler
	// listed with another incarnation of the same address belonged to a
	// process that is gone: no request is routed to it.
	Incarnation uint64
}

// View is the cluster layer's word on the cluster: who lives, whether this
// node is on the side that may appoint leaders, and which of the nodes that
// went away are known to be dead.
type View struct {
	// Members are the live nodes, this one included.
	Members []Member
	// Quorum reports whether this node sees a majority of the cluster. Without
	// it no leader is appointed on this side, the leader this side had stops
	// acting when its lease runs out, and requests to leader-only exchanges
	// fail with ErrNoLeader. When it comes back, the node's authorities are
	// rebuilt (in a new term) from every node's state.
	Quorum bool
	// Dead lists the addresses of nodes known to be gone for good (they left,
	// their port refused a connection, or a newer incarnation took their
	// address), as opposed to silent nodes that may still run. A leader on a
	// dead node is replaced at once; one on a silent node only after its
	// lease has surely run out.
	Dead map[string]bool
	// Cluster lists the addresses of every node that counts for the quorum,
	// live or not, this one included. An authority grants a leader's lease
	// only after a majority of them confirmed its term (see Config's
	// LeaseDuration). Empty means the live members.
	Cluster []string
	// Restarted reports that the cluster knew another incarnation of this
	// node at its address: what that process confirmed for leases was lost
	// with it, so this one confirms no lease term for one lease wait (see
	// Config.LeaseDuration). A node also confirms none while it joins.
	Restarted bool
}

// SetMembers tells the hub which nodes are alive, itself included, as
// SetView with a quorum and every departed node known dead. A hub that is
// never told works alone. It is safe for concurrent use; calls are applied
// in order.
func (h *Hub) SetMembers(members []Member) {
	h.membersMu.Lock()
	dead := map[string]bool{}
	for _, m := range h.members {
		dead[m.Address] = true
	}
	h.membersMu.Unlock()
	for _, m := range members {
		delete(dead, m.Address)
	}
	h.SetView(View{Members: members, Quorum: true, Dead: dead})
}

// SetView tells the hub the cluster layer's view (see View). The cluster
// layer calls it at start and on every change, from one goroutine.
//
// The hub applies it at once, before returning: every point of presence
// stops routing to handlers and subscribers on nodes that are not members
// (without waiting for the authority's next table), requests waiting on them
// fail with ErrNodeDown, and nothing more is sent to them.
func (h *Hub) SetView(v View) {
	ms := slices.Clone(v.Members)
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Address, b.Address) })
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

// HasQuorum reports whether this node was last told it sees a majority of
// the cluster (always true outside a cluster).
func (h *Hub) HasQuorum() bool { return h.quorum.Load() }

// SetJoining holds back the start of authorities on this node while the
// cluster layer is still joining, that is, while the hub may not yet know every
// live node. An authority started then would rebuild its state from only the
// nodes it knows and push a routing table missing the others' handlers;
// held back, the points of presence that ask for it keep their current table
// and ask again (every attachRetry) until the node has joined. Authorities
// already running are not affected. A hub is not joining unless told.
func (h *Hub) SetJoining(joining bool) {
	h.membersMu.Lock()
	h.joining = joining
	h.votes.setJoining(joining)
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

// Members returns the live nodes the hub was last told of.
func (h *Hub) Members() []Member {
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	return slices.Clone(h.members)
}

// Owner returns the address of the node whose authority runs exchange name
// under the current membership (rendezvous hashing over the live nodes).
func (h *Hub) Owner(name string) string {
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
