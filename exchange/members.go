package exchange

import (
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
}

// SetMembers tells the hub which nodes are alive, itself included. The cluster
// layer calls it at start and on every change; a hub that is never told
// works alone. It is safe for concurrent use; calls are applied in order.
func (h *Hub) SetMembers(members []Member) {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Address, b.Address) })
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	prev := h.members
	h.members = ms
	h.setPeers(ms)
	h.applyMembers(prev, ms)
}

// SetJoining holds back the start of authorities on this node while the
// cluster layer is still joining, that is, while the hub may not yet know every
// live node. An authority started then would rebuild its state from only the
// nodes it knows and push a routing table missing the others' handlers;
// held back, the points of presence that ask for it keep their current table
// and ask again (every attachRetry) until the node has joined. Authorities
// already running are not affected. A hub is not joining unless told.
func (h *Hub) SetJoining(joining bool) {
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	h.joining = joining
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
