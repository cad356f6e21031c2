// Command hello is the smallest bourse program: one handler, one request, one
// subscription.
package main

import (
	"context"
	"fmt"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func main() {
	ctx := context.Background()
	b, err := actors.New()
	if err != nil {
		panic(err)
	}
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "greeter", Kind: actors.ReqResp, Strategy: "round-robin"})
	_ = b.Declare(ctx, actors.Spec{Name: "news", Kind: actors.PubSub})

	_, _ = b.Serve(ctx, "greeter", actors.HandlerFunc(func(_ context.Context, r *actors.Request) (proto.Message, error) {
		return wrapperspb.String("hello, " + r.Payload.(*wrapperspb.StringValue).GetValue()), nil
	}))
	got := make(chan string)
	_, _ = b.SubscribeFunc(ctx, "news", "news.#", func(p *actors.Publication) { got <- p.Key })

	reply, err := b.Request(ctx, "greeter", wrapperspb.String("world"))
	if err != nil {
		panic(err)
	}
	fmt.Println(reply.(*wrapperspb.StringValue).GetValue())
	_ = b.Publish(ctx, "news", "news.markets.open", wrapperspb.String("bell"))
	fmt.Println("subscriber got", <-got)
}
