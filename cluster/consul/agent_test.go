package consul

// Integration tests against a real Consul agent: .ci/consul.sh start, then
// BOURSE_CONSUL_ADDR=127.0.0.1:18500 go test -race ./cluster/consul/.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/goleak"

	"github.com/bourse-go/bourse/cluster"
)

// Short timings so the tests take seconds: a node that stops refreshing is
// critical after testTTL; a blocking query returns at least every
// testWaitTime. testTTL was 1 s: under CI's full parallel -race run a
// refresh (every TTL/3) came late often enough for a live node's check to
// go critical for a moment, and a test then waited out seeWithin for a peer
// list that flapped (seen once in a CI dry run). seeWithin only bounds the
// wait: the tests go on as soon as the change is seen.
const (
	testTTL      = 2 * time.Second
	testWaitTime = time.Second
	// seeWithin bounds how long a change may take to reach a peer.
	seeWithin = 15 * time.Second
)

// agentAddr returns the test agent's address, skipping the test when there is
// none (but failing in CI, which must provide one).
func agentAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("BOURSE_CONSUL_ADDR")
	if addr == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must provide a Consul agent: .ci/consul.sh start")
		}
		t.Skip("BOURSE_CONSUL_ADDR is unset; run .ci/consul.sh start and set it to the address it prints")
	}
	return addr
}

// noLeaks makes the test fail if goroutines it started outlive its cleanups.
// Call it first: cleanups run last-registered first.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// clusterName returns a cluster name no other test run uses.
func clusterName(t *testing.T, label string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "bourse-test-" + label + "-" + hex.EncodeToString(b)
}

func testConfig(t *testing.T, addr string) Config {
	return Config{
		Address:  addr,
		TTL:      testTTL,
		WaitTime: testWaitTime,
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// recorder is an update func that keeps the latest peers and checks update's
// contract: never concurrent, never after Stop returned.
type recorder struct {
	t        *testing.T
	inUpdate atomic.Int32
	stopped  atomic.Bool // set once Stop has returned

	mu    sync.Mutex
	calls int
	peers []cluster.Peer
}

func (r *recorder) update(peers []cluster.Peer) {
	if r.inUpdate.Add(1) != 1 {
		r.t.Error("update called concurrently")
	}
	defer r.inUpdate.Add(-1)
	if r.stopped.Load() {
		r.t.Error("update called after Stop returned")
	}
	if !slices.IsSortedFunc(peers, byAddress) {
		r.t.Errorf("peers not sorted by address: %v", peers)
	}
	r.mu.Lock()
	r.calls++
	r.peers = slices.Clone(peers)
	r.mu.Unlock()
	// update may change its slice: Discovery must not compare against it.
	for i := range peers {
		peers[i].Node = "scribbled"
	}
}

func (r *recorder) snapshot() (calls int, peers []cluster.Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, slices.Clone(r.peers)
}

// waitFor polls until the latest peers satisfy cond, failing the test after
// seeWithin; it returns how long that took.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]cluster.Peer) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		calls, peers := r.snapshot()
		if calls > 0 && cond(peers) {
			return time.Since(start)
		}
		if time.Since(start) > seeWithin {
			t.Fatalf("after %v: %s: not yet; peers %v after %d updates", seeWithin, what, peers, calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// node is one started Discovery with its registration and recorder.
type node struct {
	d   *Discovery
	reg cluster.Registration
	rec *recorder
}

func (n *node) peer() cluster.Peer { return cluster.Peer{Node: n.reg.Node, Address: n.reg.Address()} }

func (n *node) stop(t *testing.T) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := n.d.Stop(ctx)
	n.rec.stopped.Store(true)
	return err
}

// startNode starts a Discovery for node name of cluster c, stopped at the
// end of the test.
func startNode(t *testing.T, addr, c, name string, port int) *node {
	t.Helper()
	d, err := New(testConfig(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	n := &node{
		d:   d,
		reg: cluster.Registration{Cluster: c, Node: name, Host: "127.0.0.1", Port: port},
		rec: &recorder{t: t},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Start(ctx, n.reg, n.rec.update); err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := n.stop(t); err != nil {
			t.Errorf("Stop(%s): %v", name, err)
		}
	})
	return n
}

func byAddress(a, b cluster.Peer) int { return strings.Compare(a.Address, b.Address) }

// exactly matches a list of peers equal to want in any order.
func exactly(want ...cluster.Peer) func([]cluster.Peer) bool {
	want = slices.Clone(want)
	slices.SortFunc(want, byAddress)
	return func(got []cluster.Peer) bool { return slices.Equal(got, want) }
}

// apiClient is a plain client for looking at the agent's state from outside.
func apiClient(t *testing.T, addr string) *api.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c, err := api.NewClient(&api.Config{Address: addr, Scheme: "http", HttpClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// instances returns the IDs of every instance of service, passing or not.
func instances(t *testing.T, c *api.Client, service string) []string {
	t.Helper()
	entries, _, err := c.Health().Service(service, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Service.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestPeersSeeEachOther(t *testing.T) {
	addr := agentAddr(t)
	noLeaks(t)
	c, other := clusterName(t, "pair"), clusterName(t, "other")

	a := startNode(t, addr, c, "a", 7001)
	b := startNode(t, addr, c, "b", 7002)
	x := startNode(t, addr, other, "x", 7003)

	both := exactly(a.peer(), b.peer())
	t.Logf("a sees a and b after %v", a.rec.waitFor(t, "a sees a and b", both))
	t.Logf("b sees a and b after %v", b.rec.waitFor(t, "b sees a and b", both))
	t.Logf("x sees only itself after %v", x.rec.waitFor(t, "x sees only x", exactly(x.peer())))

	// Let a few blocking queries time out: the other cluster never shows up
	// and an unchanged list is not reported again.
	calls, _ := a.rec.snapshot()
	time.Sleep(2*testWaitTime + 200*time.Millisecond)
	callsAfter, peers := a.rec.snapshot()
	if !both(peers) {
		t.Fatalf("a's peers changed to %v", peers)
	}
	if callsAfter != calls {
		t.Errorf("update called %d more times with no change", callsAfter-calls)
	}
}

func TestStopDeregisters(t *testing.T) {
	addr := agentAddr(t)
	noLeaks(t)
	consul := apiClient(t, addr)
	c := clusterName(t, "stop")

	a := startNode(t, addr, c, "a", 7001)
	b := startNode(t, addr, c, "b", 7002)
	a.rec.waitFor(t, "a sees a and b", exactly(a.peer(), b.peer()))

	start := time.Now()
	if err := b.stop(t); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("b's Stop took %v", time.Since(start))
	if err := b.stop(t); err != nil {
		t.Fatalf("second Stop: %v, want nil", err)
	}
	if ids := instances(t, consul, c); !slices.Equal(ids, []string{c + "/a"}) {
		t.Fatalf("instances after b's Stop: %v, want only a's (b deregistered, not just critical)", ids)
	}
	t.Logf("a drops b after %v", a.rec.waitFor(t, "a drops b", exactly(a.peer())))

	// A stopped Discovery is not started again.
	if err := b.d.Start(context.Background(), b.reg, b.rec.update); !errors.Is(err, ErrStopped) {
		t.Fatalf("Start after Stop = %v, want ErrStopped", err)
	}
	// Nor is a running one started twice.
	if err := a.d.Start(context.Background(), a.reg, a.rec.update); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
}

func TestNodeThatStopsRefreshingDisappears(t *testing.T) {
	addr := agentAddr(t)
	noLeaks(t)
	consul := apiClient(t, addr)
	c := clusterName(t, "hang")

	a := startNode(t, addr, c, "a", 7001)
	b := startNode(t, addr, c, "b", 7002)
	a.rec.waitFor(t, "a sees a and b", exactly(a.peer(), b.peer()))

	// b hangs: its agent is fine, but it no longer passes its check.
	b.d.refreshPaused.Store(true)
	gone := a.rec.waitFor(t, "a drops the hung b", exactly(a.peer()))
	t.Logf("a drops b %v after b stopped refreshing (TTL %v, refresh %v)", gone, testTTL, a.d.cfg.RefreshInterval)
	if gone < testTTL-a.d.cfg.RefreshInterval {
		t.Errorf("b dropped after %v, before its TTL could expire", gone)
	}
	// Critical, still registered until DeregisterAfter.
	if ids := instances(t, consul, c); !slices.Equal(ids, []string{c + "/a", c + "/b"}) {
		t.Errorf("instances: %v, want a and b (b critical)", ids)
	}

	// b recovers: it is a peer again.
	b.d.refreshPaused.Store(false)
	t.Logf("a sees b again %v after it resumed", a.rec.waitFor(t, "a sees b again", exactly(a.peer(), b.peer())))
}

// After the agent forgets a node (as when it restarts), the node registers
// again on its next refresh.
func TestReregistersWhenAgentForgets(t *testing.T) {
	addr := agentAddr(t)
	noLeaks(t)
	consul := apiClient(t, addr)
	c := clusterName(t, "forget")

	a := startNode(t, addr, c, "a", 7001)
	a.rec.waitFor(t, "a sees itself", exactly(a.peer()))
	if err := consul.Agent().ServiceDeregister(a.d.id); err != nil {
		t.Fatal(err)
	}
	a.rec.waitFor(t, "a sees nobody", exactly())
	t.Logf("a is back after %v", a.rec.waitFor(t, "a is back", exactly(a.peer())))
}

func TestStartUnavailable(t *testing.T) {
	noLeaks(t)
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	d, err := New(testConfig(t, closed))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{t: t}
	reg := cluster.Registration{Cluster: "c", Node: "n", Host: "127.0.0.1", Port: 7001}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err = d.Start(ctx, reg, rec.update)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Start against %s = %v, want ErrUnavailable", closed, err)
	}
	t.Logf("Start failed after %v: %v", time.Since(start), err)
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("Stop after a failed Start = %v, want nil", err)
	}
	if calls, _ := rec.snapshot(); calls != 0 {
		t.Fatalf("update called %d times", calls)
	}
}

func TestStopBeforeStart(t *testing.T) {
	d, err := New(Config{Address: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := d.Stop(context.Background()); err != nil {
			t.Fatalf("Stop #%d = %v", i+1, err)
		}
	}
	err = d.Start(context.Background(), cluster.Registration{Cluster: "c", Node: "n", Host: "h", Port: 1},
		func([]cluster.Peer) {})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("Start after Stop = %v, want ErrStopped", err)
	}
}
