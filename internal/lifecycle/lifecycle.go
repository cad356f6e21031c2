// Package lifecycle holds what bourse's objects stop with: Once, which runs a
// Stop or Close once and gives every caller its result, and Group, which
// tracks goroutines. Both let a waiter give up when its context ends without
// leaving a goroutine behind to wait for it.
package lifecycle

import (
	"context"
	"fmt"
	"sync"
)

// Once runs a function once, like sync.Once, and keeps its result. A caller
// that comes while the function runs waits for it, or for its own context.
// The zero value is ready to use; a Once must not be copied after first use.
type Once struct {
	mu   sync.Mutex
	done chan struct{} // nil until the first Do; closed when f has returned
	err  error
}

// Do calls f if Do has not been called before, and returns its result. Every
// later call returns that result too: at once when f has returned, otherwise
// when it returns or when ctx ends (then with an error wrapping ctx.Err()),
// whichever comes first. Do is safe for concurrent use.
func (o *Once) Do(ctx context.Context, f func() error) error {
	o.mu.Lock()
	if o.done != nil {
		done := o.done
		o.mu.Unlock()
		select {
		case <-done:
			return o.err
		default:
		}
		select {
		case <-done:
			return o.err
		case <-ctx.Done():
			return fmt.Errorf("bourse: waiting for a concurrent call to finish: %w", ctx.Err())
		}
	}
	o.done = make(chan struct{})
	o.mu.Unlock()
	defer close(o.done)
	o.err = f()
	return o.err
}

// Group tracks goroutines, like sync.WaitGroup, and can be waited for with
// a context. The zero value is ready to use; a Group must not be copied
// after first use.
type Group struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // made by a waiter, closed when n drops to 0
}

// Go runs f in a goroutine of its own, counted until f returns. It is safe
// for concurrent use.
func (g *Group) Go(f func()) {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
	go func() {
		defer g.done()
		f()
	}()
}

func (g *Group) done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// Wait returns nil when no goroutine of the group runs, or ctx.Err() when
// ctx ends first; the goroutines then go on, and end by themselves. Wait
// starts no goroutine. It is safe for concurrent use, also with Go.
func (g *Group) Wait(ctx context.Context) error {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
