package exchange

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// TestRequestToAStoppedHandlerFailsAtOnce: a request sent to a handler
// actor that stopped after the caller's table was built (a hand-over, a
// service that stops) fails with ErrNoHandlers instead of waiting out its
// deadline (chaos seed 20261201: 3 consensus requests sent at a hand-over).
func TestRequestToAStoppedHandlerFailsAtOnce(t *testing.T) {
	sys := actor.NewActorSystem()
	h, err := New(sys, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Stop(context.Background()); sys.Shutdown() })
	got := make(chan *Reply, 1)
	caller := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*Reply); ok {
			got <- r
		}
	}))
	gone := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	if err := sys.Root.StopFuture(gone).Wait(); err != nil {
		t.Fatal(err)
	}
	req := newLocalRequest(&localRequest{Request: Request{Exchange: "x", Tag: "t1"}, via: localReply{root: sys.Root, replyTo: caller}})
	sys.Root.Send(gone, req)
	select {
	case r := <-got:
		if !errors.Is(r.Err, ErrNoHandlers) || r.Tag != "t1" {
			t.Fatalf("reply %+v, want ErrNoHandlers for t1", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply: the request was lost with its handler")
	}
}
