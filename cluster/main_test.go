package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/bourse-go/bourse/internal/leakcheck"
	"github.com/bourse-go/bourse/internal/wiring"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	clustertest.Main(map[string]clustertest.ChildFunc{"node": runNodeChild, "exnode": runExchangeChild, "dnode": runDeployChild})
	goleak.VerifyTestMain(m, leakOptions()...)
}

// leakOptions are the goroutines a stopped Node may leave for a moment.
func leakOptions() []goleak.Option {
	return append(leakcheck.Options(), clustertest.LeakOptions()...)
}

// Test timing: fast heartbeats so the suite stays short.
const (
	testInterval     = 50 * time.Millisecond
	testSuspectAfter = time.Second
)

func testLogger() *slog.Logger {
	if os.Getenv("BOURSE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func testConfig(name string, peers ...string) cluster.Config {
	cfg := cluster.DefaultConfig()
	cfg.Cluster = "test"
	cfg.Node = name
	cfg.HeartbeatInterval = testInterval
	cfg.SuspectAfter = testSuspectAfter
	cfg.Logger = testLogger()
	if len(peers) > 0 {
		cfg.Discovery = static.New(peers...)
	}
	return cfg
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startNode starts a node stopped at cleanup.
func startNode(t testing.TB, cfg cluster.Config) *cluster.Node {
	t.Helper()
	n, err := cluster.Start(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", cfg.Node, err)
	}
	t.Cleanup(func() {
		settleBeforeStop(n)
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("Stop(%s): %v", cfg.Node, err)
		}
	})
	return n
}

// settleBeforeStop waits, for 2 s at most, until n has seen its peers go:
// the child processes a test starts after n are killed by cleanups that run
// before n's. A peer's stream ending while n's remote shuts down gracefully
// is a data race inside protoactor remote (see stopRemote in remote.go),
// which -race reports; a node that has declared the peer down has seen its
// connections end, and the extra 20 ms lets remote's stream reader finish.
func settleBeforeStop(n *cluster.Node) {
	deadline := time.Now().Add(2 * time.Second)
	for len(n.Members()) > 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
}

// names returns the sorted node names of ms.
func names(ms []cluster.Member) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.Node
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

// waitFor polls cond every 5 ms until it holds or d passes, and returns how
// long it took.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// waitEvent waits for the first event on ch matching ok.
func waitEvent(t testing.TB, ch <-chan cluster.MembershipEvent, d time.Duration, what string, ok func(cluster.MembershipEvent) bool) cluster.MembershipEvent {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, open := <-ch:
			if !open {
				t.Fatalf("subscription closed waiting for %s", what)
			}
			if ok(ev) {
				return ev
			}
		case <-timer.C:
			t.Fatalf("after %v: no event %s", d, what)
		}
	}
}

// viewString renders a view as "node@address#incarnation,...", in the
// view's order (by address).
func viewString(ms []cluster.Member) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = fmt.Sprintf("%s@%s#%d", m.Node, m.Address, m.Incarnation)
	}
	return strings.Join(s, ",")
}

// labelsString renders the labels of a view as
// "node:k=v,k=v;node:;...", nodes by name, labels by key.
func labelsString(ms []cluster.Member) string {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b cluster.Member) int { return strings.Compare(a.Node, b.Node) })
	s := make([]string, len(ms))
	for i, m := range ms {
		var kvs []string
		for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
			kvs = append(kvs, k+"="+m.Labels[k])
		}
		s[i] = m.Node + ":" + strings.Join(kvs, ",")
	}
	return strings.Join(s, ";")
}

// hubString renders what a node last told its hub as "node@address,...".
func hubString(ms []wiring.Member) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.Node + "@" + m.Address
	}
	return strings.Join(s, ",")
}

// runNodeChild is the "node" child process: a node configured from the
// environment (NODE_NAME, NODE_CLUSTER, NODE_PORT, NODE_PEERS, NODE_LABELS
// as "k=v,k=v") that reports "address", "incarnation", "members"
// (viewString of its view), "labels" (labelsString of its view) and "hub"
// (hubString of its hub's members) at every change.
func runNodeChild(ctx context.Context, c *clustertest.Child) error {
	cfg := testConfig(os.Getenv("NODE_NAME"))
	if c := os.Getenv("NODE_CLUSTER"); c != "" {
		cfg.Cluster = c
	}
	if p := os.Getenv("NODE_PORT"); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil {
			return err
		}
		cfg.Port = port
	}
	if p := os.Getenv("NODE_PEERS"); p != "" {
		cfg.Discovery = static.New(strings.Split(p, ",")...)
	}
	cfg.Labels = parseLabels(os.Getenv("NODE_LABELS"))
	if os.Getenv("BOURSE_TEST_LOG") == "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	events, cancel := n.Subscribe()
	defer cancel()
	c.Set("address", n.Address())
	c.Set("incarnation", fmt.Sprint(n.Self().Incarnation))
	report := func(view []cluster.Member) {
		c.Set("hub", hubString(wiring.HubOf(n.Broker().System()).Members()))
		c.Set("members", viewString(view))
		c.Set("labels", labelsString(view))
	}
	report(n.Members())
	for {
		select {
		case ev := <-events:
			report(ev.Members)
		case <-ctx.Done():
			return n.Stop(context.Background())
		}
	}
}

// child is a node in a child process.
type child struct {
	*clustertest.Process
	name, addr string
	inc        uint64
}

// startChild starts a node named name in a child process; env adds
// NODE_PEERS, NODE_PORT, NODE_CLUSTER settings.
func startChild(t testing.TB, name string, env ...string) *child {
	t.Helper()
	p := clustertest.Start(t, "node", append([]string{"NODE_NAME=" + name}, env...)...)
	ctx := testCtx(t)
	addr, err := p.Value(ctx, "address")
	if err != nil {
		t.Fatal(err)
	}
	incs, err := p.Value(ctx, "incarnation")
	if err != nil {
		t.Fatal(err)
	}
	inc, err := strconv.ParseUint(incs, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return &child{Process: p, name: name, addr: addr, inc: inc}
}

// awaitMembers waits until the child reports the view want.
func (c *child) awaitMembers(t testing.TB, d time.Duration, want string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	if _, err := c.Await(ctx, "members", func(v string) bool { return v == want }); err != nil {
		t.Fatalf("%s: view: %v; want %q", c.name, err, want)
	}
	return time.Since(start)
}
