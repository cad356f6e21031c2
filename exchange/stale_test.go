package exchange

import (
	"context"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/wiring"
	boursepb "github.com/bourse-go/bourse/proto"
	"github.com/bourse-go/bourse/strategies"
)

// TestTableSkipsHandlersOfAnEarlierProcess: a table (seeded by a rebuilt
// authority from an older table, say) that lists a handler of a process
// that restarted since at the same address routes nothing to it; its
// requests would reach a process that has no such handler and wait out
// their deadline (chaos, seeds 11 and 20261201: requests started 0.5 s after
// a restart).
func TestTableSkipsHandlersOfAnEarlierProcess(t *testing.T) {
	sys := actor.NewActorSystem()
	h, err := New(sys, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Stop(context.Background()); sys.Shutdown() })
	h.setView(wiring.View{Quorum: true, Members: []wiring.Member{
		{Node: "local", Address: h.address()},
		{Node: "b", Address: "b:1", Incarnation: 2},
		{Node: "c", Address: "c:1"}, // incarnation unknown
	}})
	info := func(id, addr string, inc uint64) *boursepb.HandlerInfo {
		return &boursepb.HandlerInfo{Id: id, Pid: &boursepb.Pid{Address: addr, Id: id}, Incarnation: inc}
	}
	rt := &boursepb.RoutingTable{Exchange: "x", Handlers: []*boursepb.HandlerInfo{
		info("old", "b:1", 1), info("new", "b:1", 2), info("c", "c:1", 7), info("legacy", "b:1", 0),
	}}
	strat, err := strategies.Builtin().New(strategies.NameRoundRobin, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb := buildTable(rt, strat, nil, h, nil, true, nil)
	var got []string
	for _, i := range tb.all.infos {
		got = append(got, i.GetId())
	}
	if want := "new,c,legacy"; strings.Join(got, ",") != want {
		t.Fatalf("routes to %s, want %s", strings.Join(got, ","), want)
	}
}
