package exchange_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/internal/dispatch"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// parallelisms are the numbers of concurrent callers the benchmarks run.
var parallelisms = []int{1, 10, 100}

// runCallers runs b.N calls of call spread over p goroutines and reports
// cycles/s.
func runCallers(b *testing.B, p int, call func() error) {
	b.Helper()
	b.ReportAllocs()
	var failed atomic.Int64
	start := time.Now()
	if p == 1 {
		for i := 0; i < b.N; i++ {
			if err := call(); err != nil {
				failed.Add(1)
			}
		}
	} else {
		// RunParallel starts GOMAXPROCS*parallelism goroutines.
		b.SetParallelism((p + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := call(); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d calls failed", n)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "cycles/s")
}

// BenchmarkRequestResponse compares a request-response cycle through a
// round-robin exchange with protoactor's own RequestFuture to an echo actor,
// the reference a bourse request must at least match. Both run with
// protoactor's default dispatcher and with bourse's pooled one (what
// actors.Broker gives handlers), so the exchange's cost and the dispatcher's
// gain can be told apart.
func BenchmarkRequestResponse(b *testing.B) {
	payload := wrapperspb.String("ping")
	pong := wrapperspb.String("pong")
	withDispatcher := func(b *testing.B, pooled bool) []actor.PropsOption {
		if !pooled {
			return nil
		}
		pool := dispatch.New(runtime.GOMAXPROCS(0)*2, 0)
		b.Cleanup(pool.Close)
		return []actor.PropsOption{actor.WithDispatcher(pool)}
	}
	for _, p := range parallelisms {
		for _, pooled := range []bool{false, true} {
			disp := "default"
			if pooled {
				disp = "pool"
			}
			b.Run(fmt.Sprintf("raw-future/%s/p=%d", disp, p), func(b *testing.B) {
				sys := newSystem()
				defer sys.Shutdown()
				echo := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
					if _, ok := c.Message().(*wrapperspb.StringValue); ok {
						c.Respond(pong)
					}
				}, withDispatcher(b, pooled)...))
				defer sys.Root.Stop(echo)
				b.ResetTimer()
				runCallers(b, p, func() error {
					_, err := sys.Root.RequestFuture(echo, payload, 5*time.Second).Result()
					return err
				})
			})
			handlerCounts := []int{1}
			if pooled {
				handlerCounts = []int{1, 2}
			}
			for _, handlers := range handlerCounts {
				b.Run(fmt.Sprintf("exchange/%s/handlers=%d/p=%d", disp, handlers, p), func(b *testing.B) {
					h, sys := newHub(b, reqResp("bench", "round-robin"))
					for range handlers {
						pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
							if r, ok := c.Message().(*exchange.Request); ok {
								r.Respond(pong)
							}
						}, withDispatcher(b, pooled)...))
						if _, err := h.Connect(context.Background(), "bench", pid); err != nil {
							b.Fatal(err)
						}
					}
					ctx := context.Background()
					b.ResetTimer()
					runCallers(b, p, func() error {
						_, err := h.Request(ctx, "bench", payload)
						return err
					})
				})
			}
			if pooled {
				// The same with a deadline on the caller's context (made
				// once, outside the loop): what a deadline costs a request.
				b.Run(fmt.Sprintf("exchange-deadline/%s/handlers=1/p=%d", disp, p), func(b *testing.B) {
					h, sys := newHub(b, reqResp("bench", "round-robin"))
					pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
						if r, ok := c.Message().(*exchange.Request); ok {
							r.Respond(pong)
						}
					}, withDispatcher(b, pooled)...))
					if _, err := h.Connect(context.Background(), "bench", pid); err != nil {
						b.Fatal(err)
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
					defer cancel()
					b.ResetTimer()
					runCallers(b, p, func() error {
						_, err := h.Request(ctx, "bench", payload)
						return err
					})
				})
			}
		}
	}
}

// BenchmarkNoHandlers measures how fast a request to an exchange without
// handlers fails.
func BenchmarkNoHandlers(b *testing.B) {
	h, _ := newHub(b, reqResp("empty", "round-robin"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	payload := wrapperspb.String("x")
	b.ReportAllocs()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := h.Request(ctx, "empty", payload); err == nil {
			b.Fatal("no error")
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/1e3, "µs/fail")
}

// BenchmarkFanout publishes to N local subscribers and reports deliveries/s
// (publication to last delivery).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h, sys := newHub(b, pubSub("fan"))
			var delivered atomic.Int64
			props := actor.PropsFromFunc(func(c actor.Context) {
				if _, ok := c.Message().(*exchange.Publication); ok {
					delivered.Add(1)
				}
			})
			for range n {
				// No bound that b.N could reach: the figure is of the
				// path, not of drops (every publication must arrive).
				if _, err := h.Subscribe(context.Background(), "fan", "prices.*.AAPL", sys.Root.Spawn(props), exchange.WithPending(exchange.MaxPendingLimit)); err != nil {
					b.Fatal(err)
				}
			}
			payload := wrapperspb.String("42.0")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := h.Publish(ctx, "fan", "prices.nyse.AAPL", payload); err != nil {
					b.Fatal(err)
				}
			}
			want := int64(b.N) * int64(n)
			for delivered.Load() < want {
				time.Sleep(50 * time.Microsecond)
			}
			b.ReportMetric(float64(want)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}
