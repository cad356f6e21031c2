// Package dispatch provides an actor.Dispatcher that runs mailboxes on a pool of
// long-lived goroutines.
//
// protoactor's default dispatcher starts a new goroutine for every mailbox run.
// A new goroutine starts with a small stack, and a handler's path (receive,
// answer, allocate, send) grows it every time: measured at 29% of CPU in
// runtime.copystack on the request-response benchmark. Workers that live on
// keep their grown stacks.
package dispatch

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// Pool is an actor.Dispatcher backed by a fixed set of worker goroutines.
// Schedule never blocks: when every worker is busy the mailbox runs on a new
// goroutine, as with the default dispatcher. Close stops the workers.
type Pool struct {
	work       chan func()
	stop       chan struct{}
	wg         sync.WaitGroup
	once       sync.Once
	throughput int
}

var _ actor.Dispatcher = (*Pool)(nil)

// New starts a pool of workers goroutines; throughput is the number of
// messages a mailbox processes before yielding (protoactor's default is 300).
func New(workers, throughput int) *Pool {
	if workers < 1 {
		workers = 1
	}
	if throughput < 1 {
		throughput = 300
	}
	p := &Pool{work: make(chan func()), stop: make(chan struct{}), throughput: throughput}
	p.wg.Add(workers)
	for range workers {
		go p.worker()
	}
	return p
}

func (p *Pool) worker() {
	defer p.wg.Done()
	for {
		select {
		case fn := <-p.work:
			fn()
		case <-p.stop:
			return
		}
	}
}

// Schedule runs fn on an idle worker, or on a new goroutine when none is idle.
// It is safe for concurrent use, also after Close.
func (p *Pool) Schedule(fn func()) {
	select {
	case p.work <- fn:
	default:
		go fn()
	}
}

// Throughput implements actor.Dispatcher.
func (p *Pool) Throughput() int { return p.throughput }

// Close stops the workers once they finish the mailbox runs they are in, and
// waits for them. Close is idempotent.
func (p *Pool) Close() {
	p.once.Do(func() { close(p.stop) })
	p.wg.Wait()
}
