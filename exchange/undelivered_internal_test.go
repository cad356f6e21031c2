package exchange

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/codec"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestRequestToADisconnectedHandlerIsNotDelivered: once a handler's
// disconnection has begun (Connection.Close, which a stopping Service calls
// before it stops its actor), a request that a caller's lagging table still
// routes to it never reaches its mailbox, from another node or from this
// one: it comes back undelivered at once, and its caller sends it again.
// Before, it went into the mailbox, behind the stop of a Service's actor
// if it came late enough, where protoactor drops it without a word: chaos
// seed 11 (10 minutes) had a consensus request, sent as its leader handed
// over, wait out its 2 s deadline.
func TestRequestToADisconnectedHandlerIsNotDelivered(t *testing.T) {
	sys := actor.NewActorSystem()
	h, err := New(sys, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Stop(context.Background()); sys.Shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Declare(ctx, Spec{Name: "x", Kind: ReqResp, Strategy: "round-robin"}); err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int32
	handler := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*Request); ok {
			reached.Add(1)
			r.Respond(r.Payload)
		}
	}))
	conn, err := h.Connect(ctx, "x", handler)
	if err != nil {
		t.Fatal(err)
	}
	replies := make(chan *Reply, 1)
	caller := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if r, ok := c.Message().(*Reply); ok {
			replies <- r
		}
	}))
	value, err := proto.Marshal(wrapperspb.String("ping"))
	if err != nil {
		t.Fatal(err)
	}
	// fromAnotherNode hands the hub what its ingress decodes from a request
	// frame; the answer goes to caller.
	fromAnotherNode := func(tag string) *Reply {
		t.Helper()
		h.deliverRequest(&codec.InRequest{Exchange: "x", Tag: tag, Handler: conn.ID(),
			Target: codec.Pid{Address: h.address(), ID: handler.Id}, ReplyTo: h.wireIngress(),
			DeliverTo: codec.Pid{Address: caller.Address, ID: caller.Id},
			URL:       []byte("type.googleapis.com/google.protobuf.StringValue"), Value: value, HasPayload: true})
		select {
		case r := <-replies:
			return r
		case <-time.After(5 * time.Second):
			t.Fatalf("request %s: no answer", tag)
			return nil
		}
	}
	if r := fromAnotherNode("before"); r.Err != nil || reached.Load() != 1 {
		t.Fatalf("before Close: reply %+v, handler reached %d times, want answered once", r, reached.Load())
	}
	p, err := h.lookup("x", ReqResp)
	if err != nil {
		t.Fatal(err)
	}
	stale := p.table.Load() // what a caller's lagging table still routes by

	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r := fromAnotherNode("after"); !errors.Is(r.Err, errUndelivered) || !errors.Is(r.Err, ErrNoHandlers) || r.Tag != "after" {
		t.Fatalf("from another node after Close: reply %+v, want errUndelivered (ErrNoHandlers)", r)
	}
	rt := routed{p: p, g: stale.all, target: 0, payload: wrapperspb.String("local")}
	if _, err := h.await(ctx, "x", &rt, &callOptions{}, bounds{armFor: 5 * time.Second}); !errors.Is(err, errUndelivered) {
		t.Fatalf("from this node by a stale table after Close: %v, want errUndelivered", err)
	}
	if n := reached.Load(); n != 1 {
		t.Fatalf("the disconnected handler was reached %d times, want once (before Close)", n)
	}
}
