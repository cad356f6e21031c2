package exchange

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/lifecycle"
	boursepb "github.com/bourse-go/bourse/proto"
)

// ConnectOption sets an option of a handler's connection.
type ConnectOption func(*boursepb.HandlerInfo)

// ServiceTag puts the connection in a service group: requests that name the
// tag (WithServiceTag) go only to the group.
func ServiceTag(tag string) ConnectOption {
	return func(i *boursepb.HandlerInfo) { i.ServiceTag = tag }
}

// ConnTag sets the connection tag (routing key). One actor may connect to an
// exchange several times under different connection tags; each Request it
// receives says which connection it came through (Request.ConnTag).
func ConnTag(tag string) ConnectOption {
	return func(i *boursepb.HandlerInfo) { i.ConnTag = tag }
}

// Options attaches free-form options to the connection; other handlers see
// them in Leader, SlaveUp and SlaveDown.
func Options(opts map[string]string) ConnectOption {
	return func(i *boursepb.HandlerInfo) { i.Options = maps.Clone(opts) }
}

// Concurrency sets how many requests the handler works on at once through
// this connection: its free capacity is n less its requests in flight,
// which local-first reads, and requests beyond n wait in its queue (see
// QueueLimit). The default is Config.Handlers.Concurrency
// (DefaultConcurrency, 1: an actor takes one message at a time); give more
// to a handler that answers from several goroutines. n must be 1 to
// MaxConcurrency.
func Concurrency(n int) ConnectOption {
	return func(i *boursepb.HandlerInfo) { i.Concurrency = uint32(max(n, 0)) }
}

// QueueLimit bounds the requests that may wait for the handler beyond its
// concurrency limit; a request that finds the queue full fails at once
// with ErrOverloaded, unseen by the handler. The default is
// Config.Handlers.Queue (DefaultQueue); 0 lets none wait. n must be 0 to
// MaxQueue.
func QueueLimit(n int) ConnectOption {
	return func(i *boursepb.HandlerInfo) { i.Queue = uint32(min(max(n, 0), MaxQueue+1)) }
}

// Connection is one connection of a handler to a req-resp exchange.
type Connection struct {
	hub    *Hub
	p      *point
	info   *boursepb.HandlerInfo
	lease  *leaseState
	closed lifecycle.Once
}

// ID returns the connection's id, unique in the exchange.
func (c *Connection) ID() string { return c.info.GetId() }

// Info returns the connection as other handlers see it.
func (c *Connection) Info() *boursepb.HandlerInfo { return c.info }

// Close disconnects the handler. It returns when the exchange's authority has
// taken the connection out of the routing table (the other nodes stop routing
// to it as the table reaches them; a request already routed to it is still
// delivered). When ctx ends first, the disconnection goes on and Close
// returns an error wrapping ctx.Err(). Close is idempotent, as Stop is: later
// calls return the first call's result (a call made while the first one
// runs waits for it, or for its own ctx). It is safe for concurrent use.
func (c *Connection) Close(ctx context.Context) error {
	return c.closed.Do(ctx, func() error {
		if c.hub.stopped.Load() {
			return nil
		}
		cmd := &disconnectCmd{id: c.info.GetId(), res: make(chan result, 1)}
		c.hub.root.Send(c.p.popPID, cmd)
		_, err := c.hub.wait(ctx, c.p.spec.Name, cmd.res)
		return err
	})
}

// Connect connects the actor pid as a handler of the req-resp exchange name.
// From then on pid receives *Request messages routed to it, a *boursepb.Leader
// at once and whenever the leader changes, and *boursepb.SlaveUp /
// *boursepb.SlaveDown as other handlers come and go. When pid stops, its
// connections are removed. Connect returns when requests can reach pid.
func (h *Hub) Connect(ctx context.Context, name string, pid *actor.PID, opts ...ConnectOption) (*Connection, error) {
	if pid == nil {
		return nil, &RequestError{Exchange: name, Err: fmt.Errorf("%w: nil handler PID", ErrInvalid)}
	}
	p, err := h.lookup(name, ReqResp)
	if err != nil {
		return nil, err
	}
	conc, queue := h.cfg.Handlers.resolved()
	info := &boursepb.HandlerInfo{Pid: fromPID(pid), Node: h.cfg.Node, Incarnation: h.inc, Concurrency: conc, Queue: queue}
	for _, o := range opts {
		o(info)
	}
	if info.Concurrency < 1 || info.Concurrency > MaxConcurrency {
		return nil, &RequestError{Exchange: name, Err: fmt.Errorf("%w: Concurrency %d, want 1 to %d", ErrInvalid, info.Concurrency, MaxConcurrency)}
	}
	if info.Queue > MaxQueue {
		return nil, &RequestError{Exchange: name, Err: fmt.Errorf("%w: QueueLimit above %d", ErrInvalid, MaxQueue)}
	}
	// The incarnation keeps ids apart across restarts: a restarted node
	// spawns its actors under the same ids at the same address.
	info.Id = pid.Address + "/" + pid.Id + "@" + strconv.FormatUint(h.inc, 36) + "#" + info.ConnTag
	// Counted from before the first request can come (capacity.go); an
	// id already connected keeps its count, and Connect fails.
	_, mine := h.loads.add(info.Id, newLoad(info.Concurrency, info.Queue))
	cmd := &connectCmd{info: info, pid: pid, res: make(chan result, 1), lease: &leaseState{}}
	h.root.Send(p.popPID, cmd)
	r, err := h.wait(ctx, name, cmd.res)
	if err != nil {
		cmd.abandoned.Store(true)
		if mine && !errors.Is(err, ErrAlreadyConnected) {
			h.loads.remove(info.Id)
		}
		return nil, err
	}
	return &Connection{hub: h, p: p, info: r.info, lease: cmd.lease}, nil
}
