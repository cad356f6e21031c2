//go:build !race

package exchange_test

import (
	"testing"
	"time"

	"github.com/bourse-go/bourse/exchange"
)

// TestClusterReturningNodeDoesNotTakeLeadershipBack: the chaos suite's seed
// 20261202 (issue 11). The leader's node x is cut off alone; the majority
// appoints a handler of its own in the same term (its authority did not
// move). When the partition heals, x hears y before o: it has a quorum
// again, owns the exchange in that view, and rebuilds its authority from
// the nodes' reports. Both terms are equal, so the reports alone did not
// say which leader is newer, and x's own report, the first to arrive, named
// its handler (x's authority, cut off, had kept naming it). x's handler then
// led again: a second change of leader, and the leader returning from a
// partition took leadership back.
func TestClusterReturningNodeDoesNotTakeLeadershipBack(t *testing.T) {
	nodes := startNodes(t, 3, "link")
	const name = "back"
	view, byAddr := viewsOf(nodes)
	for _, n := range nodes {
		n.wire.SetView(view(true, nodes...))
	}
	o := byAddr[nodes[0].wire.Owner(name)]
	var x, y *testNode
	for _, n := range nodes {
		switch {
		case n == o:
		case x == nil:
			x = n
		default:
			y = n
		}
	}
	// x must own the exchange when it sees only itself and y: found before
	// anything is declared, so that nothing reacts.
	x.wire.SetView(view(true, x, y))
	if x.wire.Owner(name) != x.sys.Address() {
		x.wire.SetView(view(true, nodes...))
		x, y = y, x
		x.wire.SetView(view(true, x, y))
	}
	if x.wire.Owner(name) != x.sys.Address() {
		t.Fatalf("placement: %s owns %s when it sees %s and %s", x.wire.Owner(name), name, x.name, y.name)
	}
	x.wire.SetView(view(true, nodes...))

	declareAll(t, nodes, reqResp(name, "consensus"))
	conns := map[*testNode]*exchange.Connection{}
	_, _, conns[x] = connect(t, x.hub, x.sys, name, "h-"+x.name) // the oldest: it leads
	eventually(t, "x's handler leads", conns[x].IsLeader)
	_, _, conns[o] = connect(t, o.hub, o.sys, name, "h-"+o.name)
	_, _, conns[y] = connect(t, y.hub, y.sys, name, "h-"+y.name)

	// x is cut off alone: the majority appoints one of its handlers once
	// x's lease has surely run out.
	x.wire.SetView(view(false, x))
	o.wire.SetView(view(true, o, y))
	y.wire.SetView(view(true, o, y))
	eventually(t, "a handler of the majority leads", func() bool { return conns[o].IsLeader() || conns[y].IsLeader() })
	leader := o
	if conns[y].IsLeader() {
		leader = y
	}

	var xLed, overlap time.Duration
	watch := func(d time.Duration) {
		const step = 200 * time.Microsecond
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(step) {
			n := 0
			for _, c := range conns {
				if c.IsLeader() {
					n++
				}
			}
			if n > 1 {
				overlap += step
			}
			if conns[x].IsLeader() {
				xLed += step
			}
		}
	}
	watch(300 * time.Millisecond)
	// The partition heals: x hears y first, then o.
	x.wire.SetView(view(true, x, y))
	y.wire.SetView(view(true, nodes...))
	watch(1500 * time.Millisecond)
	x.wire.SetView(view(true, nodes...))
	o.wire.SetView(view(true, nodes...))
	watch(1500 * time.Millisecond)

	if xLed > 0 || overlap > 0 {
		t.Errorf("after the partition, x's handler led for about %v (two leaders for about %v): it took leadership back", xLed, overlap)
	}
	if !conns[leader].IsLeader() {
		t.Errorf("%s's handler, appointed during the partition, no longer leads: a second change of leader", leader.name)
	}
}
