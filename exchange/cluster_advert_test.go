//go:build !race

// Several actor systems with remote in one process: not under -race, see
// cluster_test.go.

package exchange_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/exchange"
)

// A node that sends a handler nothing still knows its free capacity: the
// handler's node advertises it, on change and before the advert ages out.
func TestClusterAdvertsReachNodesThatSendNothing(t *testing.T) {
	forTransports(t, testClusterAdvertsReachNodesThatSendNothing)
}

func testClusterAdvertsReachNodesThatSendNothing(t *testing.T, tr transport) {
	nodes := startNodes(t, 2, tr)
	declareAll(t, nodes, reqResp("lf", "local-first"))
	busy := newHolder("n2")
	pid := spawnRecorder(t, nodes[1].sys, busy.recorder)
	c, err := nodes[1].hub.Connect(testCtx(t), "lf", pid)
	if err != nil {
		t.Fatal(err)
	}
	watcher := nodes[0].hub
	eventually(t, "the table reaches n1", func() bool {
		hs, _ := watcher.Handlers("lf")
		return len(hs) == 1
	})
	advert := func(want func(int) bool) func() bool {
		return func() bool {
			f, ok := exchange.AdvertOf(watcher, "lf", c.ID())
			return ok && want(f)
		}
	}
	eventually(t, "n1 knows the idle handler free", advert(func(f int) bool { return f == 1 }))
	// Unchanged, the advert is refreshed before it ages out.
	for end := time.Now().Add(3 * exchange.AdvertTTL); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if f, ok := exchange.AdvertOf(watcher, "lf", c.ID()); !ok || f != 1 {
			t.Fatalf("idle handler: n1 knows free %d, %v; want 1, true", f, ok)
		}
	}
	// n2's own caller fills it: n1 learns it without sending anything.
	replies := spawnRecorder(t, nodes[1].sys, &recorder{name: "replies"})
	for range 3 {
		if err := nodes[1].hub.RequestAsync(replies, "lf", str("hold")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "n2's handler has 3 requests (1 in work, 2 queued by its count)", func() bool { return busy.heldCount() == 3 })
	start := time.Now()
	eventually(t, "n1 knows the handler full", advert(func(f int) bool { return f == -2 }))
	t.Logf("full handler advertised in %v", time.Since(start))
	for busy.release() < 3 {
		time.Sleep(time.Millisecond)
	}
	eventually(t, "n1 knows the handler free again", advert(func(f int) bool { return f == 1 }))
	sent, _ := nodes[1].hub.Stats("lf")
	heard, _ := watcher.Stats("lf")
	if sent.AdvertsSent == 0 || heard.AdvertsHeard == 0 || heard.AdvertsHeard > sent.AdvertsSent {
		t.Fatalf("adverts sent by n2 %d, heard by n1 %d", sent.AdvertsSent, heard.AdvertsHeard)
	}
	t.Logf("adverts: sent %d, heard %d", sent.AdvertsSent, heard.AdvertsHeard)
}

// Local-first spills to the handler its node's advert says is free, not to
// one another node keeps busy, though the caller's node never sent either
// anything recently (replies alone would leave both unknown).
func TestClusterLocalFirstSpillsByAdverts(t *testing.T) {
	forTransports(t, testClusterLocalFirstSpillsByAdverts)
}

func testClusterLocalFirstSpillsByAdverts(t *testing.T, tr transport) {
	nodes := startNodes(t, 3, tr)
	declareAll(t, nodes, reqResp("lf", "local-first"))
	held := []*holder{newHolder("n1"), newHolder("n2")}
	for i, hd := range held {
		pid := spawnRecorder(t, nodes[i].sys, hd.recorder)
		if _, err := nodes[i].hub.Connect(testCtx(t), "lf", pid); err != nil {
			t.Fatal(err)
		}
	}
	connect(t, nodes[2].hub, nodes[2].sys, "lf", "n3")
	for _, n := range nodes {
		eventually(t, "tables reach every node", func() bool {
			hs, _ := n.hub.Handlers("lf")
			return len(hs) == 3
		})
	}
	// n1's and n2's handlers busy with their own nodes' callers.
	for i, hd := range held {
		replies := spawnRecorder(t, nodes[i].sys, &recorder{name: "replies"})
		if err := nodes[i].hub.RequestAsync(replies, "lf", str("hold")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a handler busy", func() bool { return hd.heldCount() == 1 })
	}
	caller := nodes[0].hub
	for round := range 8 {
		// Whatever a reply taught n1 is older than AdvertTTL by now.
		time.Sleep(exchange.AdvertTTL + 100*time.Millisecond)
		got, err := caller.Request(testCtx(t), "lf", str(fmt.Sprint(round)), exchange.WithTimeout(2*time.Second))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if by := strings.Split(strOf(t, got), ":")[0]; by != "n3" {
			t.Fatalf("round %d: served by %s, want n3, the only free handler", round, by)
		}
	}
	for _, hd := range held {
		hd.release()
	}
}
