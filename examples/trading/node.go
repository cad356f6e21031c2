package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/config"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/bourse-go/bourse/strategies"
)

// Child process limits: how long the node may take to stop, and how long
// the process may live after its parent went away before it exits anyway.
const (
	nodeStopTimeout = 10 * time.Second
	exitGrace       = 15 * time.Second
	verifyTimeout   = 5 * time.Second
	awaitTimeout    = 20 * time.Second
)

// nodeFlags configure a child node; the parent passes them.
type nodeFlags struct {
	name, clusterName, peers, venue string
	sessions, orders, rate          int
	seed                            uint64
	verbose                         bool
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
	fs.StringVar(&f.venue, "venue", "", "the venue whose prices this node's feed publishes")
	fs.IntVar(&f.sessions, "sessions", 2000, "client sessions")
	fs.IntVar(&f.orders, "orders", 40, "orders per second")
	fs.IntVar(&f.rate, "rate", 100, "prices per second of this node's venue")
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

// clusterYAML is the configuration every node starts from.
//
//go:embed trading.yaml
var clusterYAML []byte

// node is a child's running state.
type node struct {
	f      nodeFlags
	name   string
	venue  string // "" for a node without a venue link
	n      *cluster.Node
	b      *actors.Broker
	ready  chan struct{} // closed once n and b are set: the kinds wait for it
	market *market
	// services are the names of the file's services, which cmdAwait awaits.
	services []string

	client   *client
	sess     *sessions
	out      io.Writer
	stop     chan struct{} // closed by halt: the client ends
	stopped  bool
	clientOn bool
	wg       sync.WaitGroup
	awaited  chan awaitResult
	rep      nodeReport

	// What the kinds' constructors made, from the cluster's goroutines.
	mu      sync.Mutex
	engines []*engine
	feed    *feed
}

// awaitResult is what awaitServices found.
type awaitResult struct {
	seq        int
	took       time.Duration
	err        error
	placements []placement
}

func runNode(ctx context.Context, f nodeFlags, log *slog.Logger, cmds <-chan string, out io.Writer) error {
	nd := &node{f: f, name: f.name, venue: f.venue, ready: make(chan struct{}), market: newMarket(),
		out: out, stop: make(chan struct{}), awaited: make(chan awaitResult, 4)}
	n, err := nd.start(ctx, log)
	if err != nil {
		return err
	}
	nd.n, nd.b = n, n.Broker()
	close(nd.ready)
	nd.rep = nodeReport{Node: f.name, Addr: n.Address(), Venue: f.venue}
	defer func() {
		nd.halt()
		sctx, cancel := context.WithTimeout(context.Background(), nodeStopTimeout)
		defer cancel()
		if err := n.Stop(sctx); err != nil {
			log.Error("stop", slog.Any("error", err))
		}
	}()
	nd.report()
	if nd.sess, err = subscribeSessions(ctx, nd.b, f.sessions); err != nil {
		return err
	}
	nd.client = newClient(nd.b, f.name, f.orders, f.seed)
	nd.rep.Up = true
	nd.report()

	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case a := <-nd.awaited:
			nd.rep.Awaited, nd.rep.AwaitTook, nd.rep.Placements = a.seq, float64(a.took.Microseconds())/1000, a.placements
			nd.rep.AwaitErr = ""
			if a.err != nil {
				nd.rep.AwaitErr = a.err.Error()
			}
		case <-tick.C:
		case c := <-cmds:
			if err := nd.command(ctx, c); err != nil {
				return err
			}
		}
		nd.report()
	}
}

// start is the lesson's first step: a node is a YAML file. It reads
// trading.yaml, the same on every node, and gives this node what is its
// own (name, peers, the venue label the market-data selector looks for)
// with config.WithOverride. WithStrategies brings the risk check written in
// Go; WithKinds the service kinds, so that a kind the file names and the
// node lacks is an error of the file. config.Start then starts the node,
// declares the exchanges and applies the services: the cluster starts the
// instances Place gives this node, without waiting for them (cmdAwait
// does).
func (nd *node) start(ctx context.Context, log *slog.Logger) (*cluster.Node, error) {
	reg := strategies.Builtin()
	if err := reg.Register(riskName, strategies.Fun(riskCheck(nd.name))); err != nil {
		return nil, err
	}
	kinds, err := nd.kinds()
	if err != nil {
		return nil, err
	}
	file, err := config.Parse(clusterYAML, "trading.yaml",
		config.WithStrategies(reg), config.WithKinds(kinds), config.WithOverride(nd.override(log)))
	if err != nil {
		return nil, err
	}
	for _, s := range file.Services {
		nd.services = append(nd.services, s.Name)
	}
	return config.Start(ctx, file)
}

// override sets what differs between the nodes. Code has the last word
// over the file (and over the BOURSE_ environment variables).
func (nd *node) override(log *slog.Logger) func(*config.File) {
	return func(file *config.File) {
		c := &file.Cluster
		c.Node, c.Cluster, c.Logger = nd.f.name, nd.f.clusterName, log
		if nd.venue != "" {
			c.Labels = map[string]string{"venue": nd.venue}
		}
		if nd.f.peers != "" {
			c.Discovery = static.New(strings.Split(nd.f.peers, ",")...)
		}
	}
}

// awaitServices is the lesson's second step: Node.Await waits until a
// service runs as the cluster promises (every instance started, connected
// to its exchange, and routed to from every node), so load starts only
// then. Node.Placements then asks every node what it runs.
func (nd *node) awaitServices(ctx context.Context, seq int) {
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, awaitTimeout)
	defer cancel()
	res := awaitResult{seq: seq}
	for _, s := range nd.services {
		if err := awaitService(actx, nd.n, s); err != nil {
			res.err = fmt.Errorf("service %s: %w", s, err)
			break
		}
	}
	res.took = time.Since(start)
	for _, r := range nd.n.Placements(actx, "") {
		res.placements = append(res.placements, placement{Service: r.Service, Node: r.Node, Key: r.Key, State: string(r.State)})
	}
	nd.awaited <- res // buffered: the command loop may be gone
}

// awaitService is Node.Await, again while an instance failed only because
// its node had not declared the exchange yet. Await returns as soon as an
// instance fails, and the cluster tries failed instances again (after 1 s).
// A node that joins a running cluster is given instances as soon as it
// starts, before config.Start has declared the file's exchanges there: that
// first try fails with actors.ErrUnknownExchange, the next one succeeds.
func awaitService(ctx context.Context, n *cluster.Node, service string) error {
	for {
		err := n.Await(ctx, service)
		if err == nil || !errors.Is(err, actors.ErrUnknownExchange) || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// afterStart waits until runNode has the node: the cluster may call a
// kind's constructor before config.Start returns.
func (nd *node) afterStart(ctx context.Context) error {
	select {
	case <-nd.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (nd *node) command(ctx context.Context, line string) error {
	cmd, arg, _ := strings.Cut(line, " ")
	switch cmd {
	case cmdAwait:
		seq, err := strconv.Atoi(arg)
		if err != nil {
			return fmt.Errorf("await: %w", err)
		}
		go nd.awaitServices(ctx, seq)
	case cmdStart:
		if nd.stopped || nd.clientOn {
			return nil // once only
		}
		nd.clientOn = true
		nd.market.start()
		nd.wg.Add(1)
		go func() {
			defer nd.wg.Done()
			nd.client.run(ctx, nd.stop)
		}()
	case cmdStop:
		nd.halt()
		nd.rep.Stopped = true
	case cmdVerify:
		nd.verify(ctx)
		nd.rep.Verified = true
	default:
		return fmt.Errorf("unknown command %q", line)
	}
	return nil
}

// verify asks every live feed what it published and waits, a while, until
// this node's sessions got it all.
func (nd *node) verify(ctx context.Context) {
	vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	published, venues, err := askFeeds(vctx, nd.b)
	if err != nil {
		nd.rep.Problem = "verify: " + err.Error()
		return
	}
	nd.rep.Venues = venues
	// Prices may still be on their way: wait for them, a while.
	for nd.rep.Lost = nd.sess.lost(published); nd.rep.Lost > 0 && vctx.Err() == nil; nd.rep.Lost = nd.sess.lost(published) {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-vctx.Done():
		}
	}
}

// halt stops the client, closes the market and waits until the client and
// the feed are done.
func (nd *node) halt() {
	if !nd.stopped {
		nd.stopped = true
		close(nd.stop)
	}
	nd.market.stop()
	nd.wg.Wait()
	nd.mu.Lock()
	f := nd.feed
	nd.mu.Unlock()
	if f != nil {
		select {
		case <-f.idle():
		case <-time.After(verifyTimeout):
			nd.rep.Problem = "the feed did not stop publishing"
		}
	}
}

// report writes the node's state for the parent.
func (nd *node) report() {
	r := &nd.rep
	r.Members = len(nd.n.Members())
	r.Books, r.Engines, r.Feeds, r.Desks = nd.handlers(exBooks), nd.handlers(exMatching), nd.handlers(exQuotes), nd.handlers(exOrders)
	if nps, err := nd.b.Subscriptions(exPrices); err == nil {
		r.PriceNodes = len(nps)
	}
	r.Leader = ""
	if l, _, err := nd.b.Leader(exMatching); err == nil {
		r.Leader = l.GetNode()
	}
	nd.mu.Lock()
	engines, f := slices.Clone(nd.engines), nd.feed
	nd.mu.Unlock()
	r.EngineLives, r.Leading, r.Engine = nil, nil, engineStats{}
	for _, e := range engines {
		life, leading := e.leadership()
		r.EngineLives = append(r.EngineLives, life)
		r.Leading = append(r.Leading, leading...)
		r.Engine.add(e.stats())
	}
	if f != nil {
		r.Feed = f.stats()
	}
	if nd.sess != nil {
		r.Sessions = nd.sess.perSymbol
		r.Delivered = nd.sess.delivered.Load()
		r.Disorder = nd.sess.disorder.Load()
	}
	if nd.client != nil {
		r.Orders = nd.client.stats()
		r.Sticky, r.StickyLast = nd.client.stickyView()
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

// handlers counts the handlers of an exchange in this node's table.
func (nd *node) handlers(exchange string) int {
	hs, err := nd.b.Handlers(exchange)
	if err != nil {
		return 0
	}
	return len(hs)
}
