package actors_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/internal/leakcheck"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestStopHonoursContext stops a service or a broker while code it runs does
// not return: Stop returns an error wrapping the context's once the context
// ends, later calls return the same result, and once that code returns no
// goroutine is left behind.
func TestStopHonoursContext(t *testing.T) {
	// Each setup starts something on b that blocks until release is closed,
	// returns once it blocks, and returns the Stop to call.
	type setup func(t *testing.T, b *actors.Broker, release <-chan struct{}, wg *sync.WaitGroup) func(context.Context) error
	busyHandler := func(t *testing.T, b *actors.Broker, release <-chan struct{}, wg *sync.WaitGroup) *actors.Service {
		ctx := ctxT(t)
		_ = b.Declare(ctx, actors.Spec{Name: "h", Kind: actors.ReqResp, Strategy: "round-robin"})
		blocked := make(chan struct{})
		s, err := b.Serve(ctx, "h", actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) {
			close(blocked)
			<-release // ignores its context
			return wrapperspb.String("late"), nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _, _ = b.Request(ctx, "h", wrapperspb.String("x")) })
		<-blocked
		return s
	}
	busyLeader := func(t *testing.T, b *actors.Broker, release <-chan struct{}, _ *sync.WaitGroup) *actors.Service {
		ctx := ctxT(t)
		_ = b.Declare(ctx, actors.Spec{Name: "l", Kind: actors.ReqResp, Strategy: "consensus"})
		blocked := make(chan struct{})
		s, err := b.Serve(ctx, "l", echo(""), actors.OnLeading(func(context.Context, uint64) {
			close(blocked)
			<-release // ignores its context
		}))
		if err != nil {
			t.Fatal(err)
		}
		<-blocked
		return s
	}
	tests := []struct {
		name  string
		start setup
	}{
		{"Service.Stop/handler busy", func(t *testing.T, b *actors.Broker, release <-chan struct{}, wg *sync.WaitGroup) func(context.Context) error {
			return busyHandler(t, b, release, wg).Stop
		}},
		{"Service.Stop/OnLeading busy", func(t *testing.T, b *actors.Broker, release <-chan struct{}, wg *sync.WaitGroup) func(context.Context) error {
			return busyLeader(t, b, release, wg).Stop
		}},
		{"Broker.Stop/handler busy", func(t *testing.T, b *actors.Broker, release <-chan struct{}, wg *sync.WaitGroup) func(context.Context) error {
			busyHandler(t, b, release, wg)
			return b.Stop
		}},
		{"Broker.Stop/OnLeading busy", func(t *testing.T, b *actors.Broker, release <-chan struct{}, wg *sync.WaitGroup) func(context.Context) error {
			busyLeader(t, b, release, wg)
			return b.Stop
		}},
		{"Broker.Stop/subscriber busy", func(t *testing.T, b *actors.Broker, release <-chan struct{}, _ *sync.WaitGroup) func(context.Context) error {
			ctx := ctxT(t)
			_ = b.Declare(ctx, actors.Spec{Name: "p", Kind: actors.PubSub})
			blocked := make(chan struct{})
			if _, err := b.SubscribeFunc(ctx, "p", "#", func(*actors.Publication) {
				close(blocked)
				<-release
			}); err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(ctx, "p", "a", wrapperspb.String("x")); err != nil {
				t.Fatal(err)
			}
			<-blocked
			return b.Stop
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, append(leakcheck.Options(), ignore)...) })
			b, err := actors.New()
			if err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			var wg sync.WaitGroup
			stop := tt.start(t, b, release, &wg)

			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			err = stop(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Stop = %v, want an error wrapping DeadlineExceeded", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("Stop took %v after its context ended", took)
			}
			if again := stop(context.Background()); again == nil || again.Error() != err.Error() {
				t.Fatalf("second Stop = %v, want the first call's %v", again, err)
			}
			close(release)
			wg.Wait()
			// Only a service may have been stopped; a broker already stopped
			// returns its first call's result again.
			if err := b.Stop(context.Background()); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("broker Stop: %v", err)
			}
		})
	}
}

// A call to Stop made while another is running waits for it and returns its
// result, or gives up when its own context ends.
func TestConcurrentStop(t *testing.T) {
	b, err := actors.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	_ = b.Declare(ctx, actors.Spec{Name: "h", Kind: actors.ReqResp, Strategy: "round-robin"})
	if _, err := b.Serve(ctx, "h", echo("")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = b.Stop(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Stop %d: %v", i, err)
		}
	}
}

// Unsubscribe stops the actor SubscribeFunc made, after the publications
// already queued for it: repeated subscriptions do not pile up actors.
func TestUnsubscribeStopsTheFuncActor(t *testing.T) {
	b := newBroker(t)
	ctx := context.Background()
	if err := b.Declare(ctx, actors.Spec{Name: "news", Kind: actors.PubSub}); err != nil {
		t.Fatal(err)
	}
	before := processCount(b)
	for range 50 {
		got := make(chan struct{}, 1)
		sub, err := b.SubscribeFunc(ctx, "news", "#", func(*actors.Publication) { got <- struct{}{} })
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "news", "a.b", wrapperspb.String("x")); err != nil {
			t.Fatal(err)
		}
		<-got
		if err := sub.Unsubscribe(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Each subscription's actor is gone: the process registry holds what
	// it held before.
	deadline := time.Now().Add(5 * time.Second)
	for processCount(b) > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := processCount(b); n > before {
		t.Errorf("%d processes after 50 subscriptions ended, %d before: their actors were left", n, before)
	}
}

// processCount counts the live local processes of b's actor system.
func processCount(b *actors.Broker) int {
	n := 0
	for _, shard := range b.System().ProcessRegistry.LocalPIDs.LocalPIDs {
		n += shard.Count()
	}
	return n
}
