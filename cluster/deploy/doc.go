// Package deploy describes services the cluster places on its nodes, and
// where they go: a Spec (which service, on which exchange, of which kind, in
// which mode, on which nodes), the Kinds registry of service constructors
// that a Spec names (as exchanges name strategies), and Place, the
// deterministic placement every node computes alike from the same spec and
// the same members, with no coordinator round trip.
//
// Modes: ModeNodeSingleton runs one instance on every eligible node,
// ModeClusterSingleton one in the cluster, ModeReplicas Total instances with
// at most MaxPerNode on a node. A Selector (data, not a closure, so that
// every node evaluates it identically) picks the eligible nodes by their
// labels (cluster.Config.Labels, carried by the heartbeats; the syntax is
// that of Kubernetes labels, see CheckLabelKey).
//
// The runtime is cluster.Node's: Deploy, Apply, Await, Undeploy,
// Deployments, Placements and WatchDeploy (docs/deploy.md). This package
// holds what it speaks: the Spec, the Kinds, Place, and what the runtime
// reports (Running, Event, and the typed errors Error and NodeError).
//
// Dependencies: deploy imports actors (a kind builds what Broker.Serve
// takes) and errs, never cluster. Package cluster imports deploy (the
// label syntax and the runtime), so the runtime lives on cluster.Node
// without a cycle.
package deploy
