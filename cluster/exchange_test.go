package cluster_test

// Exchanges across processes: one node in the (isolated) test process, the
// others in child processes that declare the same exchanges, connect
// handlers and subscribers, and report what those see.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/cluster/consul"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/bourse-go/bourse/internal/tlstest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// exchanges every test node declares. fo-0...fo-N are consensus exchanges
// a failover test picks from by where their authority lives.
func testSpecs() []actors.Spec {
	specs := []actors.Spec{
		{Name: "rr", Kind: actors.ReqResp, Strategy: "round-robin"},
		{Name: "cons", Kind: actors.ReqResp, Strategy: "consensus"},
		{Name: "crr", Kind: actors.ReqResp, Strategy: "consensus-round-robin"},
		{Name: "sticky", Kind: actors.ReqResp, Strategy: "sticky"},
		{Name: "bcast", Kind: actors.ReqResp, Strategy: "default"},
		{Name: "slow", Kind: actors.ReqResp, Strategy: "round-robin"},
		{Name: "ps", Kind: actors.PubSub},
		{Name: "watch", Kind: actors.ReqResp, Strategy: "round-robin"},
	}
	for i := range failoverCandidates {
		specs = append(specs, actors.Spec{Name: fmt.Sprintf("fo-%d", i), Kind: actors.ReqResp, Strategy: "consensus"})
	}
	return specs
}

// failoverCandidates: with 3 nodes, the chance that none of them has its
// authority on a given node is (2/3)^16 = 0.15%.
const failoverCandidates = 16

// handlerExchanges are the exchanges test handlers connect to.
func handlerExchanges() []string {
	names := []string{"rr", "cons", "crr", "sticky", "bcast"}
	for i := range failoverCandidates {
		names = append(names, fmt.Sprintf("fo-%d", i))
	}
	return names
}

// stickyKeys are the keys the sticky test sends from every node.
func stickyKeys() []string {
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	return keys
}

// exConfig is the configuration of an exchange test node; disco is "static"
// or "consul".
func exConfig(name, clusterName, disco string, peers []string) (cluster.Config, error) {
	cfg := testConfig(name)
	cfg.Cluster = clusterName
	if files := os.Getenv(tlsEnv); files != "" {
		f := strings.Split(files, ",")
		if len(f) != 3 {
			return cfg, fmt.Errorf("%s=%q: want cert,key,ca", tlsEnv, files)
		}
		var err error
		if cfg.TLS, err = cluster.TLSFromFiles(f[0], f[1], f[2]); err != nil {
			return cfg, err
		}
	}
	switch disco {
	case "consul":
		cc := consul.DefaultConfig()
		cc.Address = os.Getenv("BOURSE_CONSUL_ADDR")
		cc.TTL = time.Second
		cc.RefreshInterval = 300 * time.Millisecond
		cc.WaitTime = time.Second
		d, err := consul.New(cc)
		if err != nil {
			return cfg, err
		}
		cfg.Discovery = d
	default:
		if len(peers) > 0 {
			cfg.Discovery = static.New(peers...)
		}
	}
	return cfg, nil
}

// declare declares testSpecs on b.
func declare(ctx context.Context, b *actors.Broker) error {
	for _, s := range testSpecs() {
		if err := b.Declare(ctx, s); err != nil {
			return fmt.Errorf("declare %s: %w", s.Name, err)
		}
	}
	return nil
}

// handlerID is what a test handler answers: "node/exchange/index".
func handlerID(node, ex string, i int) string { return node + "/" + ex + "/" + strconv.Itoa(i) }

// leaderLog records, across a node's handlers, when each was leader, as
// wall-clock intervals (one clock on one host: comparable across processes).
type leaderLog struct {
	mu   sync.Mutex
	ivs  map[string][]string        // exchange -> "handler:from-to" (to 0: still leader)
	open map[string]int64           // exchange/handler -> from
	seen map[string]string          // exchange/handler -> leader id in its latest Leader message
	down map[string]map[string]bool // exchange -> nodes of handlers heard SlaveDown of
}

func newLeaderLog() *leaderLog {
	return &leaderLog{ivs: map[string][]string{}, open: map[string]int64{}, seen: map[string]string{}, down: map[string]map[string]bool{}}
}

func (l *leaderLog) event(ex, h string, is bool, m *actors.Leader) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := ex + "|" + h
	if m != nil {
		l.seen[k] = m.GetLeader().GetId()
	}
	now := time.Now().UnixNano()
	from, open := l.open[k]
	switch {
	case is && !open:
		l.open[k] = now
	case !is && open:
		delete(l.open, k)
		l.ivs[ex] = append(l.ivs[ex], fmt.Sprintf("%s:%d-%d", h, from, now))
	}
}

// slaveDown records that a handler of ex heard SlaveDown of a handler on node.
func (l *leaderLog) slaveDown(ex, node string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down[ex] == nil {
		l.down[ex] = map[string]bool{}
	}
	l.down[ex][node] = true
}

// downNodes returns the nodes ex's handlers heard SlaveDown for, sorted.
func (l *leaderLog) downNodes(ex string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(slices.Sorted(maps.Keys(l.down[ex])), ",")
}

// intervals returns the leader intervals of ex, closed and open.
func (l *leaderLog) intervals(ex string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.ivs[ex])
	for k, from := range l.open {
		if e, h, _ := strings.Cut(k, "|"); e == ex {
			out = append(out, fmt.Sprintf("%s:%d-0", h, from))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// seenLeaders returns the distinct leader ids ex's handlers last heard of.
func (l *leaderLog) seenLeaders(ex string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for k, id := range l.seen {
		if e, _, _ := strings.Cut(k, "|"); e == ex && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// serveTestHandlers connects n handlers to every handler exchange, and the
// slow handlers (which answer after 30 s) to "slow". Handlers count what they
// served in served.
func serveTestHandlers(ctx context.Context, b *actors.Broker, node string, n, slow int, ll *leaderLog, served *sync.Map) error {
	for _, ex := range handlerExchanges() {
		for i := range n {
			id := handlerID(node, ex, i)
			var count atomic.Int64
			served.Store(id, &count)
			_, err := b.Serve(ctx, ex, actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) {
				count.Add(1)
				return wrapperspb.String(id), nil
			}), actors.OnLeader(func(is bool, m *actors.Leader) { ll.event(ex, id, is, m) }),
				actors.OnSlave(func(up bool, h *actors.HandlerInfo) {
					if !up {
						ll.slaveDown(ex, h.GetNode())
					}
				}))
			if err != nil {
				return fmt.Errorf("serve %s: %w", id, err)
			}
		}
	}
	for i := range slow {
		id := handlerID(node, "slow", i)
		_, err := b.Serve(ctx, "slow", actors.HandlerFunc(func(ctx context.Context, _ *actors.Request) (proto.Message, error) {
			select {
			case <-time.After(30 * time.Second):
			case <-ctx.Done():
			}
			return wrapperspb.String(id), nil
		}))
		if err != nil {
			return fmt.Errorf("serve %s: %w", id, err)
		}
	}
	return nil
}

// runExchangeChild is the "exnode" child: a node configured from the
// environment (NODE_NAME, NODE_CLUSTER, NODE_PEERS, NODE_DISCOVERY) that
// declares testSpecs, connects EX_HANDLERS handlers to each handler exchange
// and EX_SLOW to "slow", subscribes EX_SUBS subscribers to "ps" with pattern
// "t.#", and reports:
//
//	address       its address
//	ready         "1" once all of the above is done
//	received      publications its subscribers received, in total
//	leaders:<ex>  its handlers' leader intervals (leaderLog.intervals)
//	seen:<ex>     the leader ids its handlers last heard of
//	sticky        "key=handler,..." for stickyKeys requested from this node
//	served        "handler=count,..." requests served per handler
//	slaveup       nodes of the handlers its "watch" handler got SlaveUp for
//	slavedown     nodes of the handlers its "watch" handler got SlaveDown for
//	down:<ex>     nodes of the handlers its handlers of ex got SlaveDown for
func runExchangeChild(ctx context.Context, c *clustertest.Child) error {
	name := os.Getenv("NODE_NAME")
	var peers []string
	if p := os.Getenv("NODE_PEERS"); p != "" {
		peers = strings.Split(p, ",")
	}
	cfg, err := exConfig(name, os.Getenv("NODE_CLUSTER"), os.Getenv("NODE_DISCOVERY"), peers)
	if err != nil {
		return err
	}
	if os.Getenv("BOURSE_TEST_LOG") == "" {
		cfg.Logger = quietLogger()
	}
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Stop(context.Background())
	c.Set("address", n.Address())
	b := n.Broker()
	if err := declare(ctx, b); err != nil {
		return err
	}
	ll := newLeaderLog()
	var served sync.Map
	handlers, _ := strconv.Atoi(os.Getenv("EX_HANDLERS"))
	slow, _ := strconv.Atoi(os.Getenv("EX_SLOW"))
	if err := serveTestHandlers(ctx, b, name, handlers, slow, ll, &served); err != nil {
		return err
	}
	// A plain actor connected to "watch" records the SlaveUp and SlaveDown
	// messages it gets, by the other handler's node.
	var slaveMu sync.Mutex
	slaves := map[string]map[string]bool{"up": {}, "down": {}}
	watcher := b.System().Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		slaveMu.Lock()
		defer slaveMu.Unlock()
		switch m := ctx.Message().(type) {
		case *actors.Request:
			m.Respond(wrapperspb.String(name + "/watch"))
		case *actors.SlaveUp:
			slaves["up"][m.GetHandler().GetNode()] = true
		case *actors.SlaveDown:
			slaves["down"][m.GetHandler().GetNode()] = true
		}
	}))
	if _, err := b.Connect(ctx, "watch", watcher); err != nil {
		return err
	}
	var received atomic.Int64
	subs, _ := strconv.Atoi(os.Getenv("EX_SUBS"))
	for range subs {
		if _, err := b.SubscribeFunc(ctx, "ps", "t.#", func(*actors.Publication) { received.Add(1) }); err != nil {
			return err
		}
	}
	c.Set("ready", "1")

	// The sticky probe waits until the parent says how many handlers the
	// cluster has: EX_STICKY_HANDLERS.
	if want, _ := strconv.Atoi(os.Getenv("EX_STICKY_HANDLERS")); want > 0 {
		go func() {
			for ctx.Err() == nil {
				hs, _ := b.Handlers("sticky")
				if len(hs) == want {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			var pairs []string
			for _, k := range stickyKeys() {
				r, err := b.Request(ctx, "sticky", wrapperspb.String(k), actors.WithKey(k))
				if err != nil {
					pairs = append(pairs, k+"=error:"+err.Error())
					continue
				}
				pairs = append(pairs, k+"="+r.(*wrapperspb.StringValue).GetValue())
			}
			c.Set("sticky", strings.Join(pairs, ","))
		}()
	}

	report := func() {
		c.Set("received", strconv.FormatInt(received.Load(), 10))
		for _, ex := range handlerExchanges() {
			c.Set("leaders:"+ex, ll.intervals(ex))
			c.Set("seen:"+ex, ll.seenLeaders(ex))
			c.Set("down:"+ex, ll.downNodes(ex))
		}
		var counts []string
		served.Range(func(k, v any) bool {
			counts = append(counts, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
			return true
		})
		sort.Strings(counts)
		c.Set("served", strings.Join(counts, ","))
		slaveMu.Lock()
		for kind, nodes := range slaves {
			ns := slices.Sorted(maps.Keys(nodes))
			c.Set("slave"+kind, strings.Join(ns, ","))
		}
		slaveMu.Unlock()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			report()
		case <-ctx.Done():
			return n.Stop(context.Background())
		}
	}
}

// exChild is an exchange test node in a child process.
type exChild struct {
	*clustertest.Process
	name, addr string
}

func startExChild(t testing.TB, name, clusterName, disco string, env ...string) *exChild {
	t.Helper()
	env = append([]string{"NODE_NAME=" + name, "NODE_CLUSTER=" + clusterName, "NODE_DISCOVERY=" + disco}, env...)
	if disco == "consul" {
		env = append(env, "BOURSE_CONSUL_ADDR="+os.Getenv("BOURSE_CONSUL_ADDR"))
	}
	p := clustertest.Start(t, "exnode", env...)
	ctx := testCtx(t)
	addr, err := p.Value(ctx, "address")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Value(ctx, "ready"); err != nil {
		t.Fatalf("%s not ready: %v", name, err)
	}
	return &exChild{Process: p, name: name, addr: addr}
}

// await waits until key's value satisfies ok, and returns it.
func (c *exChild) await(t testing.TB, d time.Duration, key string, ok func(string) bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	v, err := c.Await(ctx, key, ok)
	if err != nil {
		last, _ := c.Await(context.Background(), key, func(string) bool { return true })
		t.Fatalf("%s: %s: %v (last value %q)", c.name, key, err, last)
	}
	return v
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func requireConsul(t *testing.T) {
	t.Helper()
	if os.Getenv("BOURSE_CONSUL_ADDR") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must provide a Consul agent: BOURSE_CONSUL_ADDR (.ci/consul.sh start)")
		}
		t.Skip("BOURSE_CONSUL_ADDR is unset; run .ci/consul.sh start and set it to the address it prints")
	}
}

// uniqueCluster names a cluster no earlier test run shares (Consul keeps
// the registrations of killed nodes for a while).
func uniqueCluster(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9)
}

// exCluster is a parent node plus child nodes.
type exCluster struct {
	name     string // the cluster's
	a        *cluster.Node
	children []*exChild
	ll       *leaderLog
	served   sync.Map
}

// startExCluster starts children b and c (each with handlers handlers per
// exchange and subs subscribers) and then node a in this process (with
// handlers of its own when aHandlers > 0), and waits until every node sees
// the others and a's tables list every handler.
func startExCluster(t *testing.T, disco string, handlers, subs, aHandlers int) *exCluster {
	t.Helper()
	return startExClusterEnv(t, disco, handlers, subs, aHandlers)
}

// startExClusterEnv is startExCluster with extra environment for the
// children.
func startExClusterEnv(t *testing.T, disco string, handlers, subs, aHandlers int, extra ...string) *exCluster {
	t.Helper()
	return startExClusterWith(t, disco, handlers, subs, aHandlers, nil, extra...)
}

// startExClusterWith is startExClusterEnv with a change to a's
// configuration (nil: none).
func startExClusterWith(t *testing.T, disco string, handlers, subs, aHandlers int, tweak func(*cluster.Config), extra ...string) *exCluster {
	t.Helper()
	clusterName := uniqueCluster("ex")
	ctx := testCtx(t)
	env := []string{"EX_HANDLERS=" + strconv.Itoa(handlers), "EX_SUBS=" + strconv.Itoa(subs),
		"EX_STICKY_HANDLERS=" + strconv.Itoa(2*handlers+aHandlers)}
	env = append(env, extra...)
	c := startExChild(t, "c", clusterName, disco, env...)
	b := startExChild(t, "b", clusterName, disco, append(env, "NODE_PEERS="+c.addr)...)
	cfg, err := exConfig("a", clusterName, disco, []string{b.addr, c.addr})
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(&cfg)
	}
	a := startNode(t, cfg)
	// At the end, the children go first (cleanups run last-in first-out),
	// by SIGKILL, so that nothing sends to a while its remote shuts down:
	// protoactor remote's Shutdown races with its stream readers when peers
	// still send (endpointReader.suspend against Receive, and its
	// dead-letter answers against endpointManager.stop; protoactor-go
	// v0.0.0-20240822202345-3c0e61ca19c9), and the lease rounds' steady
	// control traffic made that show in TestClusterJoin under -race. A test
	// that stops a child itself first is unaffected (Kill of a child that
	// exited is a no-op).
	t.Cleanup(func() {
		for _, ch := range []*exChild{b, c} {
			_ = ch.Kill()
		}
	})
	waitFor(t, 5*time.Second, "a sees a,b,c", func() bool { return names(a.Members()) == "a,b,c" })
	if err := declare(ctx, a.Broker()); err != nil {
		t.Fatal(err)
	}
	x := &exCluster{name: clusterName, a: a, children: []*exChild{b, c}, ll: newLeaderLog()}
	if aHandlers > 0 {
		if err := serveTestHandlers(ctx, a.Broker(), "a", aHandlers, 0, x.ll, &x.served); err != nil {
			t.Fatal(err)
		}
	}
	want := 2*handlers + aHandlers
	for _, ex := range handlerExchanges() {
		waitFor(t, 5*time.Second, "a's table of "+ex+" lists every handler", func() bool {
			hs, _ := a.Broker().Handlers(ex)
			return len(hs) == want
		})
	}
	return x
}

func request(ctx context.Context, b *actors.Broker, ex string, opts ...actors.CallOption) (string, error) {
	r, err := b.Request(ctx, ex, wrapperspb.String("x"), opts...)
	if err != nil {
		return "", err
	}
	return r.(*wrapperspb.StringValue).GetValue(), nil
}

// TestClusterExchangesStatic and TestClusterExchangesConsul run the
// strategies, the leader and pub-sub across 3 processes.
func TestClusterExchangesStatic(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	testExchanges(t, "static")
}

// tlsEnv names the environment variable that gives the test nodes their TLS
// files, "cert,key,ca" (see TestClusterExchangesTLS).
const tlsEnv = "BOURSE_TEST_TLS"

// TestClusterExchangesTLS runs the whole cross-node suite with mutual TLS on
// remote and on the data link, all three nodes with certificates of one CA;
// a fourth node without TLS is not heard from.
func TestClusterExchangesTLS(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	_, files := tlstest.WriteFiles(t)
	t.Setenv(tlsEnv, files.Cert+","+files.Key+","+files.CA)
	x := testExchanges(t, "static")

	// A plaintext node listing a TLS node hears nothing back, and the TLS
	// nodes never count it in. (A child process: two remotes started in one
	// process race on grpc's global logger, remote/server.go:61 of
	// protoactor-go v0.0.0-20240822202345-3c0e61ca19c9.)
	plain := startChild(t, "plain", "NODE_CLUSTER="+x.name, "NODE_PEERS="+x.a.Address())
	time.Sleep(500 * time.Millisecond)
	view, err := plain.Value(testCtx(t), "members")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(view, x.a.Address()) {
		t.Errorf("a plaintext node sees the TLS node a: %s", view)
	}
	if got := names(x.a.Members()); got != "a,b,c" {
		t.Errorf("a TLS node sees %s, want a,b,c", got)
	}
}

func TestClusterExchangesConsul(t *testing.T) {
	requireConsul(t)
	if !clustertest.Isolate(t) {
		return
	}
	testExchanges(t, "consul")
}

func testExchanges(t *testing.T, disco string) *exCluster {
	const perNode, subs = 2, 50
	x := startExCluster(t, disco, perNode, subs, 0)
	a := x.a.Broker()
	ctx := testCtx(t)
	all := 2 * perNode

	t.Run("round-robin", func(t *testing.T) {
		got := map[string]int{}
		for range 100 * all {
			id, err := request(ctx, a, "rr")
			if err != nil {
				t.Fatal(err)
			}
			got[id]++
		}
		if len(got) != all {
			t.Fatalf("replies from %d handlers, want %d: %v", len(got), all, got)
		}
		for id, n := range got {
			if n != 100 {
				t.Errorf("%s served %d of %d, want 100 each: %v", id, n, 100*all, got)
			}
		}
	})

	t.Run("consensus", func(t *testing.T) {
		leader, _, err := x.a.Broker().Leader("cons")
		if err != nil {
			t.Fatal(err)
		}
		first := ""
		for range 50 {
			id, err := request(ctx, a, "cons")
			if err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first = id
			}
			if id != first || !strings.HasPrefix(id, leader.GetNode()+"/") {
				t.Fatalf("reply from %s (first from %s); leader %s is on %s", id, first, leader.GetId(), leader.GetNode())
			}
		}
		// Exactly one handler in the cluster holds itself leader.
		for _, ex := range []string{"cons", "crr"} {
			waitFor(t, 3*time.Second, "one leader of "+ex, func() bool {
				open := 0
				for _, c := range x.children {
					v, _ := c.Value(ctx, "leaders:"+ex)
					open += strings.Count(v+",", "-0,")
				}
				return open == 1
			})
		}
		// Every handler on every node was told the same leader.
		for _, ex := range []string{"cons", "crr"} {
			l, _, err := x.a.Broker().Leader(ex)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range x.children {
				c.await(t, 3*time.Second, "seen:"+ex, func(v string) bool { return v == l.GetId() })
			}
		}
	})

	t.Run("consensus-round-robin", func(t *testing.T) {
		got := map[string]int{}
		for range 10 * all {
			id, err := request(ctx, a, "crr")
			if err != nil {
				t.Fatal(err)
			}
			got[id]++
		}
		if len(got) != all {
			t.Fatalf("replies from %d handlers, want all %d: %v", len(got), all, got)
		}
	})

	t.Run("default-broadcast", func(t *testing.T) {
		rs, err := a.RequestAll(ctx, "bcast", wrapperspb.String("x"))
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != all {
			t.Fatalf("%d replies, want one per handler (%d)", len(rs), all)
		}
	})

	t.Run("sticky", func(t *testing.T) {
		var mine []string
		for _, k := range stickyKeys() {
			id, err := request(ctx, a, "sticky", actors.WithKey(k))
			if err != nil {
				t.Fatal(err)
			}
			mine = append(mine, k+"="+id)
		}
		want := strings.Join(mine, ",")
		used := map[string]bool{}
		for _, p := range mine {
			used[strings.SplitN(p, "=", 2)[1]] = true
		}
		t.Logf("%d keys on %d of %d handlers", len(mine), len(used), all)
		for _, c := range x.children {
			got := c.await(t, 5*time.Second, "sticky", func(string) bool { return true })
			if got != want {
				t.Errorf("%s sends keys to other handlers than a:\n%s:  %s\na: %s", c.name, c.name, got, want)
			}
		}
	})

	t.Run("pub-sub", func(t *testing.T) {
		before, _ := x.a.Broker().Stats("ps")
		linkBefore, _ := x.a.Broker().LinkStats()
		const pubs = 100
		for i := range pubs {
			if err := a.Publish(ctx, "ps", "t."+strconv.Itoa(i), wrapperspb.Int64(int64(i))); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range x.children {
			c.await(t, 5*time.Second, "received", func(v string) bool { return v == strconv.Itoa(pubs*subs) })
		}
		after, _ := x.a.Broker().Stats("ps")
		perPub := float64(after.RemoteSent-before.RemoteSent) / pubs
		t.Logf("%d publications to %d subscribers on 2 other nodes: %.2f network messages per publication", pubs, 2*subs, perPub)
		if perPub != 2 {
			t.Errorf("%.2f network messages per publication, want 2 (one per node with subscribers)", perPub)
		}
		// They went on the data link, one frame each.
		if ls, ok := x.a.Broker().LinkStats(); !ok || ls.FramesSent-linkBefore.FramesSent != after.RemoteSent-before.RemoteSent {
			t.Errorf("data link frames sent during the publications: %d (has a link: %v), want %d",
				ls.FramesSent-linkBefore.FramesSent, ok, after.RemoteSent-before.RemoteSent)
		}
		// A publication matching nobody sends nothing.
		if err := a.Publish(ctx, "ps", "other.key", wrapperspb.Int64(0)); err != nil {
			t.Fatal(err)
		}
		if s, _ := x.a.Broker().Stats("ps"); s.RemoteSent != after.RemoteSent {
			t.Errorf("unmatched publication sent %d network messages", s.RemoteSent-after.RemoteSent)
		}
	})
	return x
}

// traffic keeps callers busy on a broker until stopped, and counts.
type traffic struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	ok     map[string]int
	errs   map[string][]error
}

// startTraffic runs one caller per exchange in exs, each sending requests
// back to back (keys vary for sticky), and, when pubs, a publisher on "ps".
func startTraffic(b *actors.Broker, exs []string, pubs bool) *traffic {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{cancel: cancel, ok: map[string]int{}, errs: map[string][]error{}}
	record := func(ex string, err error) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if err != nil {
			tr.errs[ex] = append(tr.errs[ex], err)
		} else {
			tr.ok[ex]++
		}
	}
	for _, ex := range exs {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
				_, err := request(rctx, b, ex, actors.WithKey("key-"+strconv.Itoa(i%100)))
				rcancel()
				if ctx.Err() != nil {
					return
				}
				record(ex, err)
			}
		}()
	}
	if pubs {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				record("ps", b.Publish(ctx, "ps", "t."+strconv.Itoa(i), wrapperspb.Int64(int64(i))))
				time.Sleep(time.Millisecond)
			}
		}()
	}
	return tr
}

// stop stops the callers and returns the successes and errors per exchange.
func (tr *traffic) stop() (map[string]int, map[string][]error) {
	tr.cancel()
	tr.wg.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.ok, tr.errs
}

func (tr *traffic) count(ex string) (ok, errs int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.ok[ex], len(tr.errs[ex])
}

// TestClusterAuthorityFailover kills (SIGKILL) the node that hosts an
// exchange's authority while callers keep sending: the exchange must work
// again on the survivors within 2 s, keep its surviving handlers, its leader
// (which lives on a survivor) and its subscriptions, and never show two
// leaders; requests in flight to the killed node fail with ErrNodeDown
// within 1 s.
func TestClusterAuthorityFailover(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	const subs = 20
	clusterName := uniqueCluster("fo")
	ctx := testCtx(t)
	// c connects first: its handlers are the oldest, so it holds the leaders.
	c := startExChild(t, "c", clusterName, "static", "EX_HANDLERS=2", "EX_SUBS="+strconv.Itoa(subs))
	b := startExChild(t, "b", clusterName, "static", "EX_HANDLERS=2", "EX_SLOW=1", "EX_SUBS="+strconv.Itoa(subs), "NODE_PEERS="+c.addr)
	cfg, err := exConfig("a", clusterName, "static", []string{b.addr, c.addr})
	if err != nil {
		t.Fatal(err)
	}
	a := startNode(t, cfg)
	t.Cleanup(func() { // children first, as in startExClusterEnv
		_ = b.Kill()
		_ = c.Kill()
	})
	hub := a.Broker()
	waitFor(t, 5*time.Second, "a sees a,b,c", func() bool { return names(a.Members()) == "a,b,c" })
	if err := declare(ctx, a.Broker()); err != nil {
		t.Fatal(err)
	}
	for _, ex := range handlerExchanges() {
		waitFor(t, 5*time.Second, "a's table of "+ex+" lists every handler", func() bool {
			hs, _ := hub.Handlers(ex)
			return len(hs) == 4
		})
	}
	ex := ""
	for i := range failoverCandidates {
		if n := fmt.Sprintf("fo-%d", i); a.Owner(n) == b.addr {
			ex = n
			break
		}
	}
	if ex == "" {
		t.Skip("no candidate exchange has its authority on b") // 0.15% of runs
	}
	leader, _, err := hub.Leader(ex)
	if err != nil {
		t.Fatal(err)
	}
	if leader.GetNode() != "c" {
		t.Fatalf("leader of %s on %s, want c (the oldest handlers)", ex, leader.GetNode())
	}
	t.Logf("%s: authority on b (%s), leader %s on c", ex, b.addr, leader.GetId())

	tr := startTraffic(a.Broker(), []string{ex, "rr"}, true)
	defer tr.stop()
	// Requests stuck in b's slow handler.
	type result struct {
		err  error
		when time.Time
	}
	const stuck = 5
	inflight := make(chan result, stuck)
	for range stuck {
		go func() {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_, err := request(rctx, a.Broker(), "slow")
			inflight <- result{err, time.Now()}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	okBefore, errsBefore := tr.count(ex)

	killed := time.Now()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	for range stuck {
		r := <-inflight
		took := r.when.Sub(killed)
		if !errors.Is(r.err, actors.ErrNodeDown) {
			t.Errorf("in-flight request to the killed node: %v after %v, want ErrNodeDown", r.err, took)
		} else if took > time.Second {
			t.Errorf("in-flight request failed %v after the kill, want within 1s", took)
		} else {
			t.Logf("in-flight request failed with ErrNodeDown %v after the kill", took)
		}
	}

	// The exchange works again when its new authority accepts a handler.
	var newSvc *actors.Service
	var newLed atomic.Bool
	for newSvc == nil {
		sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		s, err := a.Broker().Serve(sctx, ex, actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) {
			return wrapperspb.String("a/new"), nil
		}), actors.OnLeader(func(is bool, _ *actors.Leader) {
			if is {
				newLed.Store(true)
			}
		}))
		cancel()
		if err == nil {
			newSvc = s
		} else if time.Since(killed) > 5*time.Second {
			t.Fatalf("no handler could connect to %s 5s after the kill: %v", ex, err)
		}
	}
	waitFor(t, 5*time.Second, "a's table of "+ex+": c's 2 handlers and a's new one", func() bool {
		hs, _ := hub.Handlers(ex)
		return len(hs) == 3
	})
	back := time.Since(killed)
	t.Logf("kill -9 of the authority's node: %s works again (new handler accepted, table rebuilt) after %v; authority now on %s", ex, back, a.Owner(ex))
	if back > 2*time.Second {
		t.Errorf("exchange back after %v, want within 2s", back)
	}
	// c's handlers of ex, whose authority died with b, hear SlaveDown of b's
	// handlers from the rebuilt authority; so does the watcher, whichever
	// node held its authority.
	c.await(t, 2*time.Second, "down:"+ex, func(v string) bool { return slices.Contains(strings.Split(v, ","), "b") })
	c.await(t, 2*time.Second, "slavedown", func(v string) bool { return slices.Contains(strings.Split(v, ","), "b") })
	hs, _ := hub.Handlers(ex)
	for _, h := range hs {
		if h.GetNode() == "b" {
			t.Errorf("handler %s of the killed node still listed", h.GetId())
		}
	}
	after, _, err := hub.Leader(ex)
	if err != nil || after.GetId() != leader.GetId() {
		t.Errorf("leader after failover %v (%v), want unchanged %s", after.GetId(), err, leader.GetId())
	}

	// Traffic goes on; requests to the surviving leader never stopped.
	time.Sleep(200 * time.Millisecond)
	ok, errs := tr.stop()
	t.Logf("during the test: %s %d ok (%d before the kill), %d failed (%d before); rr %d ok, %d failed; %d publications",
		ex, ok[ex], okBefore, len(errs[ex]), errsBefore, ok["rr"], len(errs["rr"]), ok["ps"])
	for _, e := range errs["rr"] {
		if !errors.Is(e, actors.ErrNodeDown) {
			t.Errorf("rr request failed with %v, want only ErrNodeDown (in flight to b)", e)
		}
	}
	if len(errs["ps"]) > 0 {
		t.Errorf("publications failed: %v", errs["ps"][:min(3, len(errs["ps"]))])
	}

	// The leader never changed: c's handler leads (again) and a's new
	// handler never led.
	// (Its lease may lapse for a moment while the authority moves: it
	// must lead again, and no other handler may lead meanwhile.)
	c.await(t, 3*time.Second, "leaders:"+ex, func(v string) bool {
		return strings.Contains(v+",", "-0,")
	})
	if newLed.Load() {
		t.Errorf("a's new handler was told it leads %s", ex)
	}

	// c's subscriptions survive: every publication reaches all of them.
	got, _ := c.Value(ctx, "received")
	base, _ := strconv.Atoi(got)
	const more = 100
	for i := range more {
		if err := a.Broker().Publish(ctx, "ps", "t.after."+strconv.Itoa(i), wrapperspb.Int64(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	c.await(t, 3*time.Second, "received", func(v string) bool {
		n, _ := strconv.Atoi(v)
		return n >= base+more*subs
	})
	if err := newSvc.Stop(ctx); err != nil {
		t.Error(err)
	}
}

// TestClusterJoin adds a fourth node while callers and a publisher keep
// going: no request fails, and no registration or subscription is lost,
// although authorities move to the new node.
func TestClusterJoin(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	const subs = 20
	x := startExCluster(t, "static", 2, subs, 0)
	a := x.a
	hub := a.Broker()
	// Not testCtx's 10 s: on 2 loaded cores under -race this test takes
	// 15-20 s, and its last steps failed on an expired context, not on
	// anything they checked.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owners := map[string]string{}
	for _, s := range testSpecs() {
		owners[s.Name] = a.Owner(s.Name)
	}
	leaders := map[string]string{}
	for _, ex := range handlerExchanges() {
		l, _, err := hub.Leader(ex)
		if err != nil {
			t.Fatal(err)
		}
		leaders[ex] = l.GetId()
	}

	exs := []string{"rr", "cons", "crr", "sticky"}
	tr := startTraffic(a.Broker(), exs, true)
	defer tr.stop()
	time.Sleep(200 * time.Millisecond)
	d := startExChild(t, "d", x.name, "static", "EX_HANDLERS=2", "EX_SUBS="+strconv.Itoa(subs), "NODE_PEERS="+a.Address())
	waitFor(t, 5*time.Second, "a sees a,b,c,d", func() bool { return names(a.Members()) == "a,b,c,d" })
	for _, ex := range handlerExchanges() {
		waitFor(t, 5*time.Second, "a's table of "+ex+" lists all 6 handlers", func() bool {
			hs, _ := hub.Handlers(ex)
			return len(hs) == 6
		})
	}
	for _, c := range x.children {
		c.await(t, 2*time.Second, "slaveup", func(v string) bool { return slices.Contains(strings.Split(v, ","), "d") })
	}
	// Authorities moved, leaders did not: every exchange has the leader it
	// had, and no handler ever stopped or started leading.
	for _, ex := range handlerExchanges() {
		if l, _, err := hub.Leader(ex); err != nil || l.GetId() != leaders[ex] {
			t.Errorf("%s: leader %s after the join (%v), was %s", ex, l.GetId(), err, leaders[ex])
		}
		// One handler, the same, leads throughout, never two at once. Its
		// lease may lapse for a moment while the authority moves (the new
		// authority's first lease round, over connections the new node
		// has just opened: a few hundred ms under -race): counted, logged,
		// and it must lead again. Within 10 s: on 2 cores shared with other
		// -race runs (load average 7), lease rounds starve for seconds, and
		// a lease gives way to safety, as it must.
		deadline := time.Now().Add(10 * time.Second)
		for {
			holders, open, lapses, overlap := map[string]bool{}, 0, 0, ""
			type span struct{ from, to int64 }
			var spans []span
			for _, c := range append(slices.Clone(x.children), d) {
				v, _ := c.Value(ctx, "leaders:"+ex)
				for _, iv := range strings.Split(v, ",") {
					h, times, ok := strings.Cut(iv, ":")
					from, to, ok2 := strings.Cut(times, "-")
					if !ok || !ok2 {
						continue
					}
					holders[h] = true
					f, _ := strconv.ParseInt(from, 10, 64)
					e, _ := strconv.ParseInt(to, 10, 64)
					if e == 0 {
						open++
						e = 1<<63 - 1
					} else {
						lapses++
					}
					spans = append(spans, span{f, e})
				}
			}
			slices.SortFunc(spans, func(p, q span) int { return cmp.Compare(p.from, q.from) })
			for i := 1; i < len(spans); i++ {
				if spans[i].from < spans[i-1].to {
					overlap = fmt.Sprintf("%v and %v", spans[i-1], spans[i])
				}
			}
			if overlap != "" || len(holders) > 1 {
				t.Errorf("%s: leaders %v, overlap %q: want one handler, never two at once", ex, holders, overlap)
				break
			}
			if open == 1 || time.Now().After(deadline) {
				if open != 1 {
					t.Errorf("%s: %d handlers lead, want 1", ex, open)
				}
				if lapses > 0 {
					t.Logf("%s: the leader's lease lapsed %d times during the join, and it led again", ex, lapses)
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	moved := 0
	for name, o := range owners {
		if a.Owner(name) != o {
			moved++
		}
	}
	time.Sleep(300 * time.Millisecond)
	ok, errs := tr.stop()
	t.Logf("join of d: authorities of %d of %d exchanges moved to it; traffic: %v ok", moved, len(owners), ok)
	for ex, es := range errs {
		t.Errorf("%s: %d calls failed during the join, e.g. %v", ex, len(es), es[0])
	}
	if moved == 0 {
		t.Log("no authority moved to d this run (placement is a hash): the join was not a move")
	}

	// Every subscription, old and new, gets every publication from now on.
	settle := func(c *exChild) int {
		var last string
		for range 50 {
			v, _ := c.Value(ctx, "received")
			if v == last {
				break
			}
			last = v
			time.Sleep(50 * time.Millisecond)
		}
		n, _ := strconv.Atoi(last)
		return n
	}
	all := append(slices.Clone(x.children), d)
	// Publications before the join reached b and c: all ok["ps"] of them.
	// Waited for, not sampled: under -race a last publication may still be
	// on its way when the count has not moved for 50 ms.
	base := map[string]int{}
	for _, c := range x.children {
		want := ok["ps"] * subs
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := c.Await(wctx, "received", func(v string) bool { return v == strconv.Itoa(want) })
		cancel()
		if err != nil {
			got := settle(c)
			t.Errorf("%s received %d copies, want %d (%d publications x %d subscribers)", c.name, got, want, ok["ps"], subs)
		}
		base[c.name] = settle(c)
	}
	base[d.name] = settle(d)
	const more = 50
	for i := range more {
		if err := a.Broker().Publish(ctx, "ps", "t.more."+strconv.Itoa(i), wrapperspb.Int64(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range all {
		want := base[c.name] + more*subs
		c.await(t, 3*time.Second, "received", func(v string) bool { return v == strconv.Itoa(want) })
	}
	nps, err := hub.Subscriptions("ps")
	if err != nil {
		t.Fatal(err)
	}
	if len(nps) != 3 {
		t.Errorf("subscriptions aggregated for %d nodes, want 3 (b, c, d): %v", len(nps), nps)
	}
}

// TestClusterStopTogether stops two nodes gracefully at the same moment, as
// when a deployment stops them together: each disconnects its handlers, which
// needs the exchanges' authorities, some of them on the other node, stopping
// too. Membership must keep running while a node's broker stops, so that the
// authorities move to the survivor; Stop then ends promptly instead of
// waiting for an acknowledgement that never comes.
func TestClusterStopTogether(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	// Two remotes shutting down at the same moment race inside protoactor:
	// endpointManager.stop writes em.connections and em.stopped
	// (remote/endpoint_manager.go:105-115 of
	// protoactor-go v0.0.0-20240822202345-3c0e61ca19c9) while an
	// endpoint writer whose peer just went away (removeEndpoint, line 248)
	// or the reader delivering to a
	// stopped actor (remoteDeliver) reads them. This test is about our Stop,
	// so its children's race reports are logged, not failures.
	x := startExClusterEnv(t, "static", 2, 0, 0, clustertest.AllowRaceEnv+"=1")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	errs := make(chan error, len(x.children))
	for _, c := range x.children {
		go func() { errs <- c.Stop(ctx) }()
	}
	for range x.children {
		if err := <-errs; err != nil {
			t.Errorf("graceful stop: %v", err)
		}
	}
	took := time.Since(start)
	t.Logf("b and c stopped together in %v", took)
	if took > 3*time.Second {
		t.Errorf("stopping took %v, want within 3s", took)
	}
}
