// Command trading is a small trading backend on a 3-node bourse cluster.
//
// The command starts the cluster itself: it runs its own binary three more
// times as child processes (role node, chosen by the TRADING_ROLE
// environment variable), each a cluster node on a free 127.0.0.1 port with
// static discovery. On every node:
//
//   - client sessions (-sessions, 2,000 by default) subscribe to prices
//     "prices.*.<symbol>" on the pub-sub exchange "prices"; one node runs the
//     market-data feed that publishes "prices.<venue>.<symbol>";
//   - an order client sends orders to "orders", whose fun strategy
//     "risk-limit" rejects orders over the notional limit and redirects the
//     others to "books";
//   - two order books serve "books", a sticky exchange keyed by symbol, so
//     each symbol's orders reach one book from every node;
//   - a matching engine serves "matching", a consensus exchange: every node
//     has one, only the leader matches.
//
// Halfway through, the command kills the leader's node with SIGKILL and
// watches another node's engine take over. At the end it prints a report
// and checks its invariants; it exits 1 when one fails.
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
