package exchange_test

import (
	"context"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
)

// Connection.Close and Subscription.Unsubscribe are idempotent, as Stop is:
// the first call does the work, every later or concurrent one returns its
// result, also with a context that has already ended.
func TestCloseAndUnsubscribeAreIdempotent(t *testing.T) {
	tests := []struct {
		name string
		// open returns the close function of a fresh connection or
		// subscription, and whether it is still routed to.
		open func(t *testing.T, h *exchange.Hub, sys *actor.ActorSystem) (func(context.Context) error, func() bool)
	}{
		{"Connection.Close", func(t *testing.T, h *exchange.Hub, sys *actor.ActorSystem) (func(context.Context) error, func() bool) {
			_, _, c := connect(t, h, sys, "rr", "h")
			return c.Close, func() bool { hs, _ := h.Handlers("rr"); return len(hs) > 0 }
		}},
		{"Subscription.Unsubscribe", func(t *testing.T, h *exchange.Hub, sys *actor.ActorSystem) (func(context.Context) error, func() bool) {
			pid := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
			sub, err := h.Subscribe(testCtx(t), "ps", "a.*", pid)
			if err != nil {
				t.Fatal(err)
			}
			return sub.Unsubscribe, func() bool { n, _ := h.Publish(testCtx(t), "ps", "a.b", str("x")); return n > 0 }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/twice", func(t *testing.T) {
			h, sys := newHub(t, reqResp("rr", "round-robin"), pubSub("ps"))
			closeFn, routed := tt.open(t, h, sys)
			for i := range 2 {
				if err := closeFn(testCtx(t)); err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
			}
			if routed() {
				t.Fatal("still routed to after close")
			}
			ended, cancel := context.WithCancel(context.Background())
			cancel()
			if err := closeFn(ended); err != nil {
				t.Fatalf("call with an ended context: %v, want the first call's nil", err)
			}
		})
		t.Run(tt.name+"/concurrent", func(t *testing.T) {
			h, sys := newHub(t, reqResp("rr", "round-robin"), pubSub("ps"))
			closeFn, routed := tt.open(t, h, sys)
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() { errs[i] = closeFn(testCtx(t)) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				}
			}
			if routed() {
				t.Fatal("still routed to after close")
			}
		})
		t.Run(tt.name+"/after hub stop", func(t *testing.T) {
			h, sys := newHub(t, reqResp("rr", "round-robin"), pubSub("ps"))
			closeFn, _ := tt.open(t, h, sys)
			if err := h.Stop(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if err := closeFn(testCtx(t)); err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
			}
		})
	}
}
