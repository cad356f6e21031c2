package actors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/internal/metrics"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// BenchmarkServe measures a request-response cycle through a Service on one
// node, with and without a deadline on the caller's context (made once,
// outside the loop): what a deadline costs a request and its handler; and
// with WithTimeout, as the bench command calls, with metrics off and on:
// what metrics cost a request (issue 15's budget is 5%).
func BenchmarkServe(b *testing.B) {
	pong := wrapperspb.String("pong")
	for _, tc := range []struct {
		name     string
		deadline bool
		timeout  time.Duration
		metrics  bool
	}{
		{name: "no-deadline"},
		{name: "deadline", deadline: true},
		{name: "timeout", timeout: time.Hour},
		{name: "timeout-metrics", timeout: time.Hour, metrics: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := actors.DefaultConfig()
			if tc.metrics {
				cfg.Recorder = metrics.New()
			}
			br, err := actors.New(actors.WithActorSystem(quietSystem()), actors.WithConfig(cfg))
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				_ = br.Stop(context.Background())
				br.System().Shutdown()
			}()
			ctx := context.Background()
			if err := br.Declare(ctx, actors.Spec{Name: "bench", Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
				b.Fatal(err)
			}
			_, err = br.Serve(ctx, "bench", actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) {
				return pong, nil
			}))
			if err != nil {
				b.Fatal(err)
			}
			if tc.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Hour)
				defer cancel()
			}
			var opts []actors.CallOption
			if tc.timeout > 0 {
				opts = append(opts, actors.WithTimeout(tc.timeout))
			}
			payload := wrapperspb.String("ping")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := br.Request(ctx, "bench", payload, opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
