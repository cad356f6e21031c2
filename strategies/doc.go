// Package strategies holds the rules by which a request-response exchange picks
// the handler(s) for each request, and the registry that names them for YAML.
//
// A Strategy is built once per exchange (from a Factory and its Params). Each
// time the exchange's membership changes, the exchange calls Build with the new
// members, in seniority order, and swaps in the Picker it returns; the data path
// then calls Picker.Pick for every request, from many goroutines at once. This
// split (after gRPC's balancer/picker) keeps the per-request path free of locks
// and of the control plane.
//
// The built-in strategies, by the names configuration uses (Builtin returns a
// Registry holding them all):
//
//   - "default": every request to every member (Broadcast).
//   - "round-robin": members take requests in turn (RoundRobin).
//   - "consensus": only the leader, members[0] (Consensus).
//   - "consensus-round-robin": the group has a leader, but requests go to all
//     members in turn (ConsensusRoundRobin).
//   - "sticky": a hash of Request.Key pins it to a member, by consistent
//     hashing with bounded loads; parameters load_factor, partitions and
//     vnodes (NewSticky, StickyConfig).
//   - "sticky-fun": sticky with the hash in Params["hash"], a HashFunc
//     (StickyFun).
//   - "fun": the FunFunc in Params["fun"] decides (Fun).
//   - "local-first": a handler on the caller's node while one has free
//     capacity, otherwise one on another node by power of two choices on
//     advertised free capacity; parameter overload, "wait" or "fail"
//     (LocalFirst). It reads the exchange's LoadView (LoadAware).
//
// Users add their own by registering a Factory under a new name.
//
// The package imports no other bourse package, so a user's own strategy depends
// on this package alone. Package strategies/conformance holds the suite every
// strategy, built-in or not, is expected to pass.
package strategies
