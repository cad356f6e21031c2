package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
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
	fs.DurationVar(&p.duration, "duration", 10*time.Second, "how long orders and prices flow (2s-25s); the leader's node is killed halfway")
	fs.IntVar(&p.sessions, "sessions", 2000, "client sessions per node (12-20000)")
	fs.IntVar(&p.orders, "orders", 40, "orders per second per node (1-1000)")
	fs.IntVar(&p.rate, "rate", 200, "price updates per second (1-5000)")
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
		logs = errOut
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

	// Start the nodes one after the other, each told the addresses of those
	// before it (static discovery; gossip does the rest). The first to
	// connect its engine is the oldest handler of "matching": its leader.
	clusterName := "trading-" + strconv.Itoa(os.Getpid())
	var addrs []string
	for i := range nodeCount {
		name := "n" + strconv.Itoa(i+1)
		c, err := startChild(name, []string{
			"-name", name, "-cluster", clusterName, "-peers", strings.Join(addrs, ","),
			"-sessions", strconv.Itoa(p.sessions), "-orders", strconv.Itoa(p.orders), "-rate", strconv.Itoa(p.rate),
			"-seed", strconv.Itoa(i + 1), "-v=" + strconv.FormatBool(p.verbose),
		}, logs)
		if err != nil {
			return err
		}
		nodes = append(nodes, c)
		rep, err := c.await(ctx, setupTimeout, "set-up", func(r *nodeReport) bool { return r.Up })
		if err != nil {
			return err
		}
		addrs = append(addrs, rep.Addr)
	}
	var leader string
	for _, c := range nodes {
		rep, err := c.await(ctx, settleTimeout, "full tables", func(r *nodeReport) bool {
			return r.Members == nodeCount && r.Books == nodeCount*booksPerNode && r.Engines == nodeCount &&
				r.PriceNodes == nodeCount && r.Leader != ""
		})
		if err != nil {
			return err
		}
		if leader != "" && rep.Leader != leader {
			return fmt.Errorf("nodes disagree on the leader of %q: %s and %s", exMatching, leader, rep.Leader)
		}
		leader = rep.Leader
	}
	var victim, feeder *child
	for _, c := range nodes {
		switch {
		case c.name == leader:
			victim = c
		case feeder == nil || c.name > feeder.name:
			feeder = c // the youngest node that is not the leader
		}
	}
	if victim == nil {
		return fmt.Errorf("leader %q of %q is none of the nodes", leader, exMatching)
	}
	fmt.Fprintf(out, "cluster: %s; %d client sessions per node; leader of %q: %s; feed on %s\n",
		describe(nodes), p.sessions, exMatching, leader, feeder.name)

	// Orders and prices flow; halfway, the leader's node is killed.
	for _, c := range nodes {
		if err := c.send(ctx, cmdStart); err != nil {
			return err
		}
	}
	if err := feeder.send(ctx, cmdFeed); err != nil {
		return err
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
	fmt.Fprintf(out, "killed %s (SIGKILL) at +%.1fs\n", victim.name, killedAt.Sub(start).Seconds())
	var survivors []*child
	for _, c := range nodes {
		if c != victim {
			survivors = append(survivors, c)
		}
	}
	for _, c := range survivors {
		if _, err := c.await(ctx, settleTimeout, "a new leader and tables without "+victim.name, func(r *nodeReport) bool {
			return r.Leader != "" && r.Leader != victim.name && r.Members == nodeCount-1 &&
				r.Books == (nodeCount-1)*booksPerNode && r.PriceNodes == nodeCount-1
		}); err != nil {
			return err
		}
	}
	// Traffic goes on after the takeover for the rest of the run, and at
	// least minAfter even when the takeover was slow, so that the report
	// measures the cluster without the dead node.
	if err := sleep(ctx, max(time.Until(start.Add(p.duration)), minAfter)); err != nil {
		return err
	}

	// Stop the traffic, then check that every session got every price.
	for _, c := range survivors {
		if err := c.send(ctx, cmdStop); err != nil {
			return err
		}
	}
	for _, c := range survivors {
		if _, err := c.await(ctx, settleTimeout, "stopped traffic", func(r *nodeReport) bool { return r.Stopped }); err != nil {
			return err
		}
	}
	fs := feeder.report().Feed
	if fs == nil {
		return fmt.Errorf("feed node %s reported no feed", feeder.name)
	}
	counts, _ := json.Marshal(fs.Published) // a map of strings to numbers always marshals
	for _, c := range survivors {
		if err := c.send(ctx, cmdVerify+" "+string(counts)); err != nil {
			return err
		}
	}
	for _, c := range survivors {
		if _, err := c.await(ctx, verifyTimeout+settleTimeout, "price verification", func(r *nodeReport) bool { return r.Verified }); err != nil {
			return err
		}
	}

	reps := map[string]nodeReport{}
	for _, c := range nodes {
		reps[c.name] = c.report()
	}
	res := summarize(reps, victim.name, feeder.name, killedAt)
	res.print(out)
	if len(res.failures) > 0 {
		return errors.New("invariants failed: " + strings.Join(res.failures, "; "))
	}
	return nil
}

// describe lists the nodes as name@address.
func describe(nodes []*child) string {
	s := make([]string, len(nodes))
	for i, c := range nodes {
		s[i] = c.name + "@" + c.report().Addr
	}
	return strings.Join(s, ", ")
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
