package actors

// What a service may ask the broker about its exchanges, as this node knows
// them. None of these calls blocks.

// Node returns the broker's node name (WithNode, or cluster.Config.Node).
func (b *Broker) Node() string { return b.hub.Node() }

// Exchanges returns the specs of the exchanges declared on this node.
func (b *Broker) Exchanges() []Spec { return b.hub.Exchanges() }

// Leader returns the current leader of req-resp exchange name, as this
// node's routing table names it, with the term of the authority that
// appointed it (a fencing token that increases with every new authority).
// The error wraps ErrNoHandlers when nobody is connected, ErrNoLeader when no
// leader is appointed that this node may route to (none yet, its node went
// away, or this node has no quorum), ErrUnknownExchange or ErrWrongKind. To
// follow the leader as it changes, use WatchLeader.
func (b *Broker) Leader(name string) (*HandlerInfo, uint64, error) { return b.hub.Leader(name) }

// Handlers returns the handler connections of req-resp exchange name, on
// every node, as this node's routing table lists them: the leader first when
// there is one, then by seniority. Errors: ErrUnknownExchange, ErrWrongKind.
func (b *Broker) Handlers(name string) ([]*HandlerInfo, error) { return b.hub.Handlers(name) }

// Subscriptions returns the subscriptions of pub-sub exchange name aggregated
// per node: each node once, with each distinct pattern once however many of
// its subscribers share it, as this node last heard from the exchange's
// authority. A publication goes once to each other node with a matching
// pattern. Errors: ErrUnknownExchange, ErrWrongKind.
func (b *Broker) Subscriptions(name string) ([]*NodePatterns, error) {
	return b.hub.Subscriptions(name)
}

// Stats returns the counters of exchange name on this node. Error:
// ErrUnknownExchange.
func (b *Broker) Stats(name string) (Stats, error) { return b.hub.Stats(name) }

// LinkStats returns the counters of the data link that carries requests,
// replies and publications between this node and the others (see package
// cluster); ok is false when the node has none (a broker of one process, or
// a cluster node with data_port -1, whose messages go through protoactor
// remote).
func (b *Broker) LinkStats() (s LinkStats, ok bool) { return b.hub.LinkStats() }

// LinkPeers returns the data link's state with each other node it has a
// connection to or from (the connection each way, its error, its counters),
// sorted by data-link address; nil when the node has no link (see
// LinkStats).
func (b *Broker) LinkPeers() []LinkPeerStats { return b.hub.LinkPeers() }
