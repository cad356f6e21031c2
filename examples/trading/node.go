package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/bourse-go/bourse/strategies"
)

// Child process limits: how long the node may take to stop, and how long
// the process may live after its parent went away before it exits anyway.
const (
	nodeStopTimeout = 10 * time.Second
	exitGrace       = 15 * time.Second
	verifyTimeout   = 5 * time.Second
	booksPerNode    = 2
)

// nodeFlags configure a child node; the parent passes them.
type nodeFlags struct {
	name, clusterName, peers string
	sessions, orders, rate   int
	seed                     uint64
	verbose                  bool
}

// nodeMain is a child process: one cluster node. It runs until its stdin
// closes (the parent stopped it, or died) or SIGTERM, and returns the exit
// status.
func nodeMain(args []string) int {
	var f nodeFlags
	fs := flag.NewFlagSet("trading node", flag.ContinueOnError)
	fs.StringVar(&f.name, "name", "", "node name")
	fs.StringVar(&f.clusterName, "cluster", "trading", "cluster name")
	fs.StringVar(&f.peers, "peers", "", "comma-separated peer addresses")
	fs.IntVar(&f.sessions, "sessions", 2000, "client sessions")
	fs.IntVar(&f.orders, "orders", 40, "orders per second")
	fs.IntVar(&f.rate, "rate", 200, "prices per second, when this node runs the feed")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed")
	fs.BoolVar(&f.verbose, "v", false, "log at info level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// Ctrl-C in a terminal signals the whole process group: the parent
	// decides when its children stop (it closes their stdin).
	signal.Ignore(os.Interrupt)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()

	cmds := make(chan string)
	go func() {
		// Not stopped: it ends with the process. EOF means the parent is
		// done with us or gone.
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case cmds <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		cancel()
	}()
	go func() {
		<-ctx.Done()
		time.Sleep(exitGrace)
		fmt.Fprintf(os.Stderr, "trading node %s: still running %v after it was told to stop; exiting\n", f.name, exitGrace)
		os.Exit(3)
	}()

	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With(slog.String("node", f.name))
	if err := runNode(ctx, f, log, cmds, os.Stdout); err != nil {
		log.Error("node failed", slog.Any("error", err))
		return 1
	}
	return 0
}

// node is a child's running state.
type node struct {
	f        nodeFlags
	n        *cluster.Node
	b        *actors.Broker
	engine   *engine
	client   *client
	feed     *feed
	sess     *sessions
	out      io.Writer
	stop     chan struct{} // closed by cmdStop: the client and the feed end
	stopped  bool
	clientOn bool
	wg       sync.WaitGroup
	feedErr  chan error
	rep      nodeReport
}

func runNode(ctx context.Context, f nodeFlags, log *slog.Logger, cmds <-chan string, out io.Writer) error {
	reg := strategies.Builtin()
	if err := reg.Register(riskName, strategies.Fun(riskCheck(f.name))); err != nil {
		return err
	}
	cfg := cluster.DefaultConfig()
	cfg.Cluster, cfg.Node, cfg.Logger = f.clusterName, f.name, log
	cfg.Exchange.Strategies = reg
	if f.peers != "" {
		cfg.Discovery = static.New(strings.Split(f.peers, ",")...)
	}
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	nd := &node{f: f, n: n, b: n.Broker(), out: out, stop: make(chan struct{}), feedErr: make(chan error, 1)}
	nd.rep = nodeReport{Node: f.name, Addr: n.Address()}
	defer func() {
		nd.halt()
		sctx, cancel := context.WithTimeout(context.Background(), nodeStopTimeout)
		defer cancel()
		if err := n.Stop(sctx); err != nil {
			log.Error("stop", slog.Any("error", err))
		}
	}()
	nd.report()
	if err := nd.setUp(ctx); err != nil {
		return err
	}
	nd.rep.Up = true
	nd.report()

	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-nd.feedErr:
			return err
		case <-tick.C:
		case c := <-cmds:
			if err := nd.command(ctx, c); err != nil {
				return err
			}
		}
		nd.report()
	}
}

// setUp declares the exchanges and connects this node's handlers and
// sessions. Every node declares the same exchanges: a declaration is local
// to the node, the exchange spans the cluster.
func (nd *node) setUp(ctx context.Context) error {
	b := nd.b
	for _, s := range []actors.Spec{
		{Name: exPrices, Kind: actors.PubSub},
		{Name: exOrders, Kind: actors.ReqResp, Strategy: riskName},
		{Name: exBooks, Kind: actors.ReqResp, Strategy: "sticky"},
		{Name: exMatching, Kind: actors.ReqResp, Strategy: "consensus"},
	} {
		if err := b.Declare(ctx, s); err != nil {
			return err
		}
	}
	nd.engine = newEngine(nd.f.name)
	if _, err := b.Serve(ctx, exMatching, nd.engine, actors.OnLeader(nd.engine.onLeader)); err != nil {
		return err
	}
	for i := range booksPerNode {
		id := fmt.Sprintf("%s/book-%d", nd.f.name, i+1)
		if _, err := b.Serve(ctx, exBooks, orderBook(b, id)); err != nil {
			return err
		}
	}
	if _, err := b.Serve(ctx, exOrders, orderDesk()); err != nil {
		return err
	}
	var err error
	if nd.sess, err = subscribeSessions(ctx, b, nd.f.sessions); err != nil {
		return err
	}
	nd.client = newClient(b, nd.f.name, nd.f.orders, nd.f.seed)
	return nil
}

func (nd *node) command(ctx context.Context, line string) error {
	cmd, arg, _ := strings.Cut(line, " ")
	switch cmd {
	case cmdStart:
		if nd.stopped || nd.clientOn {
			return nil // once only
		}
		nd.clientOn = true
		nd.wg.Add(1)
		go func() {
			defer nd.wg.Done()
			nd.client.run(ctx, nd.stop)
		}()
	case cmdFeed:
		if nd.stopped || nd.feed != nil {
			return nil // once only
		}
		nd.feed = newFeed(nd.b, nd.f.name, nd.f.rate, nd.f.seed)
		nd.wg.Add(1)
		go func() {
			defer nd.wg.Done()
			if err := nd.feed.run(ctx, nd.stop); err != nil {
				nd.feedErr <- err
			}
		}()
	case cmdStop:
		nd.halt()
		nd.rep.Stopped = true
	case cmdVerify:
		var published map[string]int64
		if err := json.Unmarshal([]byte(arg), &published); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		// Prices may still be on their way: wait for them, a while.
		deadline := time.Now().Add(verifyTimeout)
		for nd.rep.Lost = nd.sess.lost(published); nd.rep.Lost > 0 && time.Now().Before(deadline); nd.rep.Lost = nd.sess.lost(published) {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return nil
			}
		}
		nd.rep.Verified = true
	default:
		return fmt.Errorf("unknown command %q", line)
	}
	return nil
}

// halt stops the client and the feed and waits for them.
func (nd *node) halt() {
	if !nd.stopped {
		nd.stopped = true
		close(nd.stop)
	}
	nd.wg.Wait()
}

// report writes the node's state for the parent.
func (nd *node) report() {
	r := &nd.rep
	r.Members = len(nd.n.Members())
	if hs, err := nd.b.Handlers(exBooks); err == nil {
		r.Books = len(hs)
	}
	if hs, err := nd.b.Handlers(exMatching); err == nil {
		r.Engines = len(hs)
	}
	if nps, err := nd.b.Subscriptions(exPrices); err == nil {
		r.PriceNodes = len(nps)
	}
	r.Leader = ""
	if l, _, err := nd.b.Leader(exMatching); err == nil {
		r.Leader = l.GetNode()
	}
	if nd.engine != nil {
		r.Leading, r.LeadersSeen = nd.engine.leadership()
		r.Engine = nd.engine.stats()
	}
	if nd.sess != nil {
		r.Sessions = nd.sess.perSymbol
		r.Delivered = nd.sess.delivered.Load()
		r.Disorder = nd.sess.disorder.Load()
	}
	if nd.client != nil {
		r.Orders = nd.client.stats()
		r.Sticky = nd.client.stickyView()
	}
	if nd.feed != nil {
		r.Feed = nd.feed.stats()
	}
	b, err := json.Marshal(r)
	if err != nil {
		// Cannot happen for these field types; say so rather than go quiet.
		fmt.Fprintf(os.Stderr, "trading node %s: report: %v\n", nd.f.name, err)
		return
	}
	// A write error means the parent is gone: stdin's EOF ends the node.
	_, _ = fmt.Fprintf(nd.out, "%s%s\n", reportPrefix, b)
}
