package actors

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is a handler's ctx for a request with a deadline. It reads
// the deadline from the request only when asked (Deadline), and starts a
// timer only when the handler asks for Done (or derives a context from
// it): most handlers never do, and context.WithDeadline costs 4
// allocations and a timer per request, which the request-reply benchmarks
// showed. Err is right either way.
type deadlineCtx struct {
	parent context.Context
	req    *Request

	mu     sync.Mutex
	inner  context.Context // made by the first Done
	cancel context.CancelFunc
}

func newDeadlineCtx(parent context.Context, req *Request) *deadlineCtx {
	return &deadlineCtx{parent: parent, req: req}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) {
	d, _ := c.req.Deadline()
	if pd, ok := c.parent.Deadline(); ok && pd.Before(d) {
		return pd, true
	}
	return d, true
}

func (c *deadlineCtx) Value(key any) any { return c.parent.Value(key) }

func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil {
		d, _ := c.req.Deadline()
		c.inner, c.cancel = context.WithDeadline(c.parent, d)
	}
	return c.inner.Done()
}

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	inner := c.inner
	c.mu.Unlock()
	if inner != nil {
		return inner.Err()
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if c.req.PastDeadline() {
		return context.DeadlineExceeded
	}
	return nil
}

// release stops the timer, if Done started one.
func (c *deadlineCtx) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *deadlineCtx) String() string { return "bourse request context" }
