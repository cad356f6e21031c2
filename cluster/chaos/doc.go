// Package chaos is bourse's seeded chaos suite: five nodes, each a process in
// a network namespace of its own on one bridge, under request and publication
// load while a seeded schedule kills, freezes and partitions them; it then
// checks the framework's promises (no request waits out its deadline while a
// handler lives, one leader at a time, no publication lost on a healthy path,
// views that agree after healing, no leaks).
//
// It needs root, ip and nft, and is left out of the normal test run by the
// build tag chaos:
//
//	go test -tags chaos -count=1 -timeout 20m -run TestChaos ./cluster/chaos/ -args -chaos.duration=3m [-chaos.seed=N]
//
// The seed is printed first; the same seed gives the same fault schedule.
// Children report to the parent in lines of JSON on stdout, with times from
// CLOCK_MONOTONIC, which all processes of the host share.
package chaos
