// Package cluster runs bourse across processes: a Node is one actor system
// with protoactor remote, a membership of live nodes kept by heartbeats and
// remote's endpoint events, and a Broker whose exchanges span every node.
//
// Discovery tells a node which peers may exist. It is an interface with two
// implementations in leaf packages: cluster/static (a fixed list of peer
// addresses, for one host or a LAN; needs no external service) and
// cluster/consul (a Consul agent, for production). Nothing outside those
// packages imports the Consul client.
package cluster
