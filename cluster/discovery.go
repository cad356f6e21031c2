package cluster

import "context"

// Registration is what a node tells discovery about itself.
type Registration struct {
	// Cluster is the cluster's name; nodes of different clusters ignore each
	// other.
	Cluster string
	// Node is the node's name, unique in the cluster.
	Node string
	// Host and Port are where the node's protoactor remote listens.
	Host string
	Port int
}

// Address returns "host:port", the node's protoactor remote address.
func (r Registration) Address() string { return joinHostPort(r.Host, r.Port) }

// Peer is a node that discovery reports.
type Peer struct {
	// Node is the peer's node name ("" when discovery does not know it, as
	// with a static list of addresses).
	Node string
	// Address is the peer's protoactor remote address, "host:port".
	Address string
}

// Discovery finds the peers of a node. It only says who may exist: whether a
// peer is alive is decided by the node's own heartbeats.
type Discovery interface {
	// Start registers self and begins reporting peers: update is called with
	// the full list of peers (self may be included; the node ignores it)
	// whenever it changes, at least once soon after Start. update is never
	// called concurrently with itself, nor after Stop returns. Start returns
	// an error when discovery cannot begin (for Consul: no agent reachable).
	Start(ctx context.Context, self Registration, update func(peers []Peer)) error
	// Stop deregisters the node and stops reporting, waiting for every
	// goroutine Start began, or for ctx. It is idempotent.
	Stop(ctx context.Context) error
}
