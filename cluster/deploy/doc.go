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
// What is not built yet (issue 13): the runtime. Nothing here starts an
// instance, replicates a spec across the cluster, watches the membership or
// reconciles what runs with what Place says; there is no Deploy or Undeploy
// call (cluster/config reads a YAML services section into Specs, which
// nothing deploys yet). Place is the pure function that runtime will call; it does not know where instances run now, so keeping
// a cluster singleton where it runs when a node joins, and moving replicas
// one at a time, will be the runtime's part.
//
// Dependencies: deploy imports actors (a kind builds what Broker.Serve
// takes) and errs, never cluster. Package cluster imports deploy (for the
// label syntax now, for the runtime later), so the runtime can live on
// cluster.Node without a cycle.
package deploy
