package discoverytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bourse-go/bourse/cluster"
)

// Harness makes the Discoveries under test.
type Harness struct {
	// New returns a new, unstarted Discovery for the node self (required).
	// all lists every node of self's cluster that the test will start, self
	// among them: an implementation that is told its peers (a static list)
	// takes their addresses from it (see Addresses), one that finds them
	// itself (Consul) ignores it. Every test uses cluster names of its own.
	// New may fail the test with t.Fatal.
	New func(t *testing.T, self cluster.Registration, all []cluster.Registration) cluster.Discovery
	// Failing, when set, returns a Discovery whose Start must fail, as it
	// does when discovery cannot begin (for Consul: an agent address nothing
	// listens on). The suite then checks that the failed Start called update
	// never and left no goroutine behind, and that Stop after it returns
	// nil. Without it that test is skipped.
	Failing func(t *testing.T) cluster.Discovery
}

// Features declares what an implementation promises beyond the contract of
// cluster.Discovery. The suite checks each promise that is set, and nothing
// that is not.
type Features struct {
	// Deregisters: once a node's Stop has returned, the other nodes of its
	// cluster stop listing it, within Within. Without it (a fixed list of
	// addresses) a stopped node may stay listed.
	Deregisters bool
	// NodeNames: every peer is listed with its node name. Without it Node
	// may be "" (a list of addresses knows no names), but never the name of
	// another node.
	NodeNames bool
	// Within bounds how long a change may take to reach a node: the first
	// report after Start, a node that starts or (with Deregisters) stops.
	// 0 means 5 s.
	Within time.Duration
}

// Timings of the suite.
const (
	// defaultWithin is Features.Within's default.
	defaultWithin = 5 * time.Second
	// startTimeout bounds each Start and each Stop that is not meant to be
	// cut short.
	startTimeout = 10 * time.Second
	// settle is how long a test keeps watching for calls of update after it
	// stopped its nodes.
	settle = 200 * time.Millisecond
	// slowUpdate is how long update blocks in the tests that stop a node
	// while it reports, so that Stop meets a call in progress.
	slowUpdate = 20 * time.Millisecond
	// stopsCancelled is how many times StopCancelled calls Stop with an
	// ended context before it calls it with a live one.
	stopsCancelled = 4
)

// Run runs the suite as subtests of t.Run(name, ...).
func Run(t *testing.T, name string, h Harness, feat Features) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if h.New == nil {
			t.Fatal("Harness.New is nil")
		}
		if feat.Within <= 0 {
			feat.Within = defaultWithin
		}
		s := &suite{h: h, feat: feat, run: randomHex()}
		// Calls of update that came after their test ended are reported
		// here, on the suite.
		t.Cleanup(func() {
			for _, r := range s.recorders {
				r.report(t)
			}
		})
		t.Run("FirstReport", s.testFirstReport)
		t.Run("SeesItsCluster", s.testSeesItsCluster)
		t.Run("LaterNode", s.testLaterNode)
		if feat.Deregisters {
			t.Run("StoppedNodeDropped", s.testStoppedNodeDropped)
		}
		t.Run("StopWhileReporting", s.testStopWhileReporting)
		t.Run("StopIdempotent", s.testStopIdempotent)
		t.Run("StopCancelled", s.testStopCancelled)
		t.Run("StartsOnce", s.testStartsOnce)
		if h.Failing != nil {
			t.Run("FailedStart", s.testFailedStart)
		}
	})
}

// Addresses returns the "host:port" addresses of regs, in order: the peers
// of a static list.
func Addresses(regs []cluster.Registration) []string {
	addrs := make([]string, len(regs))
	for i, r := range regs {
		addrs[i] = r.Address()
	}
	return addrs
}

type suite struct {
	h    Harness
	feat Features
	run  string // random: cluster names of this run differ from any other's

	port      atomic.Int32 // last port handed out
	recorders []*recorder
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// group is a cluster of registrations the suite starts nodes of.
type group struct {
	s    *suite
	regs []cluster.Registration
	// known maps each address of the group to its node name: the only peers
	// a node of the group may be told of.
	known map[string]string
}

// newGroup returns a cluster of nodes named names, each with an address of
// its own (no other group of the run uses it).
func (s *suite) newGroup(t *testing.T, names ...string) *group {
	g := &group{s: s, known: make(map[string]string)}
	name := "discoverytest-" + s.run + "-" + randomHex()
	for _, n := range names {
		r := cluster.Registration{Cluster: name, Node: n, Host: "127.0.0.1", Port: 20000 + int(s.port.Add(1))}
		g.regs = append(g.regs, r)
		g.known[r.Address()] = n
	}
	return g
}

// node is one Discovery of a group, with the recorder of its update.
type node struct {
	reg cluster.Registration
	d   cluster.Discovery
	rec *recorder
}

// newNode makes the Discovery of the group's node i, not started. Its
// recorder checks every report against the group.
func (g *group) newNode(t *testing.T, i int) *node {
	t.Helper()
	d := g.s.h.New(t, g.regs[i], g.regs)
	if d == nil {
		t.Fatal("Harness.New returned nil")
	}
	rec := newRecorder(g.regs[i], g.known, g.s.feat.NodeNames)
	g.s.recorders = append(g.s.recorders, rec)
	return &node{reg: g.regs[i], d: d, rec: rec}
}

// start starts node i and registers its Stop (and the report of its
// recorder) for the end of the test.
func (g *group) start(t *testing.T, i int) *node {
	t.Helper()
	n := g.newNode(t, i)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := n.d.Start(ctx, n.reg, n.rec.update); err != nil {
		t.Fatalf("Start(%s): %v", n.reg.Node, err)
	}
	t.Cleanup(func() { n.stopAtEnd(t) })
	return n
}

// stop stops n with a live context, checking that Stop returns nil with no
// call of update running.
func (n *node) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err := n.d.Stop(ctx)
	n.rec.stopReturned(err == nil)
	if err != nil {
		t.Errorf("Stop(%s) = %v, want nil", n.reg.Node, err)
	}
}

// stopAtEnd stops n again (Stop is idempotent), waits for late calls of
// update, and reports what n's recorder saw.
func (n *node) stopAtEnd(t *testing.T) {
	t.Helper()
	n.stop(t)
	time.Sleep(settle)
	n.rec.report(t)
}

// noLeaks makes the test fail if goroutines it started outlive its
// cleanups. Call it first: cleanups run last-registered first.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if err := goleak.Find(ignore); err != nil {
			t.Errorf("goroutines left after Stop returned: %v", err)
		}
	})
}
