package exchange

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// inbox receives the replies of blocking requests: one process registered once
// per hub, instead of protoactor's RequestFuture, which registers a process
// and starts a timer for every request (more than the whole rest of a local
// round trip costs). A request carries its call; the reply brings it back and
// claims it with one compare-and-swap, so the reply path takes no lock.
type inbox struct {
	seq  atomic.Uint64
	pool sync.Pool
}

// call is one blocking request waiting for its reply, or for one reply per
// handler under a broadcasting strategy.
type call struct {
	// state is corr while the call waits and 0 once it is closed, or (single
	// reply) once the reply has claimed it. A reply whose corr differs is late:
	// its call was closed and perhaps reused.
	state     atomic.Uint64
	remaining atomic.Int64 // replies still accepted (broadcast calls)
	corr      uint64
	ch        chan *Reply
	pooled    bool
}

func newInbox() *inbox {
	in := &inbox{}
	in.pool.New = func() any { return &call{ch: make(chan *Reply, 1), pooled: true} }
	return in
}

// open returns a call expecting n replies.
func (in *inbox) open(n int) *call {
	var c *call
	if n == 1 {
		c = in.pool.Get().(*call)
	} else {
		c = &call{ch: make(chan *Reply, n)}
		c.remaining.Store(int64(n))
	}
	c.corr = in.seq.Add(1)
	c.state.Store(c.corr)
	return c
}

// close ends c when its caller stops waiting, having taken received replies
// from c.ch, and recycles it once no reply can still be written to it.
func (in *inbox) close(c *call, received int) {
	if !c.pooled {
		c.state.Store(0)
		return
	}
	if !c.state.CompareAndSwap(c.corr, 0) && received == 0 {
		// The reply claimed the call but the caller left first: it is in the
		// channel or about to be. Drain it so the next user of c gets only
		// its own.
		<-c.ch
	}
	in.pool.Put(c)
}

func (in *inbox) deliver(r *Reply) {
	c := r.call
	if c == nil {
		return
	}
	if c.pooled { // single reply; pooled is fixed at construction, n is not
		if c.state.CompareAndSwap(r.corr, 0) {
			c.ch <- r
		}
		return
	}
	if c.state.Load() == r.corr && c.remaining.Add(-1) >= 0 {
		c.ch <- r // never blocks: the channel holds every expected reply
	}
}

// SendUserMessage implements actor.Process.
func (in *inbox) SendUserMessage(_ *actor.PID, message any) {
	if env, ok := message.(*actor.MessageEnvelope); ok {
		message = env.Message
	}
	if r, ok := message.(*Reply); ok {
		in.deliver(r)
	}
}

// SendSystemMessage implements actor.Process; the inbox has no lifecycle.
func (in *inbox) SendSystemMessage(*actor.PID, any) {}

// Stop implements actor.Process; the hub removes the inbox on Stop.
func (in *inbox) Stop(*actor.PID) {}
