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
//
// A Discovery serves one node once: the node calls Start, then Stop. The
// package cluster/discoverytest checks an implementation against this
// contract; cluster/static and cluster/consul pass it.
type Discovery interface {
	// Start registers self and begins reporting peers. It calls update with
	// the full list of peers, never a difference: at least once soon after
	// Start returns nil (the first call may come before Start returns, even
	// from Start's own goroutine), and again whenever the list changes. A
	// peer missing from a list is no longer listed. Self may be among the
	// peers (the node ignores it); each Address is "host:port", and Node is
	// the peer's name or "" when discovery does not know it.
	//
	// update is never called concurrently with itself, and no call starts
	// after Stop has returned. It may block (Stop then waits for it, see
	// Stop) and owns the slice it is given: the Discovery does not use it
	// again.
	//
	// Start returns an error when discovery cannot begin (for Consul: no
	// agent reachable); it has then called update never and left nothing
	// running. It also fails on a Discovery that was started before, whether
	// it still runs or was stopped, and after Stop: a Discovery is not
	// restarted. Whether Start may be retried after it failed is up to the
	// implementation.
	Start(ctx context.Context, self Registration, update func(peers []Peer)) error
	// Stop deregisters the node and stops reporting: it waits for a call of
	// update in progress to return and for every goroutine Start began, or
	// for ctx. When it returns nil, update is not running and will not be
	// called again. When ctx ends first, it returns an error wrapping ctx's
	// error, a call of update in progress may still be running (none
	// starts), and a later Stop finishes the job.
	//
	// Stop is idempotent: once it has returned without ctx ending, later
	// calls return the same result. Stop before Start, or after a failed
	// Start, returns nil.
	Stop(ctx context.Context) error
}
