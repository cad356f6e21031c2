// Command hello is the smallest bourse program: one handler, one request, one
// subscription.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

// run is the whole program; it prints to out. Every call that can fail
// is checked, and Stop's error is reported too.
func run(ctx context.Context, out io.Writer) (err error) {
	// A broker is a service's handle on bourse; Stop releases it.
	b, err := actors.New()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.Stop(ctx)) }()

	if err := declare(ctx, b); err != nil {
		return err
	}
	if err := serveGreeter(ctx, b); err != nil {
		return err
	}
	got, err := subscribeNews(ctx, b)
	if err != nil {
		return err
	}
	if err := greet(ctx, b, out); err != nil {
		return err
	}
	return publishNews(ctx, b, got, out)
}

// declare teaches that exchanges exist before anyone uses them: a
// request-response exchange that takes its handlers in turn, and a
// publish-subscribe one.
func declare(ctx context.Context, b *actors.Broker) error {
	if err := b.Declare(ctx, actors.Spec{Name: "greeter", Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		return err
	}
	return b.Declare(ctx, actors.Spec{Name: "news", Kind: actors.PubSub})
}

// serveGreeter teaches that a handler is a function from a request to a
// reply; the broker runs it in an actor of its own. ServeFunc's types say
// what it takes and gives: a payload of another type is refused with
// ErrWrongType before the function runs.
func serveGreeter(ctx context.Context, b *actors.Broker) error {
	_, err := actors.ServeFunc(ctx, b, "greeter", func(_ context.Context, name *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String("hello, " + name.GetValue()), nil
	})
	return err
}

// subscribeNews teaches patterns: "news.#" matches every routing key that
// starts with "news". The keys received arrive on the returned channel.
func subscribeNews(ctx context.Context, b *actors.Broker) (<-chan string, error) {
	got := make(chan string, 1)
	if _, err := b.SubscribeFunc(ctx, "news", "news.#", func(p *actors.Publication) { got <- p.Key }); err != nil {
		return nil, err
	}
	return got, nil
}

// greet teaches a request: Call waits for the handler's reply, of the type
// asked for.
func greet(ctx context.Context, b *actors.Broker, out io.Writer) error {
	reply, err := actors.Call[*wrapperspb.StringValue](ctx, b, "greeter", wrapperspb.String("world"))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, reply.GetValue())
	return err
}

// publishNews teaches that Publish does not wait for delivery: the
// subscriber's function runs later, in its own actor.
func publishNews(ctx context.Context, b *actors.Broker, got <-chan string, out io.Writer) error {
	if err := b.Publish(ctx, "news", "news.markets.open", wrapperspb.String("bell")); err != nil {
		return err
	}
	select {
	case key := <-got:
		_, err := fmt.Fprintln(out, "subscriber got", key)
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
