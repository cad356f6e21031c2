package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/internal/lifecycle"
	"google.golang.org/protobuf/proto"
)

// Handler handles the requests of a service started with Serve.
type Handler interface {
	// Handle answers req. It is called from the service's actor, one request
	// at a time, in arrival order. ctx ends when the broker stops, and at the
	// caller's deadline when the request has one (req.Deadline, which is
	// ctx.Deadline): past it nobody waits for the answer. A request that
	// reaches the service after its deadline is dropped without calling
	// Handle and counted (Stats.Expired). A nil error sends the returned
	// message; an error reaches the caller as a *HandlerError, or as itself
	// when it wraps a bourse sentinel, except context.DeadlineExceeded
	// after the request's deadline (ctx's own), which is not sent: the
	// caller has its own ErrTimeout.
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
	connect   []ConnectOption
	onLeader  func(isLeader bool, l *Leader)
	onLeading func(ctx context.Context, term uint64)
	onSlave   func(up bool, h *HandlerInfo)
}

// WithConnectOptions passes connection options (ServiceTag, ConnTag, Options).
func WithConnectOptions(opts ...ConnectOption) ServeOption {
	return func(o *serveOptions) { o.connect = append(o.connect, opts...) }
}

// OnLeader calls fn, from the service's actor, when this service starts
// leading (isLeader true) and when it stops (false), with the last Leader
// message of the exchange (nil when none came yet). A service leads while
// the exchange names it leader and its node holds a valid lease (see
// Leadership): a leader whose node is frozen, cut off or on the
// minority side of a partition stops leading within one lease, by itself,
// and the exchange never has two leaders at once. fn is also called, with
// isLeader false, on a Leader message naming another service.
//
// For leader-only work that must stop the moment leadership ends, use
// OnLeading, or check IsLeader before each step.
func OnLeader(fn func(isLeader bool, l *Leader)) ServeOption {
	return func(o *serveOptions) { o.onLeader = fn }
}

// OnLeading runs fn in a goroutine of its own each time this service starts
// leading; ctx ends when its leadership ends: its lease ran out (its node
// was frozen, cut off or lost its quorum), another service was appointed,
// or the service stopped. term is the appointing authority's term, which
// increases with every change of authority: pass it along as a fencing
// token to anything that must reject a deposed leader's late writes.
// Service.Stop waits for fn to return (or for its ctx).
func OnLeading(fn func(ctx context.Context, term uint64)) ServeOption {
	return func(o *serveOptions) { o.onLeading = fn }
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
	b       *Broker
	name    string // the exchange
	pid     *actor.PID
	conn    atomic.Pointer[Connection]
	leading atomic.Bool // told Leadership{Leading: true} and not yet the end
	stopped lifecycle.Once
	exited  chan struct{}   // closed by the actor when it has stopped
	tasks   lifecycle.Group // OnLeading goroutines
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
	s := &Service{b: b, name: name, exited: make(chan struct{})}
	rec := exchange.BindRecorder(b.hub.Recorder(), name) // nil: no metrics, no clock read
	var (
		// owned by the actor
		sample     processSample
		stopping   bool
		lastLeader *Leader
		cancelTask context.CancelFunc
		lastTerm   uint64
	)
	endLeading := func() {
		if cancelTask != nil {
			cancelTask()
			cancelTask = nil
		}
		if s.leading.Swap(false) && o.onLeader != nil {
			o.onLeader(false, lastLeader)
		}
	}
	s.pid = b.system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *Request:
			if m.IsProbe() {
				// Probation asks whether this service answers again (see
				// exchange.ProbationConfig): from its own actor, so that a
				// stuck service is not let back; never the handler's work.
				m.Respond(m.Payload)
				return
			}
			if m.DropExpired() {
				// Its caller gave up (the deadline here is never earlier
				// than the caller's): no answer, which nobody would read;
				// counted in Stats.Expired.
				return
			}
			var began time.Duration
			w := 0
			if rec != nil {
				if w = sample.next(); w > 0 {
					began = sinceEpoch()
				}
			}
			reply, err := s.handle(h, m)
			switch {
			case w > 0:
				d := sinceEpoch() - began
				sample.took(d)
				rec.Processed(exchange.OpProcess, d, w, err)
			case rec != nil:
				rec.Untimed(exchange.OpProcess, err)
			}
			switch {
			case err == nil:
				m.Respond(reply)
			case errors.Is(err, context.DeadlineExceeded) && pastDeadline(m):
				// The handler gave up at the caller's deadline, and so did
				// the caller, at the same instant on this node: the answer
				// would only race the caller's own ErrTimeout. Not sent;
				// discarded, so that it leaves the handler's queue.
				m.Discard()
			default:
				m.Fail(err)
			}
		case *stepDown:
			// Stop steps down before it disconnects: the next leader is
			// appointed only after the authority hears of the disconnection,
			// so there is never a moment with two leaders.
			stopping = true
			endLeading()
			close(m.done)
		case *Leadership:
			if stopping {
				return
			}
			if !m.Leading {
				endLeading()
				return
			}
			if !m.Valid() {
				return // it waited out its lease in the mailbox (a freeze); its end follows
			}
			endLeading() // a new term's leadership replaces the old one's
			s.leading.Store(true)
			if o.onLeading != nil {
				tctx, cancel := context.WithCancel(m.Context)
				cancelTask = cancel
				term := m.Term
				s.tasks.Go(func() { o.onLeading(tctx, term) })
			}
			if o.onLeader != nil {
				o.onLeader(true, lastLeader)
			}
		case *Leader:
			if stopping || m.GetTerm() < lastTerm {
				return // from an authority older than one already heard
			}
			lastTerm, lastLeader = m.GetTerm(), m
			if !IsSelf(c, m.GetLeader()) && o.onLeader != nil && !s.leading.Load() {
				o.onLeader(false, m)
			}
		case *SlaveUp:
			if o.onSlave != nil {
				o.onSlave(true, m.GetHandler())
			}
		case *SlaveDown:
			if o.onSlave != nil {
				o.onSlave(false, m.GetHandler())
			}
		case *actor.Stopped:
			close(s.exited)
		}
	}, actor.WithDispatcher(b.pool)))
	conn, err := b.hub.Connect(ctx, name, s.pid, o.connect...)
	if err != nil {
		b.system.Root.Stop(s.pid)
		return nil, err
	}
	s.conn.Store(conn)
	b.mu.Lock()
	b.services[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// handle runs h and turns a panic into an error for the caller: the caller
// learns at once instead of waiting for its deadline, and the service goes on
// with the next request. h's ctx is the broker's, ended at the request's
// deadline when it has one: a context per request only then, so that a
// request without a deadline allocates nothing here.
func (s *Service) handle(h Handler, req *Request) (reply proto.Message, err error) {
	// No allocation, and no timer unless the handler asks for Done; one it
	// started stops when the request is answered.
	ctx := req.Context(s.b.ctx)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
			s.b.hub.Logger().Error("bourse: handler panicked", slog.String("exchange", req.Exchange),
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	return h.Handle(ctx, req)
}

// pastDeadline reports whether req's deadline has passed.
func pastDeadline(req *Request) bool { return req.PastDeadline() }

// PID returns the service actor's PID.
func (s *Service) PID() *actor.PID { return s.pid }

// Connection returns the service's connection.
func (s *Service) Connection() *Connection { return s.conn.Load() }

// IsLeader reports whether this service leads its exchange at this instant:
// the exchange named it leader and its node's lease has not run out. It
// turns false by itself when the lease lapses (a frozen node finds it false
// the moment it resumes), before OnLeader(false) is called.
func (s *Service) IsLeader() bool {
	c := s.conn.Load()
	return c != nil && s.leading.Load() && c.IsLeader()
}

// Is reports whether h describes this service's connection.
func (s *Service) Is(h *HandlerInfo) bool {
	c := s.conn.Load()
	return c != nil && h != nil && h.GetId() == c.ID()
}

// Stop steps the service down if it leads (OnLeader(false) runs first, so
// the exchange never has two leaders), disconnects it, so no new request
// reaches it, then stops its actor after the requests already queued, and
// waits for the actor and for the OnLeading goroutines to end.
//
// ctx bounds the waits: when it ends first (a handler or an OnLeading
// function does not return), Stop returns an error wrapping ctx.Err(); the
// disconnection and the actor's stop still go ahead, and the goroutines end
// by themselves once that code returns. Stop is idempotent: later calls
// return the first call's result (a call made while the first one runs waits
// for it, or for its own ctx). It is safe for concurrent use.
func (s *Service) Stop(ctx context.Context) error {
	return s.stopped.Do(ctx, func() error { return s.stop(ctx) })
}

func (s *Service) stop(ctx context.Context) error {
	s.b.mu.Lock()
	delete(s.b.services, s)
	s.b.mu.Unlock()
	down := &stepDown{done: make(chan struct{})}
	s.b.system.Root.Send(s.pid, down)
	waitErr := waitClosed(ctx, down.done)
	// Close and Poison send at once; only their waits end with ctx.
	closeErr := s.conn.Load().Close(ctx)
	s.b.system.Root.Poison(s.pid)
	if waitErr == nil {
		waitErr = waitClosed(ctx, s.exited)
	}
	if waitErr == nil {
		waitErr = s.tasks.Wait(ctx)
	}
	if waitErr != nil {
		return fmt.Errorf("bourse: exchange %q: stop service: %w", s.name, waitErr)
	}
	return closeErr
}

// waitClosed waits for ch to be closed, or for ctx; a closed ch wins.
func waitClosed(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stepDown tells a service's actor that Stop has begun.
type stepDown struct{ done chan struct{} }

// IsSelf reports whether h (a Leader's leader, a SlaveUp's or SlaveDown's
// handler) is a connection of the actor running c: same address and same
// actor id. Actor ids repeat across nodes that run the same program, so an
// id alone never identifies a handler. Within one actor, tell several
// connections apart by HandlerInfo.ConnTag.
func IsSelf(c actor.Context, h *HandlerInfo) bool {
	return Names(h, c.Self())
}

// Names reports whether h is a connection of the actor pid.
func Names(h *HandlerInfo, pid *actor.PID) bool {
	if h == nil || pid == nil {
		return false
	}
	return h.GetPid().GetId() == pid.Id && h.GetPid().GetAddress() == pid.Address
}
