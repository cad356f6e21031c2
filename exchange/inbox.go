package exchange

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
	// remote holds the calls with a request on another node: their replies
	// come back through the ingress by correlation id, and a node that dies
	// fails them at once.
	remote [inboxShards]remoteShard
}

const inboxShards = 32

// nodeCount is how many requests of a call went to one node.
type nodeCount struct {
	addr string
	n    int
}

type remoteShard struct {
	mu    sync.Mutex
	calls map[uint64]*call
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
	exchange  string
	// nodes counts the requests of this call on each other node (empty when
	// every handler is local); a slice kept with the pooled call, since a
	// call rarely spans more than one or two nodes.
	nodes      []nodeCount
	registered bool        // in its shard's calls (it has remote requests)
	timer      *time.Timer // WithTimeout's, kept with the pooled call
	// reply is where a local handler's answer to a pooled call is written
	// (localReply.reply), by the one that claimed the call: no Reply
	// allocated, nor sent through the inbox's process. Read by the caller
	// before it closes the call, which may then be reused.
	reply Reply
}

func newInbox() *inbox {
	in := &inbox{}
	for i := range in.remote {
		in.remote[i].calls = map[uint64]*call{}
	}
	in.pool.New = func() any { return &call{ch: make(chan *Reply, 1), pooled: true} }
	return in
}

// open returns a call expecting n replies to a request on exchange. A
// call for one reply is pooled: its caller must not keep the *Reply it
// receives past close (RequestAll, which returns its replies, uses
// openKept).
func (in *inbox) open(n int, exchange string) *call {
	if n != 1 {
		return in.openKept(n, exchange)
	}
	c := in.pool.Get().(*call)
	c.exchange = exchange
	c.corr = in.seq.Add(1)
	c.state.Store(c.corr)
	return c
}

// openKept returns a call expecting n replies that is not pooled: its
// replies may be kept.
func (in *inbox) openKept(n int, exchange string) *call {
	c := &call{ch: make(chan *Reply, n)}
	c.remaining.Store(int64(n))
	c.exchange = exchange
	c.corr = in.seq.Add(1)
	c.state.Store(c.corr)
	return c
}

// arm starts the call's timeout, to fire at the end of WithTimeout, and
// returns its channel; nil (a channel that never fires) when at is zero
// (no WithTimeout). An end already past fires at once.
func (c *call) arm(d time.Duration) <-chan time.Time {
	if d <= 0 {
		return nil
	}
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d) // Go 1.23+: no stale tick survives a Stop or Reset
	}
	return c.timer.C
}

// close ends c when its caller stops waiting, after taking received replies
// from c.ch, and recycles it once no reply can still be written to it.
func (in *inbox) close(c *call, received int) {
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.registered {
		s := &in.remote[c.corr%inboxShards]
		s.mu.Lock()
		delete(s.calls, c.corr)
		c.registered = false
		c.nodes = c.nodes[:0]
		s.mu.Unlock()
	}
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

// expectRemote records that c has a request on node addr.
func (in *inbox) expectRemote(c *call, addr string) {
	s := &in.remote[c.corr%inboxShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.registered {
		c.registered = true
		s.calls[c.corr] = c
	}
	for i := range c.nodes {
		if c.nodes[i].addr == addr {
			c.nodes[i].n++
			return
		}
	}
	c.nodes = append(c.nodes, nodeCount{addr: addr, n: 1})
}

// deliverRemote matches a reply from another node to its call.
func (in *inbox) deliverRemote(r *Reply) {
	s := &in.remote[r.corr%inboxShards]
	s.mu.Lock()
	c := s.calls[r.corr]
	s.mu.Unlock()
	if c == nil {
		return // late: the caller has gone
	}
	r.call = c
	in.deliver(r)
}

// failNode answers every request waiting on node addr with ErrNodeDown: the
// node died, its replies will never come.
func (in *inbox) failNode(addr string) {
	type hit struct {
		c        *call
		corr     uint64
		n        int
		exchange string
	}
	for i := range in.remote {
		s := &in.remote[i]
		var hits []hit
		s.mu.Lock()
		for corr, c := range s.calls {
			for i := range c.nodes {
				if nc := &c.nodes[i]; nc.addr == addr && nc.n > 0 {
					hits = append(hits, hit{c, corr, nc.n, c.exchange})
					nc.n = 0
				}
			}
		}
		s.mu.Unlock()
		for _, h := range hits {
			for range h.n {
				// corr was read under the lock: if the call was closed and
				// reused since, deliver drops these.
				in.deliver(&Reply{Exchange: h.exchange, Err: &RequestError{Exchange: h.exchange, Err: fmt.Errorf("%w: %s", ErrNodeDown, addr)}, corr: h.corr, call: h.c})
			}
		}
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
