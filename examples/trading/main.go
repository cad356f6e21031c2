// Command trading is a small trading backend on a 3-node bourse cluster,
// and a lesson in services the cluster places.
//
// The command starts the cluster itself: it runs its own binary three more
// times as child processes (role node, chosen by the TRADING_ROLE
// environment variable), each a cluster node on a free 127.0.0.1 port with
// static discovery. Every node starts from the same file, trading.yaml
// (config.Parse, config.Start), which declares the exchanges and lists the
// services; the command gives each node its name, peers and venue
// (config.WithOverride). No node serves anything by hand: each registers
// the kinds it can run (kinds.go), and the cluster places
//
//   - the matching engine "engine", a cluster singleton on the consensus
//     exchange "matching": one in the cluster, on one node, moved to
//     another when that node dies, never two at once;
//   - the market data "market-data", a node singleton: one feed on every
//     node with a venue, which publishes that venue's prices
//     "prices.<venue>.<symbol>" on the pub-sub exchange "prices", to which
//     client sessions (-sessions, 2,000 per node by default) subscribe with
//     "prices.*.<symbol>";
//   - the order books "books", 6 replicas, at most 3 on a node, on the
//     sticky exchange "books": each symbol's orders reach one book from
//     every node, and each book sends them to the engine;
//   - the order desk "desk", a node singleton on "orders", whose fun
//     strategy "risk-limit" rejects orders over the notional limit and
//     redirects the others to "books".
//
// Each node awaits the services (Node.Await) before orders flow. Halfway
// through, the command kills the engine's node with SIGKILL; the survivors
// await the services again and list what runs where (Node.Placements). At
// the end it prints a report and checks its invariants; it exits 1 when
// one fails.
//
//	go run ./examples/trading -duration 10s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// roleEnv tells a process started by this command which part it plays.
const (
	roleEnv  = "TRADING_ROLE"
	roleNode = "node"
)

func main() {
	if os.Getenv(roleEnv) == roleNode {
		os.Exit(nodeMain(os.Args[1:]))
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "trading:", err)
		}
		os.Exit(1)
	}
}
