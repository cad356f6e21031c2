package exchange

import (
	"context"
	"sync/atomic"
	"time"
)

// Context returns the context a handler works on r in: parent's values
// and cancellation, ending at r's deadline (Deadline). Without a deadline
// it is parent itself. An actors.Service gives it to its handler; a
// handler actor of its own (Connect) may ask for it the same way.
//
// It costs no allocation and starts no timer until Done is called (most
// handlers never call it, and a context.WithDeadline per request costs four
// allocations and a timer); Deadline and Err read the request's deadline
// directly. A timer Done started is stopped when r is answered, dropped or
// discarded, and the context then reports context.Canceled, unless its
// deadline or parent ended it first. Only the first call is free: a later
// one costs a context.WithDeadline of its parent. The first call must
// happen before r is shared with other goroutines (an actors.Service makes
// it on its actor, before the handler runs).
func (r *Request) Context(parent context.Context) context.Context {
	if r.deadline == 0 {
		return parent
	}
	if r.parent == nil {
		r.parent = parent
		return reqCtx{r}
	}
	// Parents are not compared: a context of a type that is not comparable
	// would make == panic.
	d, _ := r.Deadline()
	ctx, cancel := context.WithDeadline(parent, d)
	r.onAnswer(cancel) // stopped with the request's own, when it is answered
	return ctx
}

// reqCtx is a Request's context. One pointer: converting it to a
// context.Context allocates nothing.
type reqCtx struct{ r *Request }

// reqDone is the context a reqCtx's Done made, with its cancel.
type reqDone struct {
	ctx    context.Context
	cancel context.CancelFunc
	next   *reqDone // more to cancel on answer (Context with another parent)
}

func (c reqCtx) Deadline() (time.Time, bool) {
	d, _ := c.r.Deadline()
	if pd, ok := c.r.parent.Deadline(); ok && pd.Before(d) {
		return pd, true
	}
	return d, true
}

func (c reqCtx) Value(key any) any { return c.r.parent.Value(key) }

func (c reqCtx) Done() <-chan struct{} { return c.r.doneCtx().Done() }

func (c reqCtx) Err() error {
	if ctx := c.r.timed(); ctx != nil {
		return ctx.Err()
	}
	if err := c.r.parent.Err(); err != nil {
		return err
	}
	if c.r.PastDeadline() {
		return context.DeadlineExceeded
	}
	return nil
}

func (c reqCtx) String() string { return "bourse request context" }

// timed returns the context with a timer that Done made, nil before.
func (r *Request) timed() context.Context {
	for d := r.done.Load(); d != nil; d = d.next {
		if d.ctx != nil {
			return d.ctx
		}
	}
	return nil
}

// doneCtx returns the context with a timer that Done reads, made once.
func (r *Request) doneCtx() context.Context {
	for {
		old := r.done.Load()
		if ctx := r.timed(); ctx != nil {
			return ctx
		}
		d, _ := r.Deadline()
		ctx, cancel := context.WithDeadline(r.parent, d)
		if r.done.CompareAndSwap(old, &reqDone{ctx: ctx, cancel: cancel, next: old}) {
			if r.answered.Load() {
				r.stopContexts() // answered meanwhile: nothing else will
			}
			return ctx
		}
		cancel()
	}
}

// onAnswer has cancel called when r is answered (at once if it was).
func (r *Request) onAnswer(cancel context.CancelFunc) {
	for {
		old := r.done.Load()
		if r.done.CompareAndSwap(old, &reqDone{cancel: cancel, next: old}) {
			break
		}
	}
	if r.answered.Load() {
		r.stopContexts()
	}
}

// stopContexts stops the timers of r's contexts; called once r is
// answered. Cancelling twice is harmless.
func (r *Request) stopContexts() {
	for d := r.done.Load(); d != nil; d = d.next {
		d.cancel()
	}
}

var _ context.Context = reqCtx{}

// reqCtxState is what a Request keeps for Context: 24 bytes of every
// Request, for a context that costs no allocation.
type reqCtxState struct {
	parent context.Context
	done   atomic.Pointer[reqDone] // nil until a timer or cancel is kept
}

// answeredNow stops what r's contexts started, once r is answered,
// dropped or discarded: one atomic load when there is nothing.
func (r *Request) answeredNow() {
	if r.done.Load() != nil {
		r.stopContexts()
	}
}
