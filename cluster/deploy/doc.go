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
// reconciles what runs with what Place says; there is no Deploy or
// Undeploy call yet. Place is the pure function that runtime will call.
//
// Dependencies: deploy never imports cluster; the cluster
// package imports it (for label syntax now, for the runtime later), so the
// runtime can live on cluster.Node without a cycle.
package deploy
