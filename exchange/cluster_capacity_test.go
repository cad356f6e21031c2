//go:build !race

// Several actor systems with remote in one process: not under -race, see
// cluster_test.go.

package exchange_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/exchange"
)

// Local-first across nodes: idle local handlers take every request; a busy
// one makes requests spill to the other nodes' handlers, spread over both.
func TestClusterLocalFirstSpills(t *testing.T) { forTransports(t, testClusterLocalFirstSpills) }

func testClusterLocalFirstSpills(t *testing.T, tr transport) {
	nodes := startNodes(t, 3, tr)
	declareAll(t, nodes, reqResp("lf", "local-first"), reqResp("lf2", "local-first"))
	for _, n := range nodes {
		connect(t, n.hub, n.sys, "lf", n.name)
	}
	busy := newHolder("n1")
	pid := spawnRecorder(t, nodes[0].sys, busy.recorder)
	if _, err := nodes[0].hub.Connect(testCtx(t), "lf2", pid); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		connect(t, n.hub, n.sys, "lf2", n.name)
	}
	caller := nodes[0].hub
	eventually(t, "tables reach the caller's node", func() bool {
		a, _ := caller.Handlers("lf")
		b, _ := caller.Handlers("lf2")
		return len(a) == 3 && len(b) == 3
	})
	by := func(ex string, n int) map[string]int {
		seen := map[string]int{}
		for i := range n {
			got, err := caller.Request(testCtx(t), ex, str(fmt.Sprint(i)))
			if err != nil {
				t.Fatal(err)
			}
			seen[strings.Split(strOf(t, got), ":")[0]]++
		}
		return seen
	}
	if seen := by("lf", 200); seen["n1"] != 200 {
		t.Fatalf("idle local handler: served %v, want all 200 by n1", seen)
	}
	replies := spawnRecorder(t, nodes[0].sys, &recorder{name: "replies"})
	if err := caller.RequestAsync(replies, "lf2", str("hold")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "n1's handler busy", func() bool { return busy.heldCount() == 1 })
	seen := by("lf2", 200)
	// One caller in turn never fills a handler: the first that answered
	// with room left may take them all (a handler known free ranks ahead
	// of one never heard of).
	if seen["n1"] != 0 || seen["n2"]+seen["n3"] != 200 {
		t.Fatalf("busy local handler: served %v, want all spilled to n2 and n3", seen)
	}
	t.Logf("spilled: %v", seen)
	// Answered: n1's handler is free again and takes the next request.
	busy.release()
	if err := caller.RequestAsync(replies, "lf2", str("again")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "n1 takes requests again", func() bool { return busy.heldCount() == 1 })
	busy.release()
}

// A request to a full handler on another node fails at once with
// ErrOverloaded, which keeps its identity across the wire.
func TestClusterOverloadedAcrossNodes(t *testing.T) {
	forTransports(t, testClusterOverloadedAcrossNodes)
}

func testClusterOverloadedAcrossNodes(t *testing.T, tr transport) {
	nodes := startNodes(t, 2, tr)
	declareAll(t, nodes, reqResp("ov", "round-robin"))
	busy := newHolder("n2")
	pid := spawnRecorder(t, nodes[1].sys, busy.recorder)
	if _, err := nodes[1].hub.Connect(testCtx(t), "ov", pid, exchange.QueueLimit(1)); err != nil {
		t.Fatal(err)
	}
	caller := nodes[0].hub
	eventually(t, "table reaches the caller's node", func() bool {
		hs, _ := caller.Handlers("ov")
		return len(hs) == 1
	})
	replies := spawnRecorder(t, nodes[0].sys, &recorder{name: "replies"})
	for range 2 {
		if err := caller.RequestAsync(replies, "ov", str("hold")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "n2's handler full", func() bool { return busy.heldCount() == 2 })
	var took []time.Duration
	for range 50 {
		start := time.Now()
		_, err := caller.Request(testCtx(t), "ov", str("x"), exchange.WithTimeout(5*time.Second))
		took = append(took, time.Since(start))
		if !errors.Is(err, exchange.ErrOverloaded) {
			t.Fatalf("err = %v, want ErrOverloaded", err)
		}
	}
	slices.Sort(took)
	worst := took[len(took)-1]
	t.Logf("ErrOverloaded from another node: p50 %v, worst %v of %d", took[len(took)/2], worst, len(took))
	if worst > 100*time.Millisecond {
		t.Errorf("ErrOverloaded took %v, want at once", worst)
	}
	if busy.count() != 2 {
		t.Fatalf("the handler saw %d requests, want 2", busy.count())
	}
	busy.release()
	go func() {
		eventually(t, "the next one", func() bool { return busy.heldCount() == 1 })
		busy.release()
	}()
	if _, err := caller.Request(testCtx(t), "ov", str("y")); err != nil {
		t.Fatalf("after the handler answered: %v", err)
	}
}
