package exchange

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// uncomparableCtx is a context value whose type == cannot compare.
type uncomparableCtx struct {
	context.Context
	_ []int
}

func TestRequestContext(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	t.Run("no deadline: the parent", func(t *testing.T) {
		r := &Request{}
		if got := r.Context(parent); got != parent {
			t.Fatalf("got %v, want the parent", got)
		}
	})
	t.Run("deadline, value, no timer until Done", func(t *testing.T) {
		r := &Request{deadline: monoNow() + mono(time.Hour)}
		ctx := r.Context(parent)
		want, _ := r.Deadline()
		if d, ok := ctx.Deadline(); !ok || !d.Equal(want) {
			t.Fatalf("Deadline %v %v, want %v", d, ok, want)
		}
		if ctx.Value(ctxKey{}) != "v" || ctx.Err() != nil {
			t.Fatalf("Value %v, Err %v", ctx.Value(ctxKey{}), ctx.Err())
		}
		if r.done.Load() != nil {
			t.Fatal("a timer before Done")
		}
		done := ctx.Done()
		if done == nil || ctx.Done() != done {
			t.Fatal("Done is not one channel")
		}
		select {
		case <-done:
			t.Fatal("done an hour early")
		default:
		}
		r.Discard() // answered: the timer stops
		<-done
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("Err after the answer %v, want Canceled", ctx.Err())
		}
	})
	t.Run("passed deadline", func(t *testing.T) {
		r := &Request{deadline: monoNow() + mono(time.Millisecond)}
		ctx := r.Context(parent)
		time.Sleep(2 * time.Millisecond)
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err %v before Done, want DeadlineExceeded", ctx.Err())
		}
		<-ctx.Done()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err %v after Done, want DeadlineExceeded", ctx.Err())
		}
	})
	t.Run("parent's earlier deadline and cancel", func(t *testing.T) {
		p, cancel := context.WithTimeout(parent, time.Minute)
		r := &Request{deadline: monoNow() + mono(time.Hour)}
		ctx := r.Context(p)
		pd, _ := p.Deadline()
		if d, _ := ctx.Deadline(); !d.Equal(pd) {
			t.Fatalf("Deadline %v, want the parent's %v", d, pd)
		}
		done := ctx.Done()
		cancel()
		<-done
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("Err %v, want Canceled", ctx.Err())
		}
	})
	t.Run("Done after the answer", func(t *testing.T) {
		r := &Request{deadline: monoNow() + mono(time.Hour)}
		ctx := r.Context(parent)
		r.Discard()
		<-ctx.Done() // stopped at once, not in an hour
	})
	t.Run("another parent", func(t *testing.T) {
		r := &Request{deadline: monoNow() + mono(time.Hour)}
		_ = r.Context(parent)
		other := r.Context(context.Background())
		if other.Value(ctxKey{}) != nil {
			t.Fatal("the second context has the first parent's values")
		}
		r.Discard()
		<-other.Done()
	})
	t.Run("a parent that is not comparable", func(t *testing.T) {
		r := &Request{deadline: monoNow() + mono(time.Hour)}
		_ = r.Context(uncomparableCtx{Context: parent})
		second := r.Context(uncomparableCtx{Context: parent}) // must not panic
		if second.Value(ctxKey{}) != "v" {
			t.Fatal("the second context lost its parent's values")
		}
	})
}

func TestRequestContextAllocatesNothing(t *testing.T) {
	parent := context.Background()
	r := &Request{deadline: monoNow() + mono(time.Hour)}
	var sink context.Context
	n := testing.AllocsPerRun(100, func() {
		r.parent = nil
		sink = r.Context(parent)
		_, _ = sink.Deadline()
		_ = sink.Err()
	})
	if n != 0 {
		t.Fatalf("%v allocations a request, want 0", n)
	}
}
