// Command bench measures bourse the way seed 002 measured its Erlang broker
// (R27): request-response cycles per second, sequential and parallel, on one
// node and across three, printed in the seed's format with latency
// percentiles and the CPU the run used; pub-sub fan-out over several nodes;
// and protoactor's raw RequestFuture as the reference each run carries.
//
//	go run ./bench                                 # the seed's table, one node
//	go run ./bench -nodes 3                        # caller, authority and handler on three processes
//	go run ./bench -scenario fanout                # 50,000 subscribers over 5 nodes
//	go run ./bench -scenario all -json out.json -chart out.png
//
// Nodes other than the first run in child processes: the same binary started
// again with BOURSE_BENCH_CHILD set (child.go). They take commands on stdin
// and answer on stdout, and exit when their stdin closes, so they never
// outlive the parent, even when it is killed.
//
// bench is a module of its own (bench/go.mod), so that importing bourse
// brings neither gonum/plot nor hdrhistogram; the repository root's go.work
// makes `go run ./bench` work from the root. bench/peers is a separate module
// that runs the same rows against embedded NATS, so that this module does not
// depend on NATS; -compare runs it.
package main
