package actors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func engine(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String("ok"), nil
}

// A watcher that reads nothing while the leader changes 40 times holds the
// last LeaderWatchBuffer changes, in order, the last one the current state;
// the exchange never waited for it.
func TestWatchLeaderSlowWatcherKeepsTheLatest(t *testing.T) {
	ctx := ctxT(t)
	b := newBroker(t)
	if err := b.Declare(ctx, actors.Spec{Name: "m", Kind: actors.ReqResp, Strategy: "consensus"}); err != nil {
		t.Fatal(err)
	}
	changes, err := b.WatchLeader(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	var leaders []string // every leader appointed, in order
	for range 20 {
		svc, err := actors.ServeFunc(ctx, b, "m", engine)
		if err != nil {
			t.Fatal(err)
		}
		leaders = append(leaders, svc.Connection().ID())
		if err := svc.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Stop returns once the exchange has dropped the service: the last
	// change, to no leader, is in the channel.
	var got []actors.LeaderChange
	for len(got) < actors.LeaderWatchBuffer {
		select {
		case c := <-changes:
			got = append(got, c)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d changes, want %d", len(got), actors.LeaderWatchBuffer)
		}
	}
	select {
	case c := <-changes:
		t.Fatalf("more than LeaderWatchBuffer changes held: %v", c)
	case <-time.After(20 * time.Millisecond):
	}
	if last := got[len(got)-1]; last.Leader != nil {
		t.Fatalf("last change names %s, want no leader", last.Leader.GetId())
	}
	// In order: leaders alternate with "none", and come in the order they
	// were appointed.
	next := 0
	for i, c := range got {
		if c.Leader == nil {
			continue
		}
		for next < len(leaders) && leaders[next] != c.Leader.GetId() {
			next++
		}
		if next == len(leaders) {
			t.Fatalf("change %d names %s out of order (appointed: %v)", i, c.Leader.GetId(), leaders)
		}
	}
}

func TestWatchLeaderEnds(t *testing.T) {
	ctx := ctxT(t)
	b := newBroker(t)
	for _, s := range []actors.Spec{{Name: "m", Kind: actors.ReqResp}, {Name: "p", Kind: actors.PubSub}} {
		if err := b.Declare(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	closed := func(what string, ch <-chan actors.LeaderChange) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return
				}
			case <-timeout:
				t.Fatalf("%s: channel not closed", what)
			}
		}
	}

	wctx, cancel := context.WithCancel(ctx)
	byCtx, err := b.WatchLeader(wctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	byStop, err := b.WatchLeader(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	closed("ctx ended", byCtx)
	if _, err := actors.ServeFunc(ctx, b, "m", engine); err != nil {
		t.Fatal(err)
	}
	if c := <-byStop; c.Leader != nil {
		t.Fatalf("first change names %s, want none", c.Leader.GetId())
	}
	if c := <-byStop; c.Leader == nil {
		t.Fatal("second change names no leader")
	}

	if _, err := b.WatchLeader(wctx, "m"); !errors.Is(err, context.Canceled) {
		t.Errorf("ended ctx: err = %v", err)
	}
	if _, err := b.WatchLeader(ctx, "nope"); !errors.Is(err, actors.ErrUnknownExchange) {
		t.Errorf("unknown exchange: err = %v", err)
	}
	if _, err := b.WatchLeader(ctx, "p"); !errors.Is(err, actors.ErrWrongKind) {
		t.Errorf("pub-sub exchange: err = %v", err)
	}

	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	closed("broker stopped", byStop)
	if _, err := b.WatchLeader(ctx, "m"); !errors.Is(err, actors.ErrStopped) {
		t.Errorf("after Stop: err = %v", err)
	}
}
