package actors_test

import (
	"context"
	"fmt"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Follow an exchange's leader without being one of its handlers, as raft's
// LeaderCh: the current leader first (none yet), then every change, until
// the context ends.
func ExampleBroker_WatchLeader() {
	ctx := context.Background()
	b, _ := actors.New()
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "matching", Kind: actors.ReqResp, Strategy: "consensus"})

	watch, cancel := context.WithCancel(ctx)
	changes, err := b.WatchLeader(watch, "matching")
	if err != nil {
		panic(err)
	}
	show := func(c actors.LeaderChange) {
		if c.Leader == nil {
			fmt.Println("no leader")
			return
		}
		fmt.Println("leader:", c.Leader.GetConnTag(), "term > 0:", c.Term > 0)
	}
	show(<-changes)

	engine := func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String("matched"), nil
	}
	first, _ := actors.ServeFunc(ctx, b, "matching", engine, actors.WithConnectOptions(actors.ConnTag("engine-1")))
	show(<-changes)
	_, _ = actors.ServeFunc(ctx, b, "matching", engine, actors.WithConnectOptions(actors.ConnTag("engine-2")))
	_ = first.Stop(ctx) // the oldest remaining handler takes over
	show(<-changes)

	cancel()
	for range changes {
	}
	fmt.Println("closed")
	// Output:
	// no leader
	// leader: engine-1 term > 0: true
	// leader: engine-2 term > 0: true
	// closed
}

// What this node knows of an exchange: its leader (with the fencing token of
// the authority that appointed it) and its handlers.
func ExampleBroker_Leader() {
	ctx := context.Background()
	b, _ := actors.New(actors.WithNode("n1"))
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "matching", Kind: actors.ReqResp, Strategy: "consensus"})

	_, _, err := b.Leader("matching")
	fmt.Println(err)

	engine := func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String("matched"), nil
	}
	for _, tag := range []string{"engine-1", "engine-2"} {
		_, _ = actors.ServeFunc(ctx, b, "matching", engine, actors.WithConnectOptions(actors.ConnTag(tag)))
	}
	leader, term, err := b.Leader("matching")
	fmt.Println(leader.GetConnTag(), "on", leader.GetNode(), term > 0, err)
	handlers, _ := b.Handlers("matching")
	for _, h := range handlers {
		fmt.Println(h.GetConnTag())
	}
	// Output:
	// bourse: exchange "matching": no handlers
	// engine-1 on n1 true <nil>
	// engine-1
	// engine-2
}

// A pub-sub exchange's subscriptions, aggregated per node, and its
// counters on this node.
func ExampleBroker_Stats() {
	ctx := context.Background()
	b, _ := actors.New(actors.WithNode("n1"))
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "prices", Kind: actors.PubSub})

	got := make(chan string, 2)
	for range 2 { // two subscribers of one pattern: the node subscribes once
		_, _ = actors.SubscribeFunc(ctx, b, "prices", "prices.*.AAPL", func(key string, _ *wrapperspb.DoubleValue) { got <- key })
	}
	nodes, _ := b.Subscriptions("prices")
	for _, np := range nodes {
		fmt.Println(np.GetNode(), np.GetPatterns())
	}

	_ = b.Publish(ctx, "prices", "prices.nyse.AAPL", wrapperspb.Double(231.5))
	fmt.Println(<-got, <-got)
	s, _ := b.Stats("prices")
	fmt.Println("published", s.Published, "delivered", s.Delivered, "to other nodes", s.RemoteSent)
	// Output:
	// n1 [prices.*.AAPL]
	// prices.nyse.AAPL prices.nyse.AAPL
	// published 1 delivered 2 to other nodes 0
}
