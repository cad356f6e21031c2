// Package discoverytest checks an implementation of cluster.Discovery
// against the contract written on the interface, as strategies/conformance
// checks strategies and testing/fstest checks file systems: every report is
// a full, well-formed list of the cluster's own nodes; a node sees the others
// of its cluster, never another cluster's; update is never called
// concurrently, nor after Stop returns; Stop waits for what Start began,
// honours its context and is idempotent; a Discovery starts once; a failed
// Start leaves nothing behind.
//
// Call Run from a test of the implementation's package:
//
//	func TestConformance(t *testing.T) {
//		discoverytest.Run(t, "static", discoverytest.Harness{
//			New: func(t *testing.T, self cluster.Registration, all []cluster.Registration) cluster.Discovery {
//				return static.New(discoverytest.Addresses(all)...)
//			},
//		}, discoverytest.Features{})
//	}
//
// Features declares what an implementation promises beyond the contract
// (Consul forgets a stopped node; a static list does not). Run checks that no
// goroutine outlives Stop, so it must not run in parallel with other tests
// of the package.
package discoverytest
