package actors_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// handlerCtx is what a handler saw: its ctx's deadline and the request's.
type handlerCtx struct {
	ctxDeadline, reqDeadline time.Time
	ctxOK, reqOK             bool
}

// TestServeHandlerCtxEndsAtDeadline: a Service's handler (Serve, and
// ServeFunc's TypedFunc) gets a ctx whose deadline is the request's, the
// caller's, and none when the caller set none.
func TestServeHandlerCtxEndsAtDeadline(t *testing.T) {
	b := newBroker(t)
	ctx := ctxT(t)
	for _, name := range []string{"serve", "func"} {
		if err := b.Declare(ctx, actors.Spec{Name: name, Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(chan handlerCtx, 1)
	_, err := b.Serve(ctx, "serve", actors.HandlerFunc(func(ctx context.Context, req *actors.Request) (proto.Message, error) {
		var h handlerCtx
		h.ctxDeadline, h.ctxOK = ctx.Deadline()
		h.reqDeadline, h.reqOK = req.Deadline()
		seen <- h
		return wrapperspb.String("ok"), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = actors.ServeFunc(ctx, b, "func", func(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		var h handlerCtx
		h.ctxDeadline, h.ctxOK = ctx.Deadline()
		h.reqDeadline, h.reqOK = h.ctxDeadline, h.ctxOK // TypedFunc has no Request
		seen <- h
		return wrapperspb.String("ok"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		ctxTimeout  time.Duration
		withTimeout time.Duration
		want        time.Duration // 0: none
	}{
		{name: "none"},
		{name: "context", ctxTimeout: 2 * time.Second, want: 2 * time.Second},
		{name: "WithTimeout", withTimeout: 3 * time.Second, want: 3 * time.Second},
		{name: "the earlier of both", ctxTimeout: 5 * time.Second, withTimeout: 3 * time.Second, want: 3 * time.Second},
	} {
		for _, exch := range []string{"serve", "func"} {
			t.Run(tc.name+"/"+exch, func(t *testing.T) {
				start := time.Now()
				callCtx := context.Background()
				if tc.ctxTimeout > 0 {
					var cancel context.CancelFunc
					callCtx, cancel = context.WithTimeout(callCtx, tc.ctxTimeout)
					defer cancel()
				}
				var opts []actors.CallOption
				if tc.withTimeout > 0 {
					opts = append(opts, actors.WithTimeout(tc.withTimeout))
				}
				if _, err := b.Request(callCtx, exch, wrapperspb.String("x"), opts...); err != nil {
					t.Fatal(err)
				}
				end := time.Now()
				h := <-seen
				if h.ctxOK != (tc.want > 0) || h.reqOK != h.ctxOK {
					t.Fatalf("deadline on ctx: %v, on the request: %v; want %v", h.ctxOK, h.reqOK, tc.want > 0)
				}
				if !h.ctxOK {
					return
				}
				if !h.ctxDeadline.Equal(h.reqDeadline) {
					t.Fatalf("ctx's deadline %v, the request's %v", h.ctxDeadline, h.reqDeadline)
				}
				if h.ctxDeadline.Before(start.Add(tc.want)) || h.ctxDeadline.After(end.Add(tc.want)) {
					t.Fatalf("deadline %v after the call's start, want %v", h.ctxDeadline.Sub(start), tc.want)
				}
			})
		}
	}
}

// TestServeHandlerCtxIsDoneAtDeadline: a handler that waits on its ctx is
// released at the caller's deadline, with DeadlineExceeded.
func TestServeHandlerCtxIsDoneAtDeadline(t *testing.T) {
	b := newBroker(t)
	ctx := ctxT(t)
	if err := b.Declare(ctx, actors.Spec{Name: "wait", Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	_, err := b.Serve(ctx, "wait", actors.HandlerFunc(func(ctx context.Context, _ *actors.Request) (proto.Message, error) {
		select {
		case <-ctx.Done():
			ended <- ctx.Err()
		case <-time.After(5 * time.Second):
			ended <- errors.New("ctx did not end at the deadline")
		}
		return nil, ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Request(ctx, "wait", wrapperspb.String("x"), actors.WithTimeout(50*time.Millisecond)); !errors.Is(err, actors.ErrTimeout) {
		t.Fatalf("call: %v, want ErrTimeout", err)
	}
	if err := <-ended; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("handler's ctx ended with %v, want DeadlineExceeded", err)
	}
}

// TestServeDropsExpiredRequests: a request whose deadline passes while it
// waits in a Service's mailbox is dropped without calling the handler, and
// counted in Stats.Expired; requests in time, and without a deadline, are
// handled.
func TestServeDropsExpiredRequests(t *testing.T) {
	b := newBroker(t)
	ctx := ctxT(t)
	if err := b.Declare(ctx, actors.Spec{Name: "slow", Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	var mu sync.Mutex
	var handled []string
	started := make(chan struct{}, 1)
	_, err := b.Serve(ctx, "slow", actors.HandlerFunc(func(_ context.Context, req *actors.Request) (proto.Message, error) {
		p := req.Payload.(*wrapperspb.StringValue).GetValue()
		if p == "block" {
			started <- struct{}{}
			<-gate
		}
		mu.Lock()
		handled = append(handled, p)
		mu.Unlock()
		return wrapperspb.String(p), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := b.Request(ctx, "slow", wrapperspb.String("block"))
		blocked <- err
	}()
	<-started
	// Expire in the mailbox, each way a call gets a deadline.
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := b.Request(short, "slow", wrapperspb.String("late ctx")); !errors.Is(err, actors.ErrTimeout) {
		t.Fatalf("late call: %v, want ErrTimeout", err)
	}
	if _, err := b.Request(context.Background(), "slow", wrapperspb.String("late WithTimeout"), actors.WithTimeout(30*time.Millisecond)); !errors.Is(err, actors.ErrTimeout) {
		t.Fatalf("late call: %v, want ErrTimeout", err)
	}
	replies := make(chan error, 2)
	for _, p := range []string{"in time", "no deadline"} {
		go func() {
			var opts []actors.CallOption
			if p == "in time" {
				opts = append(opts, actors.WithTimeout(10*time.Second))
			}
			_, err := b.Request(ctx, "slow", wrapperspb.String(p), opts...)
			replies <- err
		}()
	}
	time.Sleep(20 * time.Millisecond) // let both reach the mailbox
	close(gate)
	for _, ch := range []chan error{blocked, replies, replies} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	got := append([]string(nil), handled...)
	mu.Unlock()
	if len(got) != 3 || got[0] != "block" {
		t.Fatalf("handled %q, want block, in time and no deadline (the late ones dropped)", got)
	}
	for _, p := range got {
		if p == "late ctx" || p == "late WithTimeout" {
			t.Fatalf("handled %q, whose deadline had passed", p)
		}
	}
	st, err := b.Stats("slow")
	if err != nil || st.Expired != 2 {
		t.Fatalf("Stats.Expired = %d (%v), want 2", st.Expired, err)
	}
}
