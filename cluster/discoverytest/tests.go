package discoverytest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster"
)

// testFirstReport: a node alone in its cluster hears from discovery soon
// after Start, with a well-formed list (checked by the recorder).
func (s *suite) testFirstReport(t *testing.T) {
	noLeaks(t)
	g := s.newGroup(t, "alone")
	a := g.start(t, 0)
	took := a.rec.waitFor(t, s.feat.Within, "a first report", func([]cluster.Peer) bool { return true })
	t.Logf("first report %v after Start returned", took)
}

// testSeesItsCluster: every node of a cluster comes to list the others, and
// no node is told of another cluster's (the recorder fails any report that
// lists a node outside the reporting node's cluster).
func (s *suite) testSeesItsCluster(t *testing.T) {
	noLeaks(t)
	g := s.newGroup(t, "a", "b", "c")
	other := s.newGroup(t, "x", "y")
	var nodes []*node
	for i := range g.regs {
		nodes = append(nodes, g.start(t, i))
	}
	for i := range other.regs {
		nodes = append(nodes, other.start(t, i))
	}
	for _, n := range nodes {
		regs := g.regs
		if n.reg.Cluster == other.regs[0].Cluster {
			regs = other.regs
		}
		took := n.rec.waitFor(t, s.feat.Within, "lists every other node of its cluster", listsAll(n.reg, regs...))
		t.Logf("%s lists its cluster's nodes after %v", n.reg.Node, took)
	}
}

// testLaterNode: a node started after the others comes to be listed by
// them.
func (s *suite) testLaterNode(t *testing.T) {
	noLeaks(t)
	g := s.newGroup(t, "a", "b", "late")
	a, b := g.start(t, 0), g.start(t, 1)
	a.rec.waitFor(t, s.feat.Within, "a lists b", listsAll(a.reg, b.reg))
	b.rec.waitFor(t, s.feat.Within, "b lists a", listsAll(b.reg, a.reg))
	late := g.start(t, 2)
	for _, n := range []*node{a, b} {
		took := n.rec.waitFor(t, s.feat.Within, "lists the late node", listsAll(n.reg, late.reg))
		t.Logf("%s lists the late node %v after its Start returned", n.reg.Node, took)
	}
}

// testStoppedNodeDropped (Features.Deregisters): once a node's Stop has
// returned, the others stop listing it.
func (s *suite) testStoppedNodeDropped(t *testing.T) {
	noLeaks(t)
	g := s.newGroup(t, "a", "b", "gone")
	a, b, gone := g.start(t, 0), g.start(t, 1), g.start(t, 2)
	for _, n := range []*node{a, b} {
		n.rec.waitFor(t, s.feat.Within, "lists every other node", listsAll(n.reg, g.regs...))
	}
	gone.stop(t)
	for _, n := range []*node{a, b} {
		took := n.rec.waitFor(t, s.feat.Within, "drops the stopped node", func(peers []cluster.Peer) bool {
			return !lists(peers, gone.reg.Address()) && listsAll(n.reg, a.reg, b.reg)(peers)
		})
		t.Logf("%s drops the stopped node %v after its Stop returned", n.reg.Node, took)
	}
}

// testStopWhileReporting: nodes come and go while a node whose update is
// slow reports them; then it stops. update is never called concurrently,
// Stop waits for a call in progress, and no call starts after Stop returned
// (the recorder checks all three).
func (s *suite) testStopWhileReporting(t *testing.T) {
	noLeaks(t)
	g := s.newGroup(t, "slow", "steady", "churn-1", "churn-2", "churn-3")
	slow := g.newNode(t, 0)
	slow.rec.delay.Store(int64(slowUpdate))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := slow.d.Start(ctx, slow.reg, slow.rec.update); err != nil {
		t.Fatalf("Start(%s): %v", slow.reg.Node, err)
	}
	t.Cleanup(func() { slow.stopAtEnd(t) })
	g.start(t, 1)
	for i := 2; i < len(g.regs); i++ {
		n := g.start(t, i)
		time.Sleep(slowUpdate / 2)
		n.stop(t)
	}
	// Stop while the churn may still be reported.
	start := time.Now()
	slow.stop(t)
	calls, _ := slow.rec.snapshot()
	t.Logf("Stop of the slow node took %v after %d reports", time.Since(start), calls)
}

// testStopIdempotent: Stop may be called again, with a live or an ended
// context, and returns the same result; Stop before Start returns nil.
func (s *suite) testStopIdempotent(t *testing.T) {
	noLeaks(t)
	g := s.newGroup(t, "a", "b", "never")
	a, b := g.start(t, 0), g.start(t, 1)
	a.rec.waitFor(t, s.feat.Within, "a lists b", listsAll(a.reg, b.reg))
	a.stop(t)
	a.stop(t)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.d.Stop(ended); err != nil {
		t.Errorf("Stop with an ended context after a Stop that returned nil = %v, want nil (idempotent)", err)
	}

	never := g.newNode(t, 2)
	for i := range 2 {
		if err := never.d.Stop(context.Background()); err != nil {
			t.Errorf("Stop #%d before Start = %v, want nil", i+1, err)
		}
	}
	never.rec.stopReturned(true)
	never.rec.report(t)
}

// testStopCancelled: Stop with a context that has ended returns nil or an
// error wrapping the context's; a later Stop with a live context finishes
// the job: it returns nil, no call of update follows, and (with
// Features.Deregisters) the other nodes drop the node.
func (s *suite) testStopCancelled(t *testing.T) {
	noLeaks(t)
	g := s.newGroup(t, "a", "b")
	a, b := g.start(t, 0), g.start(t, 1)
	a.rec.waitFor(t, s.feat.Within, "a lists b", listsAll(a.reg, b.reg))
	b.rec.waitFor(t, s.feat.Within, "b lists a", listsAll(b.reg, a.reg))

	// Several times: the first may find work in progress, the later ones
	// find it done and only the deregistration left.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range stopsCancelled {
		err := a.d.Stop(ended)
		a.rec.stopReturned(err == nil)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Stop #%d with a cancelled context = %v, want nil or an error wrapping context.Canceled", i+1, err)
		}
		t.Logf("Stop #%d with a cancelled context: %v", i+1, err)
		time.Sleep(settle / stopsCancelled)
	}
	a.stop(t)
	if s.feat.Deregisters {
		took := b.rec.waitFor(t, s.feat.Within, "b drops a", func(peers []cluster.Peer) bool { return !lists(peers, a.reg.Address()) })
		t.Logf("b drops a %v after a's second Stop returned", took)
	}
}

// testStartsOnce: Start fails on a running Discovery, on a stopped one, and
// on one stopped before it was started; the update of a failed Start is
// never called.
func (s *suite) testStartsOnce(t *testing.T) {
	noLeaks(t)
	g := s.newGroup(t, "a", "b")
	a := g.start(t, 0)
	a.rec.waitFor(t, s.feat.Within, "a first report", func([]cluster.Peer) bool { return true })
	var called atomic.Int32 // calls of the update of a refused Start
	refused := func(what string, d cluster.Discovery, reg cluster.Registration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		err := d.Start(ctx, reg, func([]cluster.Peer) { called.Add(1) })
		if err == nil {
			t.Errorf("%s = nil, want an error", what)
			return
		}
		t.Logf("%s: %v", what, err)
	}
	refused("second Start of a running Discovery", a.d, a.reg)
	a.stop(t)
	refused("Start after Stop", a.d, a.reg)

	b := g.newNode(t, 1)
	if err := b.d.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start = %v, want nil", err)
	}
	b.rec.stopReturned(true)
	refused("Start after a Stop that came before any Start", b.d, b.reg)
	time.Sleep(settle)
	if n := called.Load(); n != 0 {
		t.Errorf("the update of a refused Start was called %d times", n)
	}
}

// testFailedStart (Harness.Failing): a Start that fails has called update
// never and left nothing running; Stop after it returns nil, twice.
func (s *suite) testFailedStart(t *testing.T) {
	noLeaks(t)
	d := s.h.Failing(t)
	if d == nil {
		t.Fatal("Harness.Failing returned nil")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	reg := cluster.Registration{Cluster: "discoverytest-" + s.run + "-failing", Node: "f", Host: "127.0.0.1", Port: 20000}
	var called atomic.Int32
	err := d.Start(ctx, reg, func([]cluster.Peer) { called.Add(1) })
	if err == nil {
		_ = d.Stop(ctx)
		t.Fatal("Start of Harness.Failing's Discovery = nil, want an error")
	}
	t.Logf("Start: %v", err)
	for i := range 2 {
		if err := d.Stop(ctx); err != nil {
			t.Errorf("Stop #%d after a failed Start = %v, want nil", i+1, err)
		}
	}
	time.Sleep(settle)
	if n := called.Load(); n != 0 {
		t.Errorf("update called %d times by a Start that failed", n)
	}
}
