// Package status is a node's status page and the JSON endpoints behind it,
// as RabbitMQ's management UI and NATS's monitoring port give their users:
// the members with their incarnation and liveness, each exchange with its
// authority's node, term, epoch, leader, handlers and subscriptions per
// node, the rates and latencies of its calls, and the data link per peer.
//
// Listen serves them on one address (cluster.Config.StatusListen, YAML
// status.listen). The page is one embedded file (page.html: HTML, CSS and
// JavaScript, no external asset) that polls PathStatus every second. A
// sampler goroutine reads the counters every Config.Interval and keeps the
// last two samples, from which the rates and latencies are computed; the
// rest is read when asked. Nothing here blocks the data path: every read is
// one of the broker's non-blocking inspection calls.
//
// The package knows the node through two small interfaces, Cluster and
// Broker (*actors.Broker is one), and the calls' durations through Calls
// (*metrics.Instruments is one), so that package cluster wires it without
// an import cycle. docs/status.md documents the endpoints and their fields.
package status
