// Package dispatch provides an actor.Dispatcher that runs mailboxes on a pool of
// long-lived goroutines.
//
// protoactor's default dispatcher starts a new goroutine for every mailbox run.
// A new goroutine starts with a small stack, and a handler's path (receive,
// answer, allocate, send) grows it every time: measured at 29% of CPU in
// runtime.copystack on the request-response benchmark. Workers that live on
// keep their grown stacks. And when one publication reaches ten thousand
// subscriber actors, ten thousand mailboxes are scheduled at once: a queue
// that the workers drain costs a fraction of ten thousand goroutines
// (measured: goroutine creation and scheduling were half the CPU of a node
// in the fan-out benchmark when the pool overflowed to new goroutines).
package dispatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/lifecycle"
)

// stallAfter is how long queued work may wait while no worker takes any
// before the pool starts another goroutine for it (see Pool).
const stallAfter = time.Millisecond

// defaultThroughput is the messages a mailbox processes before it yields
// when New is given 0: protoactor's own default, so that actors behave the
// same on the pool as on its dispatcher.
const defaultThroughput = 300

// The queue is a ring of minQueue slots that doubles when full. Once a
// burst has grown it beyond keepQueueBelow and drained, it starts again at
// minQueue: a fan-out to ten thousand local subscribers must not pin its
// ring for ever.
const (
	minQueue       = 64
	keepQueueBelow = 4096
)

// Pool is an actor.Dispatcher backed by a set of worker goroutines and a
// queue. Schedule never blocks. Mailbox runs wait in the queue while every
// worker is busy; when none of the workers takes any work for stallAfter
// (they are all blocked, say in handlers that wait for a reply from an actor
// whose mailbox is queued behind them), the pool starts a goroutine that
// drains the queue, as many as it takes, so that no actor waits on a
// blocked one for ever. Close and Stop stop the workers.
type Pool struct {
	mu     sync.Mutex
	cond   sync.Cond
	queue  []func() // a ring: head, n
	head   int
	n      int
	idle   int    // workers waiting for work
	taken  uint64 // work taken from the queue, ever: the stall detector's progress mark
	closed bool
	kick   chan struct{} // wakes the stall detector when work starts waiting

	stop       chan struct{}
	goroutines lifecycle.Group // workers, the stall detector, draining goroutines
	once       sync.Once
	throughput int
	workers    int
}

var _ actor.Dispatcher = (*Pool)(nil)

// New starts a pool of workers goroutines; throughput is the number of
// messages a mailbox processes before yielding (0 means defaultThroughput,
// protoactor's default, 300).
func New(workers, throughput int) *Pool {
	if workers < 1 {
		workers = 1
	}
	if throughput < 1 {
		throughput = defaultThroughput
	}
	p := &Pool{queue: make([]func(), minQueue), kick: make(chan struct{}, 1), stop: make(chan struct{}), throughput: throughput, workers: workers}
	p.cond.L = &p.mu
	for range workers {
		p.goroutines.Go(p.worker)
	}
	p.goroutines.Go(p.detectStalls)
	return p
}

// push queues fn; the caller holds mu.
func (p *Pool) push(fn func()) {
	if p.n == len(p.queue) {
		grown := make([]func(), 2*len(p.queue))
		for i := range p.n {
			grown[i] = p.queue[(p.head+i)%len(p.queue)]
		}
		p.queue, p.head = grown, 0
	}
	p.queue[(p.head+p.n)%len(p.queue)] = fn
	p.n++
}

// pop takes the oldest queued work, nil when there is none; the caller holds
// mu.
func (p *Pool) pop() func() {
	if p.n == 0 {
		return nil
	}
	fn := p.queue[p.head]
	p.queue[p.head] = nil
	p.head = (p.head + 1) % len(p.queue)
	p.n--
	p.taken++
	if p.n == 0 && len(p.queue) > keepQueueBelow {
		p.queue, p.head = make([]func(), minQueue), 0 // a burst's ring is not kept
	}
	return fn
}

func (p *Pool) worker() {
	p.mu.Lock()
	for {
		for p.n == 0 && !p.closed {
			p.idle++ // Schedule takes it off when it signals
			p.cond.Wait()
		}
		fn := p.pop()
		if fn == nil { // closed and drained
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		fn()
		p.mu.Lock()
	}
}

// Schedule queues fn for a worker. It is safe for concurrent use, also after
// Close, when fn runs on a goroutine of its own.
func (p *Pool) Schedule(fn func()) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		go fn()
		return
	}
	p.push(fn)
	// idle counts the workers waiting and not yet signalled: a signalled
	// worker is taken off at once, so that the next Schedule does not count
	// it as free before it has woken.
	wake := p.idle > 0
	if wake {
		p.idle--
	}
	p.mu.Unlock()
	if wake {
		p.cond.Signal()
	} else {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// detectStalls starts a draining goroutine whenever queued work waits for
// stallAfter while no worker took any.
func (p *Pool) detectStalls() {
	t := time.NewTimer(stallAfter)
	t.Stop()
	for {
		select {
		case <-p.kick:
		case <-p.stop:
			return
		}
		p.mu.Lock()
		mark := p.taken
		p.mu.Unlock()
		for {
			t.Reset(stallAfter)
			select {
			case <-t.C:
			case <-p.stop:
				t.Stop()
				return
			}
			p.mu.Lock()
			if p.n == 0 {
				p.mu.Unlock()
				break
			}
			stalled := p.taken == mark
			mark = p.taken
			if stalled {
				p.goroutines.Go(p.drain)
			}
			p.mu.Unlock()
		}
	}
}

// drain runs queued work until the queue is empty, then ends.
func (p *Pool) drain() {
	for {
		p.mu.Lock()
		fn := p.pop()
		p.mu.Unlock()
		if fn == nil {
			return
		}
		fn()
	}
}

// Workers returns the number of long-lived workers the pool started (the
// goroutines it adds when they are all blocked are not counted).
func (p *Pool) Workers() int { return p.workers }

// Throughput implements actor.Dispatcher.
func (p *Pool) Throughput() int { return p.throughput }

// Close lets the workers finish the work queued so far and stops them, and
// waits for them. Close is idempotent.
func (p *Pool) Close() { _ = p.Stop(context.Background()) }

// Stop is Close bounded by ctx: when ctx ends before the workers have
// finished (one runs a mailbox that does not return), it returns an error
// wrapping ctx.Err(), and the workers end by themselves once their work
// returns. Stop is idempotent and safe for concurrent use.
func (p *Pool) Stop(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cond.Broadcast()
		close(p.stop)
	})
	if err := p.goroutines.Wait(ctx); err != nil {
		return fmt.Errorf("bourse: stop dispatcher: %w", err)
	}
	return nil
}
