package cluster_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/static"
)

// A node of a cluster of one: Start returns once the node has joined the
// peers its discovery lists (here none: list the other nodes' "host:port"
// addresses), and its Broker declares, serves and calls exchanges that span
// every node of the cluster.
func ExampleStart() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := cluster.DefaultConfig()
	cfg.Cluster, cfg.Node = "trading", "md-1"
	cfg.Port = 0 // a free port: Node.Address tells which
	cfg.Discovery = static.New()
	cfg.Logger = slog.New(slog.DiscardHandler)
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Stop(ctx) // leaves the cluster: peers see it go at once
	for _, m := range n.Members() {
		fmt.Println("member:", m.Node)
	}

	b := n.Broker()
	if err := b.Declare(ctx, actors.Spec{Name: "quotes", Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		log.Fatal(err)
	}
	_, err = b.Serve(ctx, "quotes", actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) {
		return wrapperspb.String("AAPL 187.20 from " + n.Name()), nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	reply, err := b.Request(ctx, "quotes", wrapperspb.String("AAPL"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.(*wrapperspb.StringValue).GetValue())
	// Output:
	// member: md-1
	// AAPL 187.20 from md-1
}
