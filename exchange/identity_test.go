package exchange_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
)

// Issue 11, finding 6: a restarted node (same address, same actor ids) must
// not reuse its predecessor's connection ids: they carry the incarnation.
func TestConnectionIDsCarryIncarnation(t *testing.T) {
	ids := map[string]bool{}
	for _, inc := range []uint64{1796000000000000001, 1796000000000000002} {
		sys := newSystem()
		cfg := exchange.DefaultConfig()
		cfg.Incarnation = inc
		h, err := exchange.New(sys, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Declare(testCtx(t), reqResp("inc", "round-robin")); err != nil {
			t.Fatal(err)
		}
		pid, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(actor.Context) {}), "matcher")
		if err != nil {
			t.Fatal(err)
		}
		c, err := h.Connect(testCtx(t), "inc", pid)
		if err != nil {
			t.Fatal(err)
		}
		if c.Info().GetIncarnation() != inc {
			t.Fatalf("HandlerInfo.incarnation %d, want %d", c.Info().GetIncarnation(), inc)
		}
		ids[c.ID()] = true
		_ = h.Stop(testCtx(t))
		sys.Shutdown()
	}
	if len(ids) != 2 {
		t.Fatalf("two runs at the same address with the same actor id got the same connection id: %v", ids)
	}
}
