// Package consul is a cluster.Discovery backed by a Consul agent, for
// production clusters whose nodes come and go.
//
// Each node registers itself with its local agent as one instance of a
// service named after the cluster (ID "<cluster>/<node>", meta node=<node>,
// the node's protoactor remote host and port), with a TTL check that the node
// keeps passing every RefreshInterval. A node that dies, hangs or loses its
// agent stops passing: after TTL its check goes critical, it drops out of the
// peers every other node sees, and after DeregisterAfter Consul removes it.
// Peers are watched with blocking queries on the service's passing instances,
// so a change reaches every node within about one round trip.
//
// Discovery only says who may exist; whether a peer is alive is still decided
// by the node's own heartbeats.
//
// Config.Validate, New and Start report bad configuration as an
// *errs.FieldError (ConfigError is its older name) naming the field
// ("consul.Config.TTL", "cluster.Registration.Port"); it wraps
// errs.ErrInvalid, as every bourse configuration error does. The agent's
// failures wrap ErrUnavailable.
//
// This is a leaf package: nothing else in bourse imports the Consul client.
// Integration tests run against a real agent: .ci/consul.sh start, then
// BOURSE_CONSUL_ADDR=127.0.0.1:18500 go test ./cluster/consul/.
package consul
