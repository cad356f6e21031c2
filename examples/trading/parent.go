package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds of the flags, and the parent's waits.
const (
	maxDuration     = 25 * time.Second
	minDuration     = 2 * time.Second
	nodeCount       = 3
	setupTimeout    = 30 * time.Second // starting a node and subscribing its sessions
	settleTimeout   = 10 * time.Second // tables agreeing across nodes
	childStop       = 15 * time.Second // a node's graceful stop, then SIGKILL
	interruptedStop = 3 * time.Second
	minAfter        = 500 * time.Millisecond
)

// params are the parent's flags.
type params struct {
	duration time.Duration
	sessions int
	orders   int
	rate     int
	verbose  bool
}

func parseParams(args []string, errOut io.Writer) (params, error) {
	var p params
	fs := flag.NewFlagSet("trading", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.DurationVar(&p.duration, "duration", 10*time.Second, "how long orders and prices flow (2s-25s); the engine's node is killed halfway")
	fs.IntVar(&p.sessions, "sessions", 2000, "client sessions per node (12-20000)")
	fs.IntVar(&p.orders, "orders", 40, "orders per second per node (1-1000)")
	fs.IntVar(&p.rate, "rate", 100, "price updates per second of each venue (1-5000)")
	fs.BoolVar(&p.verbose, "v", false, "show the nodes' logs on stderr")
	if err := fs.Parse(args); err != nil {
		return p, err
	}
	switch {
	case fs.NArg() > 0:
		return p, fmt.Errorf("unexpected arguments %q", fs.Args())
	case p.duration < minDuration || p.duration > maxDuration:
		return p, fmt.Errorf("-duration %v: want %v to %v", p.duration, minDuration, maxDuration)
	case p.sessions < len(symbols) || p.sessions > 20000:
		// At least one session per symbol, so every node subscribes to every key.
		return p, fmt.Errorf("-sessions %d: want %d to 20000", p.sessions, len(symbols))
	case p.orders < 1 || p.orders > 1000:
		return p, fmt.Errorf("-orders %d: want 1 to 1000", p.orders)
	case p.rate < 1 || p.rate > 5000:
		return p, fmt.Errorf("-rate %d: want 1 to 5000", p.rate)
	}
	return p, nil
}

// run is the parent: it starts the nodes, drives the scenario, prints the
// report to out and returns an error when the run could not be completed or
// an invariant failed. Children still running when it returns are stopped
// (and killed if they do not stop).
func run(ctx context.Context, args []string, out, errOut io.Writer) (err error) {
	p, err := parseParams(args, errOut)
	if err != nil {
		return err
	}
	var logs io.Writer
	if p.verbose {
		// Each child's lines are copied by a goroutine of their own: one
		// line at a time, whatever errOut is.
		logs = &lockedWriter{w: errOut}
	}
	var nodes []*child
	defer func() {
		grace := childStop
		if ctx.Err() != nil {
			grace = interruptedStop // Ctrl-C: do not make the user wait
		}
		for _, c := range nodes {
			if serr := c.stop(grace); serr != nil && !c.killed() && err == nil {
				err = fmt.Errorf("node %s: %w%s", c.name, serr, c.logTail())
			}
			if c.sawRace() && err == nil {
				err = fmt.Errorf("node %s reported a data race%s", c.name, c.logTail())
			}
		}
	}()

	// 1. Start the nodes from trading.yaml, and wait until the cluster runs
	// every service the file lists.
	if err := startNodes(ctx, p, logs, &nodes); err != nil {
		return err
	}
	before, err := awaitServices(ctx, nodes, 1, func(r *nodeReport) bool {
		return r.Members == nodeCount && r.Books == bookReplicas && r.Engines == 1 && r.Feeds == nodeCount &&
			r.Desks == nodeCount && r.PriceNodes == nodeCount && r.Leader != ""
	})
	if err != nil {
		return err
	}
	victim, err := engineNode(nodes, before)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "cluster: %s, from trading.yaml; %d client sessions per node\n", describe(nodes), p.sessions)
	fmt.Fprintf(out, "placed: %s\n", describePlacements(before))

	// 2. Orders and prices flow; halfway, the engine's node is killed.
	for _, c := range nodes {
		if err := c.send(ctx, cmdStart); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := sleep(ctx, p.duration/2); err != nil {
		return err
	}
	killedAt := time.Now()
	if err := victim.kill(ctx); err != nil {
		return err
	}
	victim.markKilled()
	fmt.Fprintf(out, "killed %s, the engine's node (SIGKILL), at +%.1fs\n", victim.name, killedAt.Sub(start).Seconds())

	// 3. The cluster places again what ran there: the survivors await the
	// services again, and say what runs where now.
	var survivors []*child
	for _, c := range nodes {
		if c != victim {
			survivors = append(survivors, c)
		}
	}
	after, err := awaitServices(ctx, survivors, 2, func(r *nodeReport) bool {
		return r.Members == nodeCount-1 && r.Books == bookReplicas && r.Engines == 1 && r.Feeds == nodeCount-1 &&
			r.Desks == nodeCount-1 && r.PriceNodes == nodeCount-1 && r.Leader != "" && r.Leader != victim.name
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "placed after the kill: %s\n", describePlacements(after))
	// Traffic goes on after the takeover for the rest of the run, and at
	// least minAfter even when the takeover was slow, so that the report
	// measures the cluster without the dead node.
	if err := sleep(ctx, max(time.Until(start.Add(p.duration)), minAfter)); err != nil {
		return err
	}

	// 4. Stop the traffic, then check that every session got every price.
	if err := stopAndVerify(ctx, survivors); err != nil {
		return err
	}
	reps := map[string]nodeReport{}
	for _, c := range nodes {
		reps[c.name] = c.report()
	}
	res := summarize(reps, victim.name, killedAt, before, after)
	res.print(out)
	if len(res.failures) > 0 {
		return errors.New("invariants failed: " + strings.Join(res.failures, "; "))
	}
	return nil
}

// startNodes starts the nodes one after the other, each told the addresses
// of those before it (static discovery; gossip does the rest) and its
// venue. The first node is alone when it applies the services, so the
// cluster singleton starts there.
func startNodes(ctx context.Context, p params, logs io.Writer, nodes *[]*child) error {
	clusterName := "trading-" + strconv.Itoa(os.Getpid())
	var addrs []string
	for i := range nodeCount {
		name := "n" + strconv.Itoa(i+1)
		c, err := startChild(name, []string{
			"-name", name, "-cluster", clusterName, "-peers", strings.Join(addrs, ","), "-venue", venues[i],
			"-sessions", strconv.Itoa(p.sessions), "-orders", strconv.Itoa(p.orders), "-rate", strconv.Itoa(p.rate),
			"-seed", strconv.Itoa(i + 1), "-v=" + strconv.FormatBool(p.verbose),
		}, logs)
		if err != nil {
			return err
		}
		*nodes = append(*nodes, c)
		rep, err := c.await(ctx, setupTimeout, "set-up", func(r *nodeReport) bool { return r.Up })
		if err != nil {
			return err
		}
		addrs = append(addrs, rep.Addr)
	}
	return nil
}

// awaitServices tells every node to await the services (Node.Await), and
// waits until each has, and its tables satisfy settled. It returns what
// runs where, as the first node listed it (Node.Placements asks every
// node).
func awaitServices(ctx context.Context, nodes []*child, seq int, settled func(*nodeReport) bool) ([]placement, error) {
	for _, c := range nodes {
		if err := c.send(ctx, cmdAwait+" "+strconv.Itoa(seq)); err != nil {
			return nil, err
		}
	}
	var pl []placement
	for i, c := range nodes {
		rep, err := c.await(ctx, awaitTimeout+settleTimeout, "the services and full tables", func(r *nodeReport) bool {
			return r.Awaited == seq && (r.AwaitErr != "" || settled(r))
		})
		if err != nil {
			return nil, err
		}
		if rep.AwaitErr != "" {
			return nil, fmt.Errorf("node %s: await: %s%s", c.name, rep.AwaitErr, c.logTail())
		}
		if i == 0 {
			pl = rep.Placements
		}
	}
	return pl, nil
}

// engineNode returns the node that runs the matching engine, as the
// placements say; every node's leader of "matching" must be it.
func engineNode(nodes []*child, pl []placement) (*child, error) {
	var on []string
	for _, x := range pl {
		if x.Service == svcEngine && x.State == stateRunning {
			on = append(on, x.Node)
		}
	}
	if len(on) != 1 {
		return nil, fmt.Errorf("the engine runs on %d nodes %v, want 1", len(on), on)
	}
	var victim *child
	for _, c := range nodes {
		if l := c.report().Leader; l != on[0] {
			return nil, fmt.Errorf("node %s says %s leads %q, the engine runs on %s", c.name, l, exMatching, on[0])
		}
		if c.name == on[0] {
			victim = c
		}
	}
	if victim == nil {
		return nil, fmt.Errorf("the engine runs on %s, none of the nodes", on[0])
	}
	return victim, nil
}

// stopAndVerify stops the orders and the feeds on every node, then has
// each check its sessions against what the live feeds published.
func stopAndVerify(ctx context.Context, nodes []*child) error {
	for _, c := range nodes {
		if err := c.send(ctx, cmdStop); err != nil {
			return err
		}
	}
	for _, c := range nodes {
		if _, err := c.await(ctx, settleTimeout, "stopped traffic", func(r *nodeReport) bool { return r.Stopped }); err != nil {
			return err
		}
	}
	for _, c := range nodes {
		if err := c.send(ctx, cmdVerify); err != nil {
			return err
		}
	}
	for _, c := range nodes {
		if _, err := c.await(ctx, verifyTimeout+settleTimeout, "price verification", func(r *nodeReport) bool { return r.Verified }); err != nil {
			return err
		}
	}
	return nil
}

// describe lists the nodes as name@address (venue).
func describe(nodes []*child) string {
	s := make([]string, len(nodes))
	for i, c := range nodes {
		r := c.report()
		s[i] = fmt.Sprintf("%s@%s (%s)", c.name, r.Addr, r.Venue)
	}
	return strings.Join(s, ", ")
}

// describePlacements says where the running instances of each service
// are: "engine on n1; books on n1 (2), n2 (2), n3 (2); ...".
func describePlacements(pl []placement) string {
	var parts []string
	for _, svc := range services {
		count := map[string]int{}
		var on []string
		many := false
		for _, x := range pl {
			if x.Service != svc || x.State != stateRunning {
				continue
			}
			if count[x.Node] == 0 {
				on = append(on, x.Node)
			}
			count[x.Node]++
			many = many || count[x.Node] > 1
		}
		for i, n := range on {
			if many {
				on[i] = fmt.Sprintf("%s (%d)", n, count[n])
			}
		}
		parts = append(parts, svc+" on "+strings.Join(on, ", "))
	}
	return strings.Join(parts, "; ")
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
