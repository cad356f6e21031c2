//go:build !race

package exchange_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
)

// deadlineTolerance is how much later than the caller's a handler's
// deadline on another node may be: the time the request spent in transit,
// on loopback in one busy process.
const deadlineTolerance = 250 * time.Millisecond

// TestClusterDeadlineTravels: a handler on another node sees the caller's
// deadline, a little late (the time in transit), never early, over the
// data link and over remote, for every way a call gets one.
func TestClusterDeadlineTravels(t *testing.T) { forTransports(t, testClusterDeadlineTravels) }

func testClusterDeadlineTravels(t *testing.T, tr transport) {
	nodes := startNodes(t, 3, tr)
	declareAll(t, nodes, reqResp("dl", "round-robin"))
	r, seen := deadlineRecorder("n3")
	if _, err := nodes[2].hub.Connect(testCtx(t), "dl", spawnRecorder(t, nodes[2].sys, r)); err != nil {
		t.Fatal(err)
	}
	caller := nodes[0]
	eventually(t, "the table reaches the caller's node", func() bool {
		hs, _ := caller.hub.Handlers("dl")
		return len(hs) == 1
	})
	sink := caller.sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	for _, tc := range deadlineCases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if err := tc.call(t, caller.hub, sink, "dl", "x"); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-seen:
				tc.check(t, start, got, deadlineTolerance)
			case <-time.After(5 * time.Second):
				t.Fatal("the handler saw no request")
			}
		})
	}
}

// TestClusterExpiredRequestIsDropped: a request that waits past its
// deadline in the mailbox of a handler on another node is not processed,
// and is counted on the handler's node.
func TestClusterExpiredRequestIsDropped(t *testing.T) {
	forTransports(t, testClusterExpiredRequestIsDropped)
}

func testClusterExpiredRequestIsDropped(t *testing.T, tr transport) {
	nodes := startNodes(t, 3, tr)
	declareAll(t, nodes, reqResp("slow", "round-robin"))
	bh := &blockingHandler{gate: make(chan struct{})}
	r := bh.recorder(t)
	handlerNode, caller := nodes[2], nodes[0]
	if _, err := handlerNode.hub.Connect(testCtx(t), "slow", spawnRecorder(t, handlerNode.sys, r)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the table reaches the caller's node", func() bool {
		hs, _ := caller.hub.Handlers("slow")
		return len(hs) == 1
	})
	blocked := make(chan error, 1)
	go func() {
		_, err := caller.hub.Request(testCtx(t), "slow", str("block"))
		blocked <- err
	}()
	eventually(t, "the handler holds the first request", func() bool { return r.count() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := caller.hub.Request(ctx, "slow", str("late")); !errors.Is(err, exchange.ErrTimeout) {
		t.Fatalf("late call: %v, want ErrTimeout", err)
	}
	// Its deadline passes on the handler's node too, later than the
	// caller's by the time in transit only.
	time.Sleep(deadlineTolerance)
	// Queued behind it, with a deadline still far off: processed.
	sink := caller.sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	if err := caller.hub.RequestAsync(sink, "slow", str("in time"), exchange.WithTimeout(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	close(bh.gate)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	eventually(t, "the handler reaches the queued requests", func() bool { return r.count() == 3 })
	eventually(t, "the request in time is processed", func() bool { return len(bh.processed()) == 2 })
	if got := bh.processed(); !slices.Equal(got, []string{"block", "in time"}) {
		t.Fatalf("processed %q, want block and in time (the late request dropped)", got)
	}
	if st, err := handlerNode.hub.Stats("slow"); err != nil || st.Expired != 1 {
		t.Fatalf("handler's node: Stats.Expired = %d (%v), want 1", st.Expired, err)
	}
	if st, err := caller.hub.Stats("slow"); err != nil || st.Expired != 0 {
		t.Fatalf("caller's node: Stats.Expired = %d (%v), want 0 (counted where the handler is)", st.Expired, err)
	}
}
