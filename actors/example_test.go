package actors_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A typed handler, a typed call, and the error of an exchange nobody
// serves: no type assertion anywhere.
func Example() {
	ctx := context.Background()
	b, err := actors.New()
	if err != nil {
		panic(err)
	}
	defer b.Stop(ctx)

	_ = b.Declare(ctx, actors.Spec{Name: "greeter", Kind: actors.ReqResp, Strategy: "round-robin"})
	_ = b.Declare(ctx, actors.Spec{Name: "nobody", Kind: actors.ReqResp})
	_, _ = actors.ServeFunc(ctx, b, "greeter", func(_ context.Context, name *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String("hello, " + name.GetValue()), nil
	})

	reply, err := actors.Call[*wrapperspb.StringValue](ctx, b, "greeter", wrapperspb.String("world"))
	fmt.Println(reply.GetValue(), err)

	_, err = actors.Call[*wrapperspb.StringValue](ctx, b, "nobody", wrapperspb.String("anyone?"))
	fmt.Println(errors.Is(err, actors.ErrNoHandlers), err)
	// Output:
	// hello, world <nil>
	// true bourse: exchange "nobody": no handlers
}

// The untyped form underneath: a Handler sees the whole *Request (routing
// key, tags) and answers any proto.Message.
func ExampleBroker_Serve() {
	ctx := context.Background()
	b, _ := actors.New()
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "orders", Kind: actors.ReqResp, Strategy: "sticky"})
	_, _ = b.Serve(ctx, "orders", actors.HandlerFunc(func(_ context.Context, req *actors.Request) (proto.Message, error) {
		return wrapperspb.String(req.Key + ": " + req.Payload.(*wrapperspb.StringValue).GetValue()), nil
	}))

	reply, err := b.Request(ctx, "orders", wrapperspb.String("buy 10"), actors.WithKey("AAPL"))
	fmt.Println(reply.(*wrapperspb.StringValue).GetValue(), err)
	// Output:
	// AAPL: buy 10 <nil>
}

// A typed call: the reply comes as the type named. A reply of another type
// is an error that says which types, never a panic.
func ExampleCall() {
	ctx := context.Background()
	b, _ := actors.New()
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "lengths", Kind: actors.ReqResp, Strategy: "round-robin"})
	_, _ = actors.ServeFunc(ctx, b, "lengths", func(_ context.Context, s *wrapperspb.StringValue) (*wrapperspb.Int64Value, error) {
		return wrapperspb.Int64(int64(len(s.GetValue()))), nil
	})

	n, err := actors.Call[*wrapperspb.Int64Value](ctx, b, "lengths", wrapperspb.String("bourse"))
	fmt.Println(n.GetValue(), err)

	_, err = actors.Call[*wrapperspb.StringValue](ctx, b, "lengths", wrapperspb.String("bourse"))
	var wt *actors.WrongTypeError
	fmt.Println(errors.Is(err, actors.ErrWrongType), errors.As(err, &wt), wt.Got)
	fmt.Println(err)
	// Output:
	// 6 <nil>
	// true true *wrapperspb.Int64Value
	// bourse: exchange "lengths": wrong type of reply: want *wrapperspb.StringValue, got *wrapperspb.Int64Value
}

// A typed handler with Serve's options; a request of another type reaches
// its caller as an error and the service goes on; Stop stops it.
func ExampleServeFunc() {
	ctx := context.Background()
	b, _ := actors.New()
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "greeter", Kind: actors.ReqResp, Strategy: "round-robin"})
	svc, err := actors.ServeFunc(ctx, b, "greeter", func(_ context.Context, name *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String("hello, " + name.GetValue()), nil
	}, actors.WithConnectOptions(actors.ServiceTag("eu")))
	if err != nil {
		panic(err)
	}

	reply, err := actors.Call[*wrapperspb.StringValue](ctx, b, "greeter", wrapperspb.String("world"), actors.WithServiceTag("eu"))
	fmt.Println(reply.GetValue(), err)

	_, err = actors.Call[*wrapperspb.StringValue](ctx, b, "greeter", wrapperspb.Int64(42))
	fmt.Println(err)

	_ = svc.Stop(ctx)
	_, err = actors.Call[*wrapperspb.StringValue](ctx, b, "greeter", wrapperspb.String("again"))
	fmt.Println(errors.Is(err, actors.ErrNoHandlers))
	// Output:
	// hello, world <nil>
	// bourse: exchange "greeter": wrong type of request: want *wrapperspb.StringValue, got *wrapperspb.Int64Value
	// true
}

// TypedFunc is the Handler behind ServeFunc, for Serve and its options.
func ExampleTypedFunc() {
	ctx := context.Background()
	b, _ := actors.New()
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "upper", Kind: actors.ReqResp, Strategy: "round-robin"})
	h := actors.TypedFunc[*wrapperspb.StringValue, *wrapperspb.StringValue](func(_ context.Context, s *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String(strings.ToUpper(s.GetValue())), nil
	})
	_, _ = b.Serve(ctx, "upper", h)

	reply, err := actors.Call[*wrapperspb.StringValue](ctx, b, "upper", wrapperspb.String("shout"))
	fmt.Println(reply.GetValue(), err)
	// Output:
	// SHOUT <nil>
}

// A typed subscriber receives each routing key and payload as the type
// named; a publication of another type is logged and dropped.
func ExampleSubscribeFunc() {
	ctx := context.Background()
	b, _ := actors.New()
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "prices", Kind: actors.PubSub})

	got := make(chan string, 10)
	_, _ = actors.SubscribeFunc(ctx, b, "prices", "prices.*.AAPL", func(key string, px *wrapperspb.DoubleValue) {
		got <- fmt.Sprintf("%s = %v", key, px.GetValue())
	})
	_ = b.Publish(ctx, "prices", "prices.nyse.AAPL", wrapperspb.Double(189.5))
	_ = b.Publish(ctx, "prices", "prices.lse.AAPL", wrapperspb.String("n/a")) // dropped
	_ = b.Publish(ctx, "prices", "prices.lse.AAPL", wrapperspb.Double(189.4))

	// One subscriber gets one publisher's publications in order.
	for range 2 {
		select {
		case l := <-got:
			fmt.Println(l)
		case <-time.After(5 * time.Second):
			fmt.Println("timeout")
			return
		}
	}
	// Output:
	// prices.nyse.AAPL = 189.5
	// prices.lse.AAPL = 189.4
}

// A handler that is an ordinary actor: it answers requests and learns from the
// exchange whether it is named leader. IsSelf compares the whole PID: actor
// ids repeat across nodes that run the same program. (It acts as leader only
// between the Leadership messages that start and end its lease.)
func ExampleBroker_Connect() {
	ctx := context.Background()
	b, _ := actors.New()
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "matching", Kind: actors.ReqResp, Strategy: "consensus"})

	led := make(chan bool, 1)
	props := actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actors.Leader:
			led <- actors.IsSelf(c, m.GetLeader())
		case *actors.Request:
			m.Respond(wrapperspb.String("matched " + m.Payload.(*wrapperspb.StringValue).GetValue()))
		}
	})
	pid := b.System().Root.Spawn(props)
	if _, err := b.Connect(ctx, "matching", pid, actors.ServiceTag("eu")); err != nil {
		panic(err)
	}
	fmt.Println("leader:", <-led)

	reply, _ := b.Request(ctx, "matching", wrapperspb.String("order-1"), actors.WithServiceTag("eu"))
	fmt.Println(reply.(*wrapperspb.StringValue).GetValue())
	// Output:
	// leader: true
	// matched order-1
}

// An actor sends tagged requests without blocking; the replies come back to it
// as messages carrying the tags.
func ExampleBroker_RequestAsync() {
	ctx := context.Background()
	b, _ := actors.New()
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "quotes", Kind: actors.ReqResp, Strategy: "round-robin"})
	_, _ = b.Serve(ctx, "quotes", actors.HandlerFunc(func(_ context.Context, req *actors.Request) (proto.Message, error) {
		return wrapperspb.String("quote for " + req.Payload.(*wrapperspb.StringValue).GetValue()), nil
	}))

	var mu sync.Mutex
	var lines []string
	done := make(chan struct{})
	b.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actor.Started:
			for _, sym := range []string{"AAPL", "MSFT"} {
				_ = b.RequestAsync(c.Self(), "quotes", wrapperspb.String(sym), actors.WithTag("req-"+sym))
			}
		case *actors.Reply:
			mu.Lock()
			lines = append(lines, m.Tag+": "+m.Payload.(*wrapperspb.StringValue).GetValue())
			if len(lines) == 2 {
				close(done)
			}
			mu.Unlock()
		}
	}))
	<-done
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// req-AAPL: quote for AAPL
	// req-MSFT: quote for MSFT
}

// Subscribers with topic patterns; "*" matches one word, "#" any number.
func ExampleBroker_SubscribeFunc() {
	ctx := context.Background()
	b, _ := actors.New()
	defer b.Stop(ctx)
	_ = b.Declare(ctx, actors.Spec{Name: "prices", Kind: actors.PubSub})

	got := make(chan string, 10)
	for _, pattern := range []string{"prices.*.AAPL", "prices.nyse.#"} {
		pattern := pattern
		_, _ = b.SubscribeFunc(ctx, "prices", pattern, func(p *actors.Publication) {
			got <- fmt.Sprintf("%-14s got %s = %v", pattern, p.Key, p.Payload.(*wrapperspb.DoubleValue).GetValue())
		})
	}
	_ = b.Publish(ctx, "prices", "prices.nyse.AAPL", wrapperspb.Double(189.5))
	_ = b.Publish(ctx, "prices", "prices.lse.AAPL", wrapperspb.Double(189.4))
	_ = b.Publish(ctx, "prices", "prices.nyse.MSFT", wrapperspb.Double(402.1))

	var lines []string
	for range 4 {
		select {
		case l := <-got:
			lines = append(lines, l)
		case <-time.After(5 * time.Second):
			fmt.Println("timeout")
			return
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// prices.*.AAPL  got prices.lse.AAPL = 189.4
	// prices.*.AAPL  got prices.nyse.AAPL = 189.5
	// prices.nyse.#  got prices.nyse.AAPL = 189.5
	// prices.nyse.#  got prices.nyse.MSFT = 402.1
}
