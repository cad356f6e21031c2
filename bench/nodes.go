package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bourse-go/bourse/cluster"
)

// benchCluster is the nodes of one run: node 1 in this process, the others
// in child processes.
type benchCluster struct {
	node   *cluster.Node
	procs  []*proc      // procs[i] is node i+2
	events chan message // "done" events of the children's fan-out trackers
	quit   chan struct{}
}

// startCluster starts size nodes on loopback with static discovery: size-1
// children, then this process's node; it returns once every node sees all
// of them. events is the capacity of the events channel. node1 options
// change this process's node's configuration.
func startCluster(ctx context.Context, size, events int, node1 ...func(*cluster.Config)) (_ *benchCluster, err error) {
	c := &benchCluster{events: make(chan message, events), quit: make(chan struct{})}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.stop())
		}
	}()
	addrs, err := freeAddrs(size)
	if err != nil {
		return c, err
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:]) // never fails (crypto/rand documents it)
	// A cluster name of its own, so that another run on this machine never
	// joins this one.
	name := fmt.Sprintf("bench-%d-%s", os.Getpid(), hex.EncodeToString(suffix[:]))
	peers := strings.Join(addrs, ",")

	// Children start together: each waits up to its join timeout for the
	// others.
	procs := make([]*proc, size-1)
	errs := make([]error, size-1)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, port, _ := net.SplitHostPort(addrs[i+1])
			env := []string{childPortEnv + "=" + port, childPeersEnv + "=" + peers, childClusterEnv + "=" + name}
			if metricsProtoactor {
				env = append(env, childMetricsEnv+"=protoactor")
			} else if metricsListen != "" {
				env = append(env, childMetricsEnv+"=1")
			}
			procs[i], errs[i] = startProc(ctx, "node"+strconv.Itoa(i+2), env, c.events, c.quit)
		}()
	}
	wg.Wait()
	for _, p := range procs {
		if p != nil {
			c.procs = append(c.procs, p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	_, port, _ := net.SplitHostPort(addrs[0])
	portN, _ := strconv.Atoi(port)
	cfg := nodeConfig(name, "node1", portN, addrs)
	for _, o := range node1 {
		o(&cfg)
	}
	c.node, err = cluster.Start(ctx, cfg)
	if err != nil {
		return c, fmt.Errorf("start node1: %w", err)
	}
	printMetricsAddress("node1", c.node.MetricsAddress())
	if err := awaitMembers(ctx, c.node, size); err != nil {
		return c, err
	}
	for _, p := range c.procs {
		if _, err := p.call(ctx, "members", strconv.Itoa(size)); err != nil {
			return c, err
		}
	}
	return c, nil
}

// freeAddrs returns n loopback addresses whose ports were free a moment ago.
// All are held open until the last is found, so they are distinct.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// addr returns the address of node i (1-based).
func (c *benchCluster) addr(i int) string {
	if i == 1 {
		return c.node.Address()
	}
	return c.procs[i-2].addr
}

// each runs cmd on every child.
func (c *benchCluster) each(ctx context.Context, cmd string, args ...string) error {
	for _, p := range c.procs {
		if _, err := p.call(ctx, cmd, args...); err != nil {
			return err
		}
	}
	return nil
}

// childCPU returns the CPU the children have used so far (0 for a child
// that does not answer: the row then shows this process's CPU only).
func (c *benchCluster) childCPU(ctx context.Context) time.Duration {
	var sum time.Duration
	for _, p := range c.procs {
		if d, err := p.cpu(ctx); err == nil {
			sum += d
		}
	}
	return sum
}

// pickName returns the first of prefix-0, prefix-1, ... whose authority
// lands on the node at owner. The owner is a rendezvous hash of the name over
// the live members, so with n members about one name in n fits.
func (c *benchCluster) pickName(prefix, owner string) (string, error) {
	for i := range 1000 {
		name := prefix + "-" + strconv.Itoa(i)
		if c.node.Owner(name) == owner {
			return name, nil
		}
	}
	return "", fmt.Errorf("no exchange name of 1000 tried has its authority on %s", owner)
}

// stop stops the children, the last first, then this process's node. One
// at a time, in that order: a node stops its handlers before its exchanges,
// and a handler's disconnection waits for the exchange's authority, which
// lives on an earlier node (see runThreeNodes). It is safe on a partly
// started cluster.
func (c *benchCluster) stop() error {
	// What protoactor logs while connections close is expected noise.
	logLevel.Set(slog.LevelError + 1)
	defer logLevel.Set(slog.LevelWarn)
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = c.each(ctx, "quiet") // best effort: a child that does not answer is stopped all the same
	cancel()
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		errs = append(errs, c.procs[i].stop(15*time.Second))
	}
	c.procs = nil
	if c.node != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, c.node.Stop(ctx))
		cancel()
		c.node = nil
	}
	return errors.Join(errs...)
}
