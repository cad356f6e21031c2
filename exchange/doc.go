// Package exchange implements bourse's exchange points on a protoactor actor
// system: request-response exchanges, whose strategy picks the handler(s) of
// each request, and publish-subscribe exchanges, which route publications to
// subscribers by AMQP-style topic patterns.
//
// Each exchange is split in two planes (docs/architecture.md draws them):
//
//   - The control plane is one authority actor per exchange. It keeps who is
//     connected, appoints the leader (the longest-connected handler; no
//     voting) and renews its lease after a majority of the cluster
//     confirmed its term (lease.go, vote.go; the rules are succession.go),
//     tells handlers Leader, SlaveUp and SlaveDown, aggregates subscriptions
//     per node, and pushes a routing table, with its term, to every point
//     of presence after each change. docs/guarantees.md says what holds
//     under kill -9, freezes and partitions.
//   - The data plane never goes through the authority. Each node has one
//     point of presence per exchange holding the pushed table; a caller's
//     request is routed on the caller's goroutine, straight to the chosen
//     handler, and the handler's reply goes straight back to the caller. A
//     publication is matched against the node's subscriptions and copied to
//     each local subscriber, in publication order. Between nodes, the data
//     plane travels on the hub's data link (Config.DataAddr: one framed TCP
//     connection per pair of nodes), the control plane on protoactor remote.
//
// A Hub is the package's handle on one actor system. It holds no global state:
// several hubs may live in one process, and Stop leaves no goroutine behind.
package exchange
