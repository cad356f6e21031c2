//go:build !race

package exchange_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/internal/dispatch"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// BenchmarkRemoteRequestResponse runs three nodes (actor systems with remote
// on loopback) in one process: the caller on one, the exchange's authority on
// another, the handler on the third (or the caller's neighbour when the
// authority lands there). The reference is protoactor's raw remote
// RequestFuture from the caller's node to an echo actor on the handler's
// node. The exchange adds no network hop, so the two should be close.
// raw-wire is the reference again with the exchange's own wire messages
// (boursepb.Request and Reply, payload in an Any) instead of a bare
// StringValue: it shows what the bigger messages alone cost.
// wireReply is what the echo actor answers a raw-wire request with.
var wireReply *boursepb.Reply

func BenchmarkRemoteRequestResponse(b *testing.B) {
	for _, tr := range transports {
		b.Run(string(tr), func(b *testing.B) { benchRemoteRequestResponse(b, tr) })
	}
}

func benchRemoteRequestResponse(b *testing.B, tr transport) {
	nodes := startNodesB(b, 3, tr)
	declareAllB(b, nodes, reqResp("bench", "round-robin"))
	owner := nodes[0].wire.Owner("bench")
	var caller, handler *testNode
	for _, n := range nodes {
		if n.sys.Address() == owner {
			continue
		}
		if caller == nil {
			caller = n
		} else {
			handler = n
		}
	}
	if handler == nil { // the authority is on one node, the other two remain
		handler = nodes[2]
	}
	pool := dispatch.New(2*runtime.GOMAXPROCS(0), 0)
	b.Cleanup(pool.Close)
	pong := wrapperspb.String("pong")
	anyr, _ := anypb.New(pong)
	wireReply = &boursepb.Reply{Exchange: "bench", CorrelationId: 123456, Payload: anyr}
	hpid := handler.sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *exchange.Request:
			m.Respond(pong)
		case *wrapperspb.StringValue:
			c.Respond(pong)
		case *boursepb.Request:
			c.Respond(wireReply)
		}
	}, actor.WithDispatcher(pool)))
	if _, err := handler.hub.Connect(context.Background(), "bench", hpid); err != nil {
		b.Fatal(err)
	}
	for {
		if hs, _ := caller.hub.Handlers("bench"); len(hs) == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	payload := wrapperspb.String("ping")
	// A PID caches the process it resolved to, whatever the actor system:
	// hpid, resolved in the handler's system, would reach the echo actor
	// in-process from the caller's system too, skipping the network. The
	// caller gets a PID of its own, which resolves to remote.
	remoteEcho := actor.NewPID(hpid.Address, hpid.Id)
	anyp, _ := anypb.New(payload)
	wireReq := &boursepb.Request{Exchange: "bench", CorrelationId: 123456, ReplyTo: &boursepb.Pid{Address: caller.sys.Address(), Id: "bourse$ingress"},
		Target: &boursepb.Pid{Address: handler.sys.Address(), Id: hpid.Id}, Payload: anyp}
	for _, p := range []int{1, 100} {
		b.Run(fmt.Sprintf("raw-remote-future/p=%d", p), func(b *testing.B) {
			runCallers(b, p, func() error {
				_, err := caller.sys.Root.RequestFuture(remoteEcho, payload, 5*time.Second).Result()
				return err
			})
		})
		b.Run(fmt.Sprintf("raw-wire/p=%d", p), func(b *testing.B) {
			runCallers(b, p, func() error {
				_, err := caller.sys.Root.RequestFuture(remoteEcho, wireReq, 5*time.Second).Result()
				return err
			})
		})
		b.Run(fmt.Sprintf("exchange/p=%d", p), func(b *testing.B) {
			ctx := context.Background()
			runCallers(b, p, func() error {
				_, err := caller.hub.Request(ctx, "bench", payload)
				return err
			})
		})
		b.Run(fmt.Sprintf("exchange-deadline/p=%d", p), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			runCallers(b, p, func() error {
				_, err := caller.hub.Request(ctx, "bench", payload)
				return err
			})
		})
	}
}
