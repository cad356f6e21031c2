//go:build !race

// These tests run several actor systems with protoactor remote in one process.
// remote.Start writes grpc's global logger on every call
// (remote/server.go:61 of protoactor-go v0.0.0-20240822202345-3c0e61ca19c9,
// grpclog.SetLoggerV2), which races with the other
// systems' running servers, so under -race they cannot run in one process:
// the multi-process tests in package cluster cover the same paths with -race.

package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/internal/wiring"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// testNode is one actor system with remote on loopback and a hub: several of
// them in one test process make a cluster whose messages really cross gRPC.
type testNode struct {
	name   string
	sys    *actor.ActorSystem
	remote *remote.Remote
	hub    *exchange.Hub
	wire   wiring.Hub // what package cluster drives
}

// transport is how the in-process nodes' hubs reach each other: "link" (the
// data link, as cluster nodes do by default) or "remote" (protoactor remote
// only, as with cluster.DataPortOff).
type transport string

var transports = []transport{"link", "remote"}

// forTransports runs test once per transport, as subtests.
func forTransports(t *testing.T, test func(*testing.T, transport)) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) { test(t, tr) })
	}
}

func startNodes(t *testing.T, n int, tr transport) []*testNode { return startNodesB(t, n, tr) }

func startNodesB(t testing.TB, n int, tr transport) []*testNode {
	t.Helper()
	var nodes []*testNode
	for i := range n {
		sys := newSystem()
		r := remote.NewRemote(sys, remote.Configure("127.0.0.1", 0, remoteOptions()...))
		r.Start()
		cfg := exchange.DefaultConfig()
		cfg.Node = fmt.Sprintf("n%d", i+1)
		if tr == "link" {
			cfg.DataAddr = "127.0.0.1:0"
		}
		h, err := exchange.New(sys, cfg)
		if err != nil {
			t.Fatal(err)
		}
		tn := &testNode{name: cfg.Node, sys: sys, remote: r, hub: h, wire: wiring.HubOf(sys)}
		nodes = append(nodes, tn)
	}
	// Every hub first, then every remote: a hub still running sends its
	// control messages (lease renewals, table acknowledgements) to the
	// others, and remote would dial a stopped one again and again.
	t.Cleanup(func() {
		for _, n := range nodes {
			if n.hub != nil {
				_ = n.hub.Stop(context.Background())
			}
		}
		// What was sent before the hubs stopped arrives while remote still
		// runs, as cluster.Node.Stop lets it (drainAfterLeave).
		time.Sleep(50 * time.Millisecond)
		for _, n := range nodes {
			n.stop()
		}
	})
	setMembers(nodes...)
	return nodes
}

func (n *testNode) stop() {
	if n.sys == nil {
		return
	}
	if n.hub != nil {
		_ = n.hub.Stop(context.Background())
	}
	n.remote.Shutdown(false)
	n.sys.Shutdown()
	n.hub, n.sys = nil, nil
}

func setMembers(nodes ...*testNode) {
	var ms []wiring.Member
	for _, n := range nodes {
		ms = append(ms, wiring.Member{Node: n.name, Address: n.sys.Address(), Data: n.wire.DataAddress()})
	}
	for _, n := range nodes {
		setView(n.wire, ms)
	}
}

// setView tells w that ms are alive, with a quorum, and that every node it
// knew and ms leaves out is dead.
func setView(w wiring.Hub, ms []wiring.Member) {
	dead := map[string]bool{}
	for _, m := range w.Members() {
		dead[m.Address] = true
	}
	for _, m := range ms {
		delete(dead, m.Address)
	}
	w.SetView(wiring.View{Members: ms, Quorum: true, Dead: dead})
}

func declareAll(t *testing.T, nodes []*testNode, specs ...exchange.Spec) {
	declareAllB(t, nodes, specs...)
}

func declareAllB(t testing.TB, nodes []*testNode, specs ...exchange.Spec) {
	t.Helper()
	for _, n := range nodes {
		for _, s := range specs {
			if err := n.hub.Declare(testCtx(t), s); err != nil {
				t.Fatalf("%s: declare %s: %v", n.name, s.Name, err)
			}
		}
	}
}

func TestClusterRequestsCrossNodes(t *testing.T) { forTransports(t, testClusterRequestsCrossNodes) }

func testClusterRequestsCrossNodes(t *testing.T, tr transport) {
	nodes := startNodes(t, 3, tr)
	declareAll(t, nodes, reqResp("rr", "round-robin"), reqResp("st", "sticky"), reqResp("cons", "consensus"))
	for _, n := range nodes[1:] {
		for _, ex := range []string{"rr", "st", "cons"} {
			connect(t, n.hub, n.sys, ex, n.name)
		}
	}
	caller := nodes[0].hub
	eventually(t, "tables reach the caller's node", func() bool {
		for _, ex := range []string{"rr", "st", "cons"} {
			if hs, _ := caller.Handlers(ex); len(hs) != 2 {
				return false
			}
		}
		return true
	})
	// round-robin alternates between the two remote handlers
	seen := map[string]int{}
	for i := range 10 {
		got, err := caller.Request(testCtx(t), "rr", str(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.Split(strOf(t, got), ":")[0]]++
	}
	if seen["n2"] != 5 || seen["n3"] != 5 {
		t.Fatalf("round-robin across nodes: %v", seen)
	}
	// a reply says which connection answered, from another node too
	ids := map[string]bool{}
	hs, _ := caller.Handlers("rr")
	for _, h := range hs {
		ids[h.GetId()] = true
	}
	froms := map[string]bool{}
	for range 2 {
		replies, err := caller.RequestAll(testCtx(t), "rr", str("who"))
		if err != nil || len(replies) != 1 || !ids[replies[0].From] {
			t.Fatalf("reply from %v (%v), want one of %v", replies, err, ids)
		}
		froms[replies[0].From] = true
	}
	if len(froms) != 2 {
		t.Fatalf("two round-robin replies came from %v", froms)
	}
	// consensus reaches the leader (n2's handler connected first) from any node
	for _, n := range nodes {
		got, err := n.hub.Request(testCtx(t), "cons", str("x"))
		if err != nil || !strings.HasPrefix(strOf(t, got), "n2:") {
			t.Fatalf("consensus from %s: %v, %v", n.name, got, err)
		}
	}
	// sticky: a key reaches the same handler from every node
	for k := range 20 {
		key := fmt.Sprintf("k%d", k)
		var first string
		for _, n := range nodes {
			got, err := n.hub.Request(testCtx(t), "st", str("x"), exchange.WithKey(key))
			if err != nil {
				t.Fatal(err)
			}
			who := strings.Split(strOf(t, got), ":")[0]
			if first == "" {
				first = who
			} else if who != first {
				t.Fatalf("key %s: %s from %s, %s from n1", key, who, n.name, first)
			}
		}
	}
	// a handler error crosses the wire with its identity
	r := &recorder{name: "bad", reply: func(req *exchange.Request) { req.Fail(fmt.Errorf("nope: %w", exchange.ErrRejected)) }}
	declareAll(t, nodes, reqResp("bad", "round-robin"))
	if _, err := nodes[2].hub.Connect(testCtx(t), "bad", spawnRecorder(t, nodes[2].sys, r)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bad handler visible", func() bool { hs, _ := caller.Handlers("bad"); return len(hs) == 1 })
	if _, err := caller.Request(testCtx(t), "bad", str("x")); !errors.Is(err, exchange.ErrRejected) {
		t.Fatalf("remote rejection: %v", err)
	}
	// The requests took the transport under test, and no other.
	ls, ok := caller.LinkStats()
	switch {
	case tr == "link" && (!ok || ls.FramesSent == 0 || ls.FramesReceived != ls.FramesSent || ls.Writes == 0 || ls.PeerFailures != 0):
		t.Fatalf("data link of the caller: %+v (has one: %v), want as many frames received as sent, no failure", ls, ok)
	case tr == "remote" && ok:
		t.Fatalf("a hub without DataAddr has a data link: %+v", ls)
	}
	// The link measures its round-trip time to each node it sent to (a
	// ping a second).
	if tr == "link" {
		eventually(t, "a round-trip time to n2 and n3", func() bool {
			n := 0
			for _, p := range caller.LinkPeers() {
				if p.RTT > 0 && p.SmoothedRTT > 0 && !p.RTTAt.IsZero() {
					n++
				}
			}
			return n == 2
		})
		t.Logf("the caller's data link: %+v", caller.LinkPeers())
	}
}

func TestClusterPublicationsOneMessagePerNode(t *testing.T) {
	forTransports(t, testClusterPublicationsOneMessagePerNode)
}

func testClusterPublicationsOneMessagePerNode(t *testing.T, tr transport) {
	nodes := startNodes(t, 3, tr)
	declareAll(t, nodes, pubSub("prices"))
	var got [3]atomic.Int64
	props := func(i int) *actor.Props {
		return actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*exchange.Publication); ok {
				got[i].Add(1)
			}
		})
	}
	// 50 subscribers on n2, 30 on n3, none on n1 (the publisher's node).
	for i, count := range map[int]int{1: 50, 2: 30} {
		for range count {
			if _, err := nodes[i].hub.Subscribe(testCtx(t), "prices", "prices.*.AAPL", nodes[i].sys.Root.Spawn(props(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, "subscriptions reach n1", func() bool { s, _ := nodes[0].hub.Subscriptions("prices"); return len(s) == 2 })
	const pubs = 100
	for i := range pubs {
		if _, err := nodes[0].hub.Publish(testCtx(t), "prices", "prices.nyse.AAPL", wrapperspb.Double(float64(i))); err != nil {
			t.Fatal(err)
		}
		// not matching anyone: no network message
		if _, err := nodes[0].hub.Publish(testCtx(t), "prices", "prices.nyse.MSFT", wrapperspb.Double(float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "all deliveries", func() bool { return got[1].Load() == 50*pubs && got[2].Load() == 30*pubs })
	st, _ := nodes[0].hub.Stats("prices")
	if st.RemoteSent != 2*pubs {
		t.Fatalf("network messages = %d for %d publications to 2 nodes, want %d", st.RemoteSent, pubs, 2*pubs)
	}
	t.Logf("%d publications, %d subscribers on 2 nodes: %d network messages (%.1f per publication)",
		pubs, 80, st.RemoteSent, float64(st.RemoteSent)/pubs)
}

func TestClusterAuthorityFailover(t *testing.T) { forTransports(t, testClusterAuthorityFailover) }

func testClusterAuthorityFailover(t *testing.T, tr transport) {
	nodes := startNodes(t, 3, tr)
	declareAll(t, nodes, reqResp("ha", "consensus"), pubSub("ha-news"))
	owner := nodes[0].wire.Owner("ha")
	var victim *testNode
	var survivors []*testNode
	for _, n := range nodes {
		if n.sys.Address() == owner {
			victim = n
		} else {
			survivors = append(survivors, n)
		}
	}
	// The oldest handler (the leader) lives on a survivor; the authority's
	// node has a handler and a subscriber too.
	connect(t, survivors[0].hub, survivors[0].sys, "ha", survivors[0].name)
	connect(t, victim.hub, victim.sys, "ha", victim.name)
	connect(t, survivors[1].hub, survivors[1].sys, "ha", survivors[1].name)
	sub, _ := subscribe(t, survivors[1].hub, survivors[1].sys, "ha-news", "#")
	eventually(t, "3 handlers everywhere", func() bool {
		for _, n := range nodes {
			if hs, _ := n.hub.Handlers("ha"); len(hs) != 3 {
				return false
			}
		}
		return true
	})
	leader, _, _ := survivors[1].hub.Leader("ha")
	if leader.GetNode() != survivors[0].name {
		t.Fatalf("leader on %s, want %s", leader.GetNode(), survivors[0].name)
	}
	start := time.Now()
	victim.stop()
	setMembers(survivors...)
	eventually(t, "survivors route again", func() bool {
		for _, n := range survivors {
			if n.wire.Owner("ha") == owner {
				return false
			}
			hs, _ := n.hub.Handlers("ha")
			if len(hs) != 2 {
				return false
			}
			got, err := n.hub.Request(testCtx(t), "ha", str("x"))
			if err != nil || !strings.HasPrefix(strOf(t, got), survivors[0].name+":") {
				return false
			}
		}
		return true
	})
	t.Logf("exchange back on the survivors in %v (membership change applied directly)", time.Since(start))
	for _, n := range survivors {
		if l, _, _ := n.hub.Leader("ha"); l.GetId() != leader.GetId() {
			t.Fatalf("%s: leader %s, was %s", n.name, l.GetId(), leader.GetId())
		}
	}
	// The subscription on a survivor was kept by the rebuilt authority.
	eventually(t, "publication reaches the surviving subscriber", func() bool {
		_, _ = survivors[0].hub.Publish(testCtx(t), "ha-news", "x", str("after failover"))
		return len(sub.got()) > 0
	})
}

func TestClusterNodeDownFailsInFlight(t *testing.T) {
	forTransports(t, testClusterNodeDownFailsInFlight)
}

func testClusterNodeDownFailsInFlight(t *testing.T, tr transport) {
	nodes := startNodes(t, 2, tr)
	declareAll(t, nodes, reqResp("slow", "round-robin"))
	r := &recorder{name: "hang", reply: func(*exchange.Request) {}} // never answers
	if _, err := nodes[1].hub.Connect(testCtx(t), "slow", spawnRecorder(t, nodes[1].sys, r)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "handler visible on n1", func() bool { hs, _ := nodes[0].hub.Handlers("slow"); return len(hs) == 1 })
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := nodes[0].hub.Request(ctx, "slow", str("x"))
		errc <- err
	}()
	eventually(t, "request reached the handler", func() bool { return r.count() == 1 })
	start := time.Now()
	setMembers(nodes[0]) // n2 is gone
	select {
	case err := <-errc:
		if !errors.Is(err, exchange.ErrNodeDown) {
			t.Fatalf("err = %v, want ErrNodeDown", err)
		}
		t.Logf("in-flight request failed %v after the node left", time.Since(start))
	case <-time.After(time.Second):
		t.Fatal("in-flight request still waiting 1 s after its node left")
	}
}

// remoteOptions turns off gRPC's bandwidth-delay estimation by fixing the flow
// control windows: with it on, every small message made the receiver write a
// WINDOW_UPDATE and a PING and the sender a PING ACK (strace: 4.7 writes per
// request-response cycle instead of 2), which cost more than the messages.
func remoteOptions() []remote.ConfigOption {
	const window = 1 << 20
	return []remote.ConfigOption{
		remote.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(4*window)),
		remote.WithServerOptions(grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(4*window)),
	}
}

// Issue 11, findings 1 and 4: the moment membership drops a node, the
// caller's node routes around its handlers and names no leader on it,
// without waiting for the authority's next table; a silent (not known dead)
// leader is replaced only after its lease, a dead one at once.
func TestClusterViewDropsNodeAtOnce(t *testing.T) { forTransports(t, testClusterViewDropsNodeAtOnce) }

func testClusterViewDropsNodeAtOnce(t *testing.T, tr transport) {
	nodes := startNodes(t, 3, tr)
	declareAll(t, nodes, reqResp("ff-rr", "round-robin"), reqResp("ff-lead", "consensus"))
	connect(t, nodes[1].hub, nodes[1].sys, "ff-lead", "n2") // the oldest: the leader
	connect(t, nodes[2].hub, nodes[2].sys, "ff-lead", "n3")
	connect(t, nodes[1].hub, nodes[1].sys, "ff-rr", "n2")
	connect(t, nodes[2].hub, nodes[2].sys, "ff-rr", "n3")
	eventually(t, "n1 routes to both", func() bool {
		hs, _ := nodes[0].hub.Handlers("ff-rr")
		l, _, err := nodes[0].hub.Leader("ff-lead")
		return len(hs) == 2 && err == nil && l.GetNode() == "n2"
	})

	// n1 alone is told n2 went silent (a freeze or a cut: not known dead).
	n1, n3 := nodes[0], nodes[2]
	view := []wiring.Member{
		{Node: n1.name, Address: n1.sys.Address(), Data: n1.wire.DataAddress()},
		{Node: n3.name, Address: n3.sys.Address(), Data: n3.wire.DataAddress()},
	}
	n1.wire.SetView(wiring.View{Members: view, Quorum: true})
	// At once, before any authority spoke again:
	hs, _ := n1.hub.Handlers("ff-rr")
	if len(hs) != 1 || hs[0].GetNode() != "n3" {
		t.Fatalf("n1 still routes to %v after dropping n2", hs)
	}
	if l, _, err := n1.hub.Leader("ff-lead"); err == nil && l.GetNode() == "n2" {
		t.Fatal("n1 still names n2's handler leader after dropping n2")
	}
	for i := range 50 {
		start := time.Now()
		reply, err := n1.hub.Request(testCtx(t), "ff-rr", str(fmt.Sprint(i)), exchange.WithTimeout(2*time.Second))
		if err != nil || !strings.HasPrefix(strOf(t, reply), "n3") {
			t.Fatalf("request %d: %v %v after %v", i, reply, err, time.Since(start))
		}
	}
	// The consensus exchange fails fast or reaches the successor, never waits.
	start := time.Now()
	_, err := n1.hub.Request(testCtx(t), "ff-lead", str("x"), exchange.WithTimeout(2*time.Second))
	if err != nil && !errors.Is(err, exchange.ErrNoLeader) || time.Since(start) > time.Second {
		t.Fatalf("consensus request while its leader's node is down: %v after %v", err, time.Since(start))
	}
}

// Issue 11, finding 5: when Subscribe returns, every node that may publish
// routes to the new subscription: the first publication from any node
// reaches it.
func TestClusterSubscribeReturnsWhenRouted(t *testing.T) {
	forTransports(t, testClusterSubscribeReturnsWhenRouted)
}

func testClusterSubscribeReturnsWhenRouted(t *testing.T, tr transport) {
	nodes := startNodes(t, 3, tr)
	declareAll(t, nodes, pubSub("sr-feed"))
	for i := range 30 {
		key := fmt.Sprintf("k%d.x", i)
		var got atomic.Int64
		pid := nodes[2].sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*exchange.Publication); ok {
				got.Add(1)
			}
		}))
		if _, err := nodes[2].hub.Subscribe(testCtx(t), "sr-feed", fmt.Sprintf("k%d.*", i), pid); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes[:2] {
			if _, err := n.hub.Publish(testCtx(t), "sr-feed", key, str("first")); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "both first publications", func() bool { return got.Load() == 2 })
		stopActor(t, nodes[2].sys, pid)
	}
}

// viewsOf returns a maker of views of nodes, as the cluster layer would
// give them: the members among ns, the quorum given, and every node counted
// for the quorum (so lease rounds need a majority of all of them); and the
// nodes by address.
func viewsOf(nodes []*testNode) (func(quorum bool, ns ...*testNode) wiring.View, map[string]*testNode) {
	var all []wiring.Member
	var addrs []string
	byAddr := map[string]*testNode{}
	for _, n := range nodes {
		all = append(all, wiring.Member{Node: n.name, Address: n.sys.Address(), Data: n.wire.DataAddress()})
		addrs = append(addrs, n.sys.Address())
		byAddr[n.sys.Address()] = n
	}
	return func(quorum bool, ns ...*testNode) wiring.View {
		v := wiring.View{Quorum: quorum, Cluster: addrs}
		for _, m := range all {
			for _, n := range ns {
				if m.Address == n.sys.Address() {
					v.Members = append(v.Members, m)
				}
			}
		}
		return v
	}, byAddr
}

// TestClusterTwoOwnersOneLeader: while views differ, two nodes may both own
// an exchange, both with a quorum (here, node q sees only itself and r, the
// owner o sees all three). Each authority then keeps a leader of its own:
// o the leader it had, q, after o's leader's lease, one that it sees. Lease
// rounds (vote.go) must keep the two from leading at once: a majority
// confirms only one term at a time, so only one authority can renew.
func TestClusterTwoOwnersOneLeader(t *testing.T) {
	nodes := startNodes(t, 3, "link")
	const name = "solo"
	viewQ, byAddr := viewsOf(nodes)
	view := func(ns ...*testNode) wiring.View { return viewQ(true, ns...) }
	for _, n := range nodes {
		n.wire.SetView(view(nodes...))
	}
	o := byAddr[nodes[0].wire.Owner(name)]
	var q, r *testNode
	for _, n := range nodes {
		if n != o {
			if q == nil {
				q = n
			} else {
				r = n
			}
		}
	}
	// Which of q and r owns the exchange when they see only each other:
	// found before anything is declared, so that nothing reacts.
	q.wire.SetView(view(q, r))
	if q.wire.Owner(name) != q.sys.Address() {
		q.wire.SetView(view(nodes...))
		q, r = r, q
		q.wire.SetView(view(q, r))
	}
	if q.wire.Owner(name) != q.sys.Address() {
		t.Fatalf("placement: %s owns %s when it sees %s and %s", q.wire.Owner(name), name, q.name, r.name)
	}
	q.wire.SetView(view(nodes...))

	declareAll(t, nodes, reqResp(name, "consensus"))
	conns := map[string]*exchange.Connection{}
	_, _, conns[o.name] = connect(t, o.hub, o.sys, name, "h-"+o.name)
	eventually(t, "o's handler leads", conns[o.name].IsLeader)
	_, _, conns[q.name] = connect(t, q.hub, q.sys, name, "h-"+q.name)
	_, _, conns[r.name] = connect(t, r.hub, r.sys, name, "h-"+r.name)

	var overlap, longest time.Duration
	var since time.Time
	watch := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			n := 0
			for _, c := range conns {
				if c.IsLeader() {
					n++
				}
			}
			now := time.Now()
			switch {
			case n > 1 && since.IsZero():
				since = now
			case n <= 1 && !since.IsZero():
				overlap += now.Sub(since)
				longest = max(longest, now.Sub(since))
				since = time.Time{}
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	q.wire.SetView(view(q, r)) // q stops seeing o: two owners
	watch(3 * time.Second)
	q.wire.SetView(view(nodes...))
	watch(2 * time.Second)
	if overlap > 0 {
		t.Fatalf("two handlers led at once for %v in all (longest %v)", overlap, longest)
	}
	eventually(t, "one leader after the views agree", func() bool {
		n := 0
		for _, c := range conns {
			if c.IsLeader() {
				n++
			}
		}
		return n == 1
	})
}

// TestClusterWrongTypeCrossesNodes: a handler on another node that refuses
// a request of the wrong type (as actors.ServeFunc does) fails the caller
// with a *WrongTypeError carrying the same types, over either transport.
func TestClusterWrongTypeCrossesNodes(t *testing.T) {
	forTransports(t, testClusterWrongTypeCrossesNodes)
}

func testClusterWrongTypeCrossesNodes(t *testing.T, tr transport) {
	nodes := startNodes(t, 2, tr)
	declareAll(t, nodes, reqResp("typed", "round-robin"))
	want := &exchange.WrongTypeError{Of: "request", Want: "*pb.Order", Got: "*wrapperspb.StringValue"}
	r := &recorder{name: "typed", reply: func(m *exchange.Request) { m.Fail(want) }}
	if _, err := nodes[1].hub.Connect(testCtx(t), "typed", spawnRecorder(t, nodes[1].sys, r)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "handler visible on n1", func() bool { hs, _ := nodes[0].hub.Handlers("typed"); return len(hs) == 1 })
	_, err := nodes[0].hub.Request(testCtx(t), "typed", str("x"))
	var got *exchange.WrongTypeError
	if !errors.As(err, &got) || *got != *want || !errors.Is(err, exchange.ErrWrongType) || !errors.Is(err, exchange.ErrInvalid) {
		t.Fatalf("err = %#v, want %#v", err, want)
	}
	if msg := `bourse: exchange "typed": wrong type of request: want *pb.Order, got *wrapperspb.StringValue`; err.Error() != msg {
		t.Fatalf("message %q, want %q", err.Error(), msg)
	}
}
