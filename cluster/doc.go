// Package cluster runs bourse across processes: a Node is one actor system
// with protoactor remote, a membership of live nodes kept by heartbeats and
// remote's endpoint events, and a Broker whose exchanges span every node.
// Requests, replies and publications between nodes take the node's data link
// (Config.DataPort), control messages take remote; Config.TLS secures both.
//
// Discovery tells a node which peers may exist. It is an interface with two
// implementations in leaf packages: cluster/static (a fixed list of peer
// addresses, for one host or a LAN; needs no external service) and
// cluster/consul (a Consul agent, for production). Nothing outside those
// packages imports the Consul client. cluster/discoverytest checks any
// implementation against the contract written on Discovery.
//
// Config.Validate, which Start runs first, reports bad configuration as an
// *errs.FieldError naming the field ("cluster.Config.SuspectAfter") and
// what is wrong with it. It wraps ErrInvalidConfig, which is errs.ErrInvalid:
// the one sentinel of bad configuration in every bourse package, discovery
// back-ends and the YAML loader (cluster/config) included.
package cluster
