package actors_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/internal/leakcheck"
	"github.com/bourse-go/bourse/strategies"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Every test must stop what it started: no goroutine may outlive a Broker.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
}

func newBroker(t *testing.T, opts ...actors.Option) *actors.Broker {
	t.Helper()
	b, err := actors.New(append([]actors.Option{actors.WithActorSystem(quietSystem())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
		b.System().Shutdown()
	})
	return b
}

func echo(prefix string) actors.Handler {
	return actors.HandlerFunc(func(_ context.Context, req *actors.Request) (proto.Message, error) {
		return wrapperspb.String(prefix + req.Payload.(*wrapperspb.StringValue).GetValue()), nil
	})
}

func TestStartStopLeavesNothingBehind(t *testing.T) {
	for i := range 3 {
		b, err := actors.New()
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t)
		if err := b.Declare(ctx, actors.Spec{Name: "x", Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
			t.Fatal(err)
		}
		if err := b.Declare(ctx, actors.Spec{Name: "p", Kind: actors.PubSub}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Serve(ctx, "x", echo("")); err != nil {
			t.Fatal(err)
		}
		if _, err := b.SubscribeFunc(ctx, "p", "#", func(*actors.Publication) {}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Request(ctx, "x", wrapperspb.String("hi")); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "p", "a.b", wrapperspb.String("hi")); err != nil {
			t.Fatal(err)
		}
		if err := b.Stop(ctx); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if err := b.Stop(ctx); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		if _, err := b.Request(ctx, "x", wrapperspb.String("hi")); !errors.Is(err, actors.ErrStopped) {
			t.Fatalf("request after stop: %v", err)
		}
	}
	goleak.VerifyNone(t, leakcheck.Options()...)
}

func TestServeLeaderMovesWhenLeaderStops(t *testing.T) {
	b := newBroker(t)
	ctx := ctxT(t)
	if err := b.Declare(ctx, actors.Spec{Name: "svc", Kind: actors.ReqResp, Strategy: "consensus-round-robin"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	leading := map[int]bool{}
	var svcs []*actors.Service
	for i := range 3 {
		s, err := b.Serve(ctx, "svc", echo(fmt.Sprintf("s%d:", i)), actors.OnLeader(func(is bool, _ *actors.Leader) {
			mu.Lock()
			leading[i] = is
			mu.Unlock()
		}))
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, s)
	}
	waitUntil(t, "s0 leads", func() bool { return svcs[0].IsLeader() && !svcs[1].IsLeader() && !svcs[2].IsLeader() })
	// consensus-round-robin spreads requests over every member.
	seen := map[string]bool{}
	for i := range 6 {
		r, err := b.Request(ctx, "svc", wrapperspb.String(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		seen[r.(*wrapperspb.StringValue).GetValue()[:2]] = true
	}
	if len(seen) != 3 {
		t.Fatalf("requests reached %v, want all three services", seen)
	}
	if err := svcs[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svcs[0].Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	waitUntil(t, "s1 leads", func() bool { return svcs[1].IsLeader() && !svcs[2].IsLeader() })
	mu.Lock()
	defer mu.Unlock()
	if leading[0] || !leading[1] || leading[2] {
		t.Fatalf("OnLeader saw %v", leading)
	}
}

func TestServeHandlerErrors(t *testing.T) {
	b := newBroker(t)
	ctx := ctxT(t)
	_ = b.Declare(ctx, actors.Spec{Name: "e", Kind: actors.ReqResp, Strategy: "round-robin"})
	_, err := b.Serve(ctx, "e", actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) {
		return nil, errors.New("no such user")
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Request(ctx, "e", wrapperspb.String("x"))
	if !errors.Is(err, actors.ErrHandler) || err.Error() != `bourse: exchange "e": handler failed: no such user` {
		t.Fatalf("err = %v", err)
	}
	if _, err := b.Serve(ctx, "e", nil); !errors.Is(err, actors.ErrInvalid) {
		t.Fatalf("nil handler: %v", err)
	}
	if _, err := b.Serve(ctx, "nope", echo("")); !errors.Is(err, actors.ErrUnknownExchange) {
		t.Fatalf("unknown exchange: %v", err)
	}
}

func TestServeSurvivesHandlerPanic(t *testing.T) {
	b := newBroker(t, actors.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	ctx := ctxT(t)
	_ = b.Declare(ctx, actors.Spec{Name: "p", Kind: actors.ReqResp, Strategy: "round-robin"})
	_, err := b.Serve(ctx, "p", actors.HandlerFunc(func(_ context.Context, r *actors.Request) (proto.Message, error) {
		if r.Payload.(*wrapperspb.StringValue).GetValue() == "boom" {
			panic("nil map")
		}
		return wrapperspb.String("ok"), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Request(ctx, "p", wrapperspb.String("boom"))
	if !errors.Is(err, actors.ErrHandler) || time.Since(start) > time.Second {
		t.Fatalf("panicking handler: err = %v after %v, want ErrHandler at once", err, time.Since(start))
	}
	if r, err := b.Request(ctx, "p", wrapperspb.String("next")); err != nil || r.(*wrapperspb.StringValue).GetValue() != "ok" {
		t.Fatalf("after the panic: %v, %v", r, err)
	}
}

func TestUserStrategyByName(t *testing.T) {
	reg := strategies.Builtin()
	// A user strategy: always the newest handler.
	err := reg.Register("newest", func(strategies.Params) (strategies.Strategy, error) {
		return strategies.StrategyFunc(func(members []strategies.Member) strategies.Picker {
			return strategies.PickerFunc(func(strategies.Request) (strategies.Decision, error) {
				if len(members) == 0 {
					return strategies.Decision{}, strategies.ErrNoHandlers
				}
				return strategies.Decision{Target: len(members) - 1}, nil
			})
		}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := newBroker(t, actors.WithStrategies(reg))
	ctx := ctxT(t)
	if err := b.Declare(ctx, actors.Spec{Name: "n", Kind: actors.ReqResp, Strategy: "newest"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := b.Serve(ctx, "n", echo(fmt.Sprintf("s%d:", i))); err != nil {
			t.Fatal(err)
		}
	}
	r, err := b.Request(ctx, "n", wrapperspb.String("x"))
	if err != nil || r.(*wrapperspb.StringValue).GetValue() != "s2:x" {
		t.Fatalf("got %v, %v", r, err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
