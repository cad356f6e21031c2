package actors

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
)

// Handler handles the requests of a service started with Serve.
type Handler interface {
	// Handle answers req. It is called from the service's actor, one request
	// at a time, in arrival order. ctx ends when the broker stops. A nil error
	// sends the returned message; an error reaches the caller as a
	// *exchange.HandlerError, or as itself when it wraps a bourse sentinel.
	Handle(ctx context.Context, req *Request) (proto.Message, error)
}

// HandlerFunc adapts a function to the Handler interface.
type HandlerFunc func(ctx context.Context, req *Request) (proto.Message, error)

// Handle calls f(ctx, req).
func (f HandlerFunc) Handle(ctx context.Context, req *Request) (proto.Message, error) {
	return f(ctx, req)
}

// ServeOption configures Serve.
type ServeOption func(*serveOptions)

type serveOptions struct {
	connect  []ConnectOption
	onLeader func(isLeader bool, l *Leader)
	onSlave  func(up bool, h *HandlerInfo)
}

// WithConnectOptions passes connection options (ServiceTag, ConnTag, Options).
func WithConnectOptions(opts ...ConnectOption) ServeOption {
	return func(o *serveOptions) { o.connect = append(o.connect, opts...) }
}

// OnLeader calls fn, from the service's actor, on every Leader message, with
// whether this service is the leader now. Use it to start or stop work that
// must run once in the exchange (a leader-only background task).
func OnLeader(fn func(isLeader bool, l *Leader)) ServeOption {
	return func(o *serveOptions) { o.onLeader = fn }
}

// OnSlave calls fn, from the service's actor, on every SlaveUp (up true) and
// SlaveDown (up false) of the exchange: another handler connected, or
// disconnected, died or went away with its node.
func OnSlave(fn func(up bool, h *HandlerInfo)) ServeOption {
	return func(o *serveOptions) { o.onSlave = fn }
}

// Service is a handler started by Serve: an actor of its own, connected to one
// exchange.
type Service struct {
	b      *Broker
	pid    *actor.PID
	conn   *Connection
	leader atomic.Bool
	once   sync.Once
	err    error
}

// Serve spawns an actor that hands each request of req-resp exchange name to
// h, and connects it. When Serve returns, requests reach the service.
func (b *Broker) Serve(ctx context.Context, name string, h Handler, opts ...ServeOption) (*Service, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalid)
	}
	var o serveOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &Service{b: b}
	stopping := false // owned by the actor
	s.pid = b.system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *Request:
			reply, err := s.handle(h, m)
			if err != nil {
				m.Fail(err)
			} else {
				m.Respond(reply)
			}
		case *stepDown:
			// Stop steps down before it disconnects: the next leader is
			// appointed only after the authority hears of the disconnection,
			// so there is never a moment with two leaders.
			stopping = true
			if s.leader.Swap(false) && o.onLeader != nil {
				o.onLeader(false, nil)
			}
			close(m.done)
		case *Leader:
			if stopping {
				return
			}
			is := m.GetLeader().GetPid().GetId() == c.Self().Id && m.GetLeader().GetPid().GetAddress() == c.Self().Address
			s.leader.Store(is)
			if o.onLeader != nil {
				o.onLeader(is, m)
			}
		case *SlaveUp:
			if o.onSlave != nil {
				o.onSlave(true, m.GetHandler())
			}
		case *SlaveDown:
			if o.onSlave != nil {
				o.onSlave(false, m.GetHandler())
			}
			// A service that left alive is no longer leader.
			if m.GetHandler().GetPid().GetId() == c.Self().Id {
				if s.leader.Swap(false) && o.onLeader != nil {
					o.onLeader(false, nil)
				}
			}
		}
	}, actor.WithDispatcher(b.pool)))
	conn, err := b.hub.Connect(ctx, name, s.pid, o.connect...)
	if err != nil {
		b.system.Root.Stop(s.pid)
		return nil, err
	}
	s.conn = conn
	b.mu.Lock()
	b.services[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// handle runs h and turns a panic into an error for the caller: the caller
// learns at once instead of waiting for its deadline, and the service goes on
// with the next request.
func (s *Service) handle(h Handler, req *Request) (reply proto.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
			s.b.hub.Logger().Error("bourse: handler panicked", slog.String("exchange", req.Exchange),
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	return h.Handle(s.b.ctx, req)
}

// PID returns the service actor's PID.
func (s *Service) PID() *actor.PID { return s.pid }

// Connection returns the service's connection.
func (s *Service) Connection() *Connection { return s.conn }

// IsLeader reports whether the exchange last named this service its leader.
func (s *Service) IsLeader() bool { return s.leader.Load() }

// Stop steps the service down if it leads (OnLeader(false) runs first, so
// the exchange never has two leaders), disconnects it, so no new request
// reaches it, then stops its actor after the requests already queued. Stop
// is idempotent.
func (s *Service) Stop(ctx context.Context) error {
	s.once.Do(func() {
		s.b.mu.Lock()
		delete(s.b.services, s)
		s.b.mu.Unlock()
		down := &stepDown{done: make(chan struct{})}
		s.b.system.Root.Send(s.pid, down)
		select {
		case <-down.done:
		case <-ctx.Done():
		}
		err := s.conn.Close(ctx)
		fut := s.b.system.Root.PoisonFuture(s.pid)
		if werr := fut.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("bourse: stop service: %w", werr)
		}
		s.err = err
	})
	return s.err
}

// stepDown tells a service's actor that Stop has begun.
type stepDown struct{ done chan struct{} }
