// Package conformance is the test suite every strategy, built-in or a user's
// own, is expected to pass. A strategy declares what it promises in Features;
// Run checks what every strategy must do and then each promise:
//
//	func TestMyStrategy(t *testing.T) {
//		conformance.Run(t, "vip-first", strategies.Fun(vipFirst), nil,
//			conformance.Features{Deterministic: true, MayRedirect: true})
//	}
//
// Run it under -race: one of its tests picks from many goroutines while new
// Pickers are built.
package conformance
