package watermill_test

import (
	"context"
	"fmt"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/bourse-go/bourse/actors"
	watermill "github.com/bourse-go/bourse/contrib/watermill"
)

// A Watermill publisher and subscriber on one broker. On a cluster node,
// pass cluster.Node.Broker instead: publishers and subscribers on other
// nodes reach each other the same way.
func Example() {
	ctx := context.Background()
	b, err := actors.New(actors.WithLogger(slogger()))
	if err != nil {
		panic(err)
	}
	defer b.Stop(ctx)

	sub, err := watermill.NewSubscriber(b, watermill.SubscriberConfig{}, wm.NopLogger{})
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	// Subscribe before publishing: bourse keeps no log.
	msgs, err := sub.Subscribe(ctx, "orders")
	if err != nil {
		panic(err)
	}

	pub, err := watermill.NewPublisher(b, watermill.PublisherConfig{}, wm.NopLogger{})
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	msg := message.NewMessage("order-1", []byte(`{"symbol":"AAPL","qty":10}`))
	msg.Metadata.Set("source", "web")
	if err := pub.Publish("orders", msg); err != nil {
		panic(err)
	}

	got := <-msgs
	fmt.Println(got.UUID, got.Metadata.Get("source"), string(got.Payload))
	got.Nack() // comes back first
	again := <-msgs
	fmt.Println("again:", again.UUID)
	again.Ack()
	// Output:
	// order-1 web {"symbol":"AAPL","qty":10}
	// again: order-1
}
