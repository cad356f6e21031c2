package cluster_test

// The scenarios run one node in the test process and the others in child
// processes, as the product runs, and every test that starts a node in the
// test process runs in a process of its own (clustertest.Isolate). Two nodes
// in one process, even one after the other, are reported by the race
// detector: protoactor remote's Start sets grpc's global logger
// (remote/server.go:61 of protoactor-go v0.0.0-20240822202345-3c0e61ca19c9,
// grpclog.SetLoggerV2) while the grpc goroutines of
// nodes started before read it.

import (
	"context"
	"errors"
	"net"
	"reflect"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/internal/wiring"
	"go.uber.org/goleak"
)

func asWiring(ms []cluster.Member) []wiring.Member {
	out := make([]wiring.Member, len(ms))
	for i, m := range ms {
		out[i] = wiring.Member{Node: m.Node, Address: m.Address}
	}
	return out
}

// checkHub checks that n's hub was told n's current view.
func checkHub(t testing.TB, n *cluster.Node) {
	t.Helper()
	if got, want := hubString(wiring.HubOf(n.Broker().System()).Members()), hubString(asWiring(n.Members())); got != want {
		t.Errorf("%s's hub has %s, want %s", n.Name(), got, want)
	}
}

// start3 starts c (lists nobody) and b (lists c) in child processes, then a
// (lists b and c) in this process, and waits until all three have the same
// view: c learns of a and b from their heartbeats alone.
func start3(t *testing.T) (a *cluster.Node, b, c *child) {
	t.Helper()
	c = startChild(t, "c")
	b = startChild(t, "b", "NODE_PEERS="+c.addr)
	start := time.Now()
	a = startNode(t, testConfig("a", b.addr, c.addr))
	waitFor(t, 3*time.Second, "a sees a,b,c", func() bool { return names(a.Members()) == "a,b,c" })
	want := viewString(a.Members())
	b.awaitMembers(t, 3*time.Second, want)
	c.awaitMembers(t, 3*time.Second, want)
	t.Logf("3 nodes converged %v after a started", time.Since(start))
	return a, b, c
}

func TestThreeNodesSeeEachOther(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	a, b, c := start3(t)
	view := a.Members()
	for _, m := range view {
		switch m.Node {
		case "a":
			if !reflect.DeepEqual(m, a.Self()) {
				t.Errorf("a is %v in its view, want %v", m, a.Self())
			}
		case "b", "c":
			ch := map[string]*child{"b": b, "c": c}[m.Node]
			if m.Address != ch.addr || m.Incarnation != ch.inc {
				t.Errorf("%s is %v, want address %s incarnation %d", m.Node, m, ch.addr, ch.inc)
			}
		}
	}
	checkHub(t, a)
	ctx := testCtx(t)
	for _, ch := range []*child{b, c} {
		hub, err := ch.Value(ctx, "hub")
		if err != nil {
			t.Fatal(err)
		}
		if want := hubString(asWiring(view)); hub != want {
			t.Errorf("%s's hub has %s, want %s", ch.name, hub, want)
		}
	}
}

func TestGracefulStopLeavesAtOnce(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	a, b, c := start3(t)
	events, cancel := a.Subscribe()
	defer cancel()

	// A child node stops: a and b drop it at once.
	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- c.Stop(context.Background()) }()
	ev := waitEvent(t, events, 2*time.Second, "c down", func(ev cluster.MembershipEvent) bool {
		return ev.Type == cluster.MemberDown && ev.Member.Node == "c"
	})
	seen := time.Since(start)
	if err := <-stopped; err != nil {
		t.Fatalf("c exited with %v", err)
	}
	if ev.Reason != cluster.ReasonLeft {
		t.Errorf("reason %q, want %q", ev.Reason, cluster.ReasonLeft)
	}
	if names(ev.Members) != "a,b" || viewString(ev.Members) != viewString(a.Members()) {
		t.Errorf("event view %s, node view %s, want a,b", viewString(ev.Members), viewString(a.Members()))
	}
	checkHub(t, a)
	b.awaitMembers(t, 2*testInterval, viewString(a.Members()))
	t.Logf("graceful leave of a child process: a saw it down %v after the parent asked it to stop", seen)

	// The in-process node stops: b drops it at once.
	start = time.Now()
	if err := a.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	stopTook := time.Since(start)
	took := b.awaitMembers(t, 2*testInterval, viewString([]cluster.Member{{Node: "b", Address: b.addr, Incarnation: b.inc}}))
	t.Logf("graceful leave: a.Stop took %v; b's view lacked a %v after Stop returned", stopTook, took)
	if err := a.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, open := <-events; open {
		// drain what was left; the channel must end closed
		for range events {
		}
	}
}

// TestKilledProcessIsDetected kills a node with SIGKILL: remote loses the
// connection at once and the port refuses connections, so the peers drop it
// within milliseconds. The node is then restarted at the same address: it is
// a new member.
func TestKilledProcessIsDetected(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	a := startNode(t, testConfig("a"))
	b := startChild(t, "b", "NODE_PEERS="+a.Address())
	events, cancel := a.Subscribe()
	defer cancel()
	waitFor(t, 3*time.Second, "a sees b", func() bool { return names(a.Members()) == "a,b" })
	// b has heard from a: a's connection to b is up.
	b.awaitMembers(t, 3*time.Second, viewString(a.Members()))

	start := time.Now()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, events, 2*testSuspectAfter, "b down", func(ev cluster.MembershipEvent) bool {
		return ev.Type == cluster.MemberDown && ev.Member.Node == "b"
	})
	took := time.Since(start)
	t.Logf("kill -9: a saw b down after %v (reason %s; SuspectAfter %v)", took, ev.Reason, testSuspectAfter)
	if ev.Reason != cluster.ReasonTerminated {
		t.Errorf("reason %q, want %q", ev.Reason, cluster.ReasonTerminated)
	}
	if ev.Member.Incarnation != b.inc {
		t.Errorf("down member %v, want incarnation %d", ev.Member, b.inc)
	}
	checkHub(t, a)

	// Restart at the same address: a new incarnation, seen as a new member.
	_, port, _ := net.SplitHostPort(b.addr)
	start = time.Now()
	b2 := startChild(t, "b", "NODE_PEERS="+a.Address(), "NODE_PORT="+port)
	if b2.addr != b.addr || b2.inc <= b.inc {
		t.Fatalf("restarted b at %s incarnation %d; first was %s incarnation %d", b2.addr, b2.inc, b.addr, b.inc)
	}
	ev = waitEvent(t, events, 3*time.Second, "b up again", func(ev cluster.MembershipEvent) bool {
		return ev.Type == cluster.MemberUp && ev.Member.Node == "b"
	})
	if ev.Member.Incarnation != b2.inc {
		t.Errorf("up member %v, want incarnation %d", ev.Member, b2.inc)
	}
	b2.awaitMembers(t, 3*time.Second, viewString(a.Members()))
	t.Logf("restart: a saw the new b %v after its process started", time.Since(start))
	checkHub(t, a)
}

// TestSilentProcessIsDetected freezes a node with SIGSTOP: its connections
// stay open, it just says nothing. It is declared dead after SuspectAfter,
// and taken back (same incarnation) when it resumes.
func TestSilentProcessIsDetected(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	a := startNode(t, testConfig("a"))
	b := startChild(t, "b", "NODE_PEERS="+a.Address())
	events, cancel := a.Subscribe()
	defer cancel()
	waitFor(t, 3*time.Second, "a sees b", func() bool { return names(a.Members()) == "a,b" })
	b.awaitMembers(t, 3*time.Second, viewString(a.Members()))

	start := time.Now()
	if err := b.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, events, 3*testSuspectAfter, "b down", func(ev cluster.MembershipEvent) bool {
		return ev.Type == cluster.MemberDown && ev.Member.Node == "b"
	})
	took := time.Since(start)
	t.Logf("silence: a saw b down after %v (reason %s; SuspectAfter %v, HeartbeatInterval %v)", took, ev.Reason, testSuspectAfter, testInterval)
	if ev.Reason != cluster.ReasonSilent {
		t.Errorf("reason %q, want %q", ev.Reason, cluster.ReasonSilent)
	}
	if took < testSuspectAfter-testInterval {
		t.Errorf("declared dead after %v, before SuspectAfter %v", took, testSuspectAfter)
	}
	checkHub(t, a)

	if err := b.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	ev = waitEvent(t, events, 3*time.Second, "b up again", func(ev cluster.MembershipEvent) bool {
		return ev.Type == cluster.MemberUp && ev.Member.Node == "b"
	})
	if ev.Member.Incarnation != b.inc {
		t.Errorf("b came back as incarnation %d, want %d", ev.Member.Incarnation, b.inc)
	}
	b.awaitMembers(t, 3*time.Second, viewString(a.Members()))
	t.Logf("resumed b is back after %v", time.Since(start))
}

func TestClustersStaySeparate(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	a := startNode(t, testConfig("a"))
	y := startChild(t, "y", "NODE_CLUSTER=other", "NODE_PEERS="+a.Address())
	x := startChild(t, "x", "NODE_PEERS="+a.Address()+","+y.addr)
	waitFor(t, 3*time.Second, "a sees x", func() bool { return names(a.Members()) == "a,x" })
	x.awaitMembers(t, 3*time.Second, viewString(a.Members()))
	// Several heartbeat rounds later, y is still alone and nobody sees it.
	time.Sleep(5 * testInterval)
	if got := names(a.Members()); got != "a,x" {
		t.Errorf("a sees %s, want a,x", got)
	}
	ctx := testCtx(t)
	for _, ch := range []*child{x, y} {
		v, err := ch.Value(ctx, "members")
		if err != nil {
			t.Fatal(err)
		}
		want := viewString(a.Members())
		if ch == y {
			want = viewString([]cluster.Member{{Node: "y", Address: y.addr, Incarnation: y.inc}})
		}
		if v != want {
			t.Errorf("%s sees %s, want %s", ch.name, v, want)
		}
	}
}

// TestStopLeavesNoGoroutine runs a node that talked to a peer, stops both and
// checks that no goroutine is left.
func TestStopLeavesNoGoroutine(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	cfg := testConfig("a")
	a, err := cluster.Start(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := startChild(t, "b", "NODE_PEERS="+a.Address())
	waitFor(t, 3*time.Second, "a sees b", func() bool { return names(a.Members()) == "a,b" })
	b.awaitMembers(t, 3*time.Second, viewString(a.Members()))
	events, cancel := a.Subscribe()
	start := time.Now()
	if err := a.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop with one peer took %v", time.Since(start))
	for range events { // closed by Stop
	}
	cancel() // after Stop: does nothing
	if err := a.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := b.Stop(testCtx(t)); err != nil {
		t.Fatalf("b exited with %v", err)
	}
	goleak.VerifyNone(t, leakOptions()...)
}

func TestSubscribe(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	a, err := cluster.Start(testCtx(t), testConfig("a"))
	if err != nil {
		t.Fatal(err)
	}
	ch1, cancel1 := a.Subscribe()
	ch2, cancel2 := a.Subscribe()
	cancel1()
	cancel1() // twice: nothing
	if _, open := <-ch1; open {
		t.Error("channel open after its cancel")
	}
	if err := a.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, open := <-ch2; open {
		t.Error("channel open after Stop")
	}
	cancel2()
	ch3, cancel3 := a.Subscribe()
	if _, open := <-ch3; open {
		t.Error("Subscribe after Stop returned an open channel")
	}
	cancel3()
	if got := a.Members(); len(got) != 1 || !reflect.DeepEqual(got[0], a.Self()) {
		t.Errorf("Members after Stop = %v", got)
	}
}

func TestStartErrors(t *testing.T) {
	t.Run("invalid config", func(t *testing.T) {
		cfg := testConfig("a")
		cfg.SuspectAfter = cfg.HeartbeatInterval
		if _, err := cluster.Start(testCtx(t), cfg); !errors.Is(err, cluster.ErrInvalidConfig) {
			t.Fatalf("Start = %v, want ErrInvalidConfig", err)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		if !clustertest.Isolate(t) {
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		cfg := testConfig("a")
		cfg.Port = l.Addr().(*net.TCPAddr).Port
		_, err = cluster.Start(testCtx(t), cfg)
		if err == nil {
			t.Fatal("Start on a port in use succeeded")
		}
		t.Logf("error: %v", err)
		goleak.VerifyNone(t, leakOptions()...)
	})
	t.Run("discovery fails", func(t *testing.T) {
		if !clustertest.Isolate(t) {
			return
		}
		cfg := testConfig("a")
		boom := errors.New("no agent")
		cfg.Discovery = failingDiscovery{boom}
		_, err := cluster.Start(testCtx(t), cfg)
		if !errors.Is(err, boom) {
			t.Fatalf("Start = %v, want %v", err, boom)
		}
		goleak.VerifyNone(t, leakOptions()...)
	})
}

// When ctx ends while Start waits to join, the discovery it started is
// stopped: a Consul registration would otherwise stay passing.
func TestStartCutShortStopsDiscovery(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	cfg := testConfig("a")
	cfg.JoinTimeout = time.Minute
	d := &silentDiscovery{}
	cfg.Discovery = d
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := cluster.Start(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want context.DeadlineExceeded", err)
	}
	if !d.stopped.Load() {
		t.Fatal("discovery not stopped after Start failed")
	}
	goleak.VerifyNone(t, leakOptions()...)
}

// silentDiscovery starts but never reports: the node waits to join.
type silentDiscovery struct{ stopped atomic.Bool }

func (*silentDiscovery) Start(context.Context, cluster.Registration, func([]cluster.Peer)) error {
	return nil
}

func (d *silentDiscovery) Stop(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d.stopped.Store(true)
	return nil
}

type failingDiscovery struct{ err error }

func (d failingDiscovery) Start(context.Context, cluster.Registration, func([]cluster.Peer)) error {
	return d.err
}
func (failingDiscovery) Stop(context.Context) error { return nil }

// Every node sees every member's labels, its own included, as the member's
// configuration gives them: b and c in child processes, a here.
func TestLabelsReachEveryMember(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	c := startChild(t, "c", "NODE_LABELS=zone=eu,bourse.io/disk=ssd")
	b := startChild(t, "b", "NODE_PEERS="+c.addr, "NODE_LABELS=zone=us")
	cfg := testConfig("a", b.addr, c.addr)
	cfg.Labels = map[string]string{"role": "gateway"}
	a := startNode(t, cfg)
	cfg.Labels["role"] = "changed after Start" // a's labels are its own copy
	const want = "a:role=gateway;b:zone=us;c:bourse.io/disk=ssd,zone=eu"
	waitFor(t, 3*time.Second, "a sees a,b,c", func() bool { return names(a.Members()) == "a,b,c" })
	if got := labelsString(a.Members()); got != want {
		t.Errorf("a sees labels %q, want %q", got, want)
	}
	for _, ch := range []*child{b, c} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if _, err := ch.Await(ctx, "labels", func(v string) bool { return v == want }); err != nil {
			t.Errorf("%s: labels: %v; want %q", ch.name, err, want)
		}
		cancel()
	}
	// Members hands out copies: changing one changes nothing in the node.
	ms := a.Members()
	for _, m := range ms {
		if m.Labels != nil {
			m.Labels["zone"] = "mars"
		}
	}
	if got := labelsString(a.Members()); got != want {
		t.Errorf("after changing a copy, a sees labels %q, want %q", got, want)
	}
}

// A peer that accepts TCP connections but never answers (a frozen process:
// its kernel completes the handshake, nothing reads) must not hold this
// node's messages to it for long once it runs again: remote's connection
// attempt gives up after remoteConnectTimeout, not gRPC's 20 s default,
// and the next heartbeat connects afresh. Likely what a chaos run in CI
// hit when it saw a node 20 s late.
func TestJoinPastSilentPeer(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	// The peer's address, taken by a listener that accepts and keeps the
	// connections without a word, as a frozen process's kernel does.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := silent.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	held := make(chan net.Conn, 16)
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held <- c
			accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-held:
				_ = c.Close()
			default:
				return
			}
		}
	})

	a := startNode(t, testConfig("a", addr))
	// a's probe, then remote's connection for its first heartbeat.
	for range 2 {
		select {
		case <-accepted:
		case <-time.After(5 * time.Second):
			t.Fatal("a never connected to its silent peer")
		}
	}
	time.Sleep(200 * time.Millisecond)
	_ = silent.Close()

	// The peer runs now, at the same address.
	start := time.Now()
	b := startChild(t, "b", "NODE_PORT="+port, "NODE_PEERS="+a.Address())
	b.awaitMembers(t, 15*time.Second, viewString(a.Members()))
	took := time.Since(start)
	t.Logf("b (at the address that was silent) sees a after %v", took)
	if took > 8*time.Second {
		t.Errorf("b saw a only after %v: a's messages to b waited out a connection attempt to the silent listener", took)
	}
}
