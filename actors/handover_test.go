package actors_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestStopHandsLeadershipOverWithoutOverlap stops the leading service of two,
// again and again: the other must never be told it leads before the stopping
// one was told it no longer does (R15: one leader at a time).
func TestStopHandsLeadershipOverWithoutOverlap(t *testing.T) {
	ctx := context.Background()
	bad := 0
	for range 100 {
		b, err := actors.New(actors.WithActorSystem(quietSystem()))
		if err != nil {
			t.Fatal(err)
		}
		_ = b.Declare(ctx, actors.Spec{Name: "x", Kind: actors.ReqResp, Strategy: "round-robin"})
		var leading, maxL atomic.Int64
		var svcs []*actors.Service
		for range 2 {
			is := false
			s, err := b.Serve(ctx, "x", actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) { return wrapperspb.String(""), nil }),
				actors.OnLeader(func(l bool, _ *actors.Leader) {
					if l && !is {
						n := leading.Add(1)
						for {
							m := maxL.Load()
							if n <= m || maxL.CompareAndSwap(m, n) {
								break
							}
						}
					}
					if !l && is {
						leading.Add(-1)
					}
					is = l
				}))
			if err != nil {
				t.Fatal(err)
			}
			svcs = append(svcs, s)
		}
		time.Sleep(5 * time.Millisecond)
		_ = svcs[0].Stop(ctx)
		time.Sleep(5 * time.Millisecond)
		if maxL.Load() > 1 {
			bad++
		}
		_ = b.Stop(ctx)
	}
	if bad > 0 {
		t.Errorf("two leaders at once in %d of 100 rounds", bad)
	}
}
