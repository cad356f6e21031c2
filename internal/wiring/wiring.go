// Package wiring is the cluster layer's hold on a node's exchange layer: the
// calls that tell a hub which nodes live (SetView), hold back authorities
// while the node joins (SetJoining), and read where the hub's data link
// listens and where authorities are placed. Package exchange implements Hub
// and registers it on its actor system; package cluster finds it there with
// HubOf. Service authors never see it: package actors hands out no hub.
//
// Dependencies point one way: wiring imports no bourse package, exchange and
// cluster import it.
package wiring

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/extensions"
)

// Member is one live node of a cluster, as the cluster layer reports it.
type Member struct {
	// Node is the node's name (the Node of its hub's configuration).
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
	// only after a majority of them confirmed its term (see the exchange
	// configuration's LeaseDuration). Empty means the live members.
	Cluster []string
	// Restarted reports that the cluster knew another incarnation of this
	// node at its address: what that process confirmed for leases was lost
	// with it, so this one confirms no lease term for one lease wait.
	Restarted bool
}

// Hub is what the cluster layer drives on a node's exchange layer. Its
// methods are safe for concurrent use.
type Hub interface {
	// SetView tells the hub the cluster layer's view. The cluster layer
	// calls it at start and on every change, from one goroutine. The hub
	// applies it before returning: every point of presence stops routing to
	// handlers and subscribers on nodes that are not members (without
	// waiting for the authority's next table), requests waiting on them fail
	// with ErrNodeDown, and nothing more is sent to them. A hub that is never
	// told works alone.
	SetView(v View)
	// SetJoining holds back the start of authorities on this node while the
	// cluster layer is still joining, that is, while the hub may not yet know
	// every live node. An authority started then would rebuild its state
	// from only the nodes it knows and push a routing table missing the
	// others' handlers; held back, the points of presence that ask for it
	// keep their current table and ask again until the node has joined.
	// Authorities already running are not affected. A hub is not joining
	// unless told.
	SetJoining(joining bool)
	// DataAddress returns the address the hub's data link listens on (""
	// without one). The cluster layer tells the other nodes (Member.Data).
	DataAddress() string
	// Members returns the live nodes the hub was last told of, sorted by
	// address.
	Members() []Member
	// Owner returns the address of the node whose authority runs exchange
	// name under the current view (rendezvous hashing over the live nodes).
	Owner(name string) string
}

// Extension is the protoactor extension a hub registers on its actor system
// (one hub per actor system), as protoactor's own remote does.
type Extension interface {
	extensions.Extension
	Hub
}

// ExtensionID identifies the hub's extension among an actor system's.
var ExtensionID = extensions.NextExtensionID()

// HubOf returns the hub running on system, nil when none was started there.
func HubOf(system *actor.ActorSystem) Hub {
	if ext, ok := system.Extensions.Get(ExtensionID).(Extension); ok {
		return ext
	}
	return nil
}
