// Command node starts a bourse node from a YAML file, declares the file's
// exchanges, logs the node's address and members, and stops cleanly on
// SIGINT or SIGTERM:
//
//	go run ./examples/node -config examples/node/node.yaml
//
// Environment variables override the file (BOURSE_NODE_PORT=0 picks a free
// port); docs/configuration.md lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/config"
)

// stopTimeout bounds the graceful stop after a signal.
const stopTimeout = 5 * time.Second

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, err)
		}
		cancel()
		os.Exit(1)
	}
}

// run runs the node until ctx ends, then stops it. The node logs to logOut.
func run(ctx context.Context, args []string, logOut io.Writer) error {
	f, err := load(args, logOut)
	if err != nil {
		return err
	}
	n, err := start(ctx, f)
	if err != nil {
		return err
	}
	logMembership(ctx, n, f.Cluster.Logger)
	return stop(n, f.Cluster.Logger)
}

// load teaches where a node's configuration comes from: a YAML file,
// overridden by BOURSE_* environment variables. A bad file is an error
// naming the file, the line and the key.
func load(args []string, logOut io.Writer) (*config.File, error) {
	flags := flag.NewFlagSet("node", flag.ContinueOnError)
	flags.SetOutput(logOut)
	path := flags.String("config", "examples/node/node.yaml", "YAML file describing the node and its exchanges")
	if err := flags.Parse(args); err != nil {
		return nil, err
	}
	return config.Load(*path, config.WithLogOutput(logOut))
}

// start teaches that one call starts the node, joins its cluster and
// declares the file's exchanges; the node then has an address and a view
// of its members.
func start(ctx context.Context, f *config.File) (*cluster.Node, error) {
	n, err := config.Start(ctx, f)
	if err != nil {
		return nil, err
	}
	exchanges := make([]string, len(f.Exchanges))
	for i, s := range f.Exchanges {
		exchanges[i] = s.Name
	}
	f.Cluster.Logger.Info("node up", slog.String("node", n.Name()), slog.String("address", n.Address()),
		slog.String("members", members(n.Members())), slog.String("exchanges", strings.Join(exchanges, ",")))
	return n, nil
}

// logMembership teaches how to follow the cluster: Subscribe gives every
// member that joins, leaves or dies, with the view after it. It returns
// when ctx ends.
func logMembership(ctx context.Context, n *cluster.Node, log *slog.Logger) {
	events, unsubscribe := n.Subscribe()
	defer unsubscribe()
	for {
		select {
		case ev := <-events:
			attrs := []any{slog.String("event", ev.Type.String()), slog.String("member", ev.Member.Node+"@"+ev.Member.Address)}
			if ev.Reason != "" {
				attrs = append(attrs, slog.String("reason", string(ev.Reason)))
			}
			log.Info("membership changed", append(attrs, slog.String("members", members(ev.Members)))...)
		case <-ctx.Done():
			return
		}
	}
}

// stop teaches a clean exit: with a fresh deadline, since the run's ctx is
// over, so that the node still tells its peers it leaves.
func stop(n *cluster.Node, log *slog.Logger) error {
	log.Info("stopping", slog.String("node", n.Name()))
	stopCtx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return n.Stop(stopCtx)
}

// members renders a view as "name@address,...".
func members(ms []cluster.Member) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.Node + "@" + m.Address
	}
	return strings.Join(s, ",")
}
