package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/internal/dispatch"
	"github.com/bourse-go/bourse/internal/lifecycle"
	"github.com/bourse-go/bourse/strategies"
	"google.golang.org/protobuf/proto"
)

// Option configures New.
type Option func(*options)

type options struct {
	system *actor.ActorSystem
	cfg    Config
}

// WithActorSystem runs the broker on an existing actor system, which the
// broker then does not stop. By default New makes its own and Stop shuts it
// down.
func WithActorSystem(sys *actor.ActorSystem) Option {
	return func(o *options) { o.system = sys }
}

// WithConfig replaces the exchange configuration (default: DefaultConfig()).
// Get one from DefaultConfig and change what you need; New validates it.
func WithConfig(cfg Config) Option {
	return func(o *options) { o.cfg = cfg }
}

// WithStrategies sets the strategy registry exchanges are declared from
// (default: strategies.Builtin()). Register a user strategy there to name it
// in a Spec or in YAML.
func WithStrategies(reg *strategies.Registry) Option {
	return func(o *options) { o.cfg.Strategies = reg }
}

// WithNode names the node (default "local").
func WithNode(name string) Option {
	return func(o *options) { o.cfg.Node = name }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.cfg.Logger = l }
}

// WithWorkers sets the size of the broker's worker pool, the long-lived
// goroutines that run the mailboxes of its handler and subscriber actors
// (see Dispatcher). It sets Config.Workers: 0 means DefaultWorkersPerProc
// per GOMAXPROCS (the default), and New refuses a figure below 0 or above
// MaxWorkers with a *FieldError. Like the other options that set a field of
// Config, it must come after WithConfig.
func WithWorkers(n int) Option {
	return func(o *options) { o.cfg.Workers = n }
}

// epoch is the origin of sinceEpoch.
var epoch = time.Now()

// sinceEpoch reads the monotonic clock alone (time.Since of a time with a
// monotonic reading), for the durations handed to a Recorder: time.Now
// reads the wall clock too, and clock reads were most of what metrics cost
// a request here.
func sinceEpoch() time.Duration { return time.Since(epoch) }

// processSample tells which calls of a handler or subscriber function are
// timed for metrics (exchange.SampleOneIn, SampleBelow): the first; every
// one while they take SampleBelow or more; otherwise one in SampleOneIn. A
// timed call stands for itself and the calls not timed since the last
// timed one, so the histogram's count is exact after each timed call, and
// behind by less than SampleOneIn in between. Owned by one actor.
type processSample struct {
	untimed int  // calls not timed since the last timed one
	started bool // a call was timed
	every   bool // the last timed call took SampleBelow or more
}

// next returns the weight of the next call's duration, 0 when it is not
// timed.
func (s *processSample) next() int {
	if s.every || !s.started || s.untimed == exchange.SampleOneIn-1 {
		w := s.untimed + 1
		s.untimed, s.started = 0, true
		return w
	}
	s.untimed++
	return 0
}

// took tells s how long the call it timed ran.
func (s *processSample) took(d time.Duration) { s.every = d >= exchange.SampleBelow }

// Broker is a service's handle on bourse. Its methods are safe for concurrent
// use.
type Broker struct {
	hub        *exchange.Hub
	system     *actor.ActorSystem
	ownsSystem bool
	pool       *dispatch.Pool

	mu       sync.Mutex
	services map[*Service]struct{}
	funcSubs []funcSub                 // SubscribeFunc actors, stopped by Stop
	watches  map[*leaderWatch]struct{} // WatchLeader channels, closed by Stop
	watchWG  sync.WaitGroup            // WatchHealth goroutines, ended by Stop
	stopped  lifecycle.Once
	ctx      context.Context // canceled by Stop; handed to Serve handlers
	cancel   context.CancelFunc
}

// New starts a broker.
func New(opts ...Option) (*Broker, error) {
	o := options{cfg: exchange.DefaultConfig()}
	for _, opt := range opts {
		opt(&o)
	}
	// Checked before anything starts (exchange.New checks it again), so
	// that a bad Workers starts no pool.
	if err := o.cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Broker{system: o.system, services: map[*Service]struct{}{}, watches: map[*leaderWatch]struct{}{}, pool: dispatch.New(o.cfg.WorkerCount(), 0)}
	if b.system == nil {
		// protoactor logs to its own console logger by default; route it to
		// the broker's logger so an application has one place for logs.
		logger := o.cfg.Logger
		if logger == nil {
			logger = slog.Default()
		}
		b.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return logger.With(slog.String("lib", "protoactor"))
		}))
		b.ownsSystem = true
	}
	hub, err := exchange.New(b.system, o.cfg)
	if err != nil {
		if b.ownsSystem {
			b.system.Shutdown()
		}
		b.pool.Close()
		return nil, err
	}
	b.hub = hub
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// System returns the broker's actor system, to spawn handler and subscriber
// actors on.
func (b *Broker) System() *actor.ActorSystem { return b.system }

// Dispatcher returns the broker's dispatcher: a pool of long-lived goroutines
// that run actors' mailboxes (Config.Workers of them, WithWorkers). Spawn handler and subscriber actors with
// actor.WithDispatcher(b.Dispatcher()) (Serve and SubscribeFunc do): a
// request-response cycle then costs about half of what it costs on
// protoactor's default dispatcher (docs/benchmarks.md).
func (b *Broker) Dispatcher() actor.Dispatcher { return b.pool }

// Declare creates the exchange s describes, or does nothing when an exchange
// of that name is already declared the same way. In a cluster, every node
// that uses an exchange declares it. It returns an error wrapping
// ErrExchangeExists when the name is taken by a different declaration, and
// ErrInvalid for a malformed spec (a *FieldError) or an unknown strategy.
// When Declare returns nil, the exchange takes calls.
func (b *Broker) Declare(ctx context.Context, s Spec) error { return b.hub.Declare(ctx, s) }

// Connect connects the actor pid as a handler of req-resp exchange name.
// From then on pid receives a *Request for each request routed to it, a
// *Leader at once and whenever the leader changes, *SlaveUp and *SlaveDown
// as other handlers come and go, and *Leadership when its own leadership
// starts and ends. When pid stops, its connections are removed. Connect
// returns when requests can reach pid, on every node. Errors:
// ErrAlreadyConnected, ErrUnknownExchange, ErrWrongKind, ErrStopped, or
// ctx's. Serve and ServeFunc do it for handlers written as functions, and
// drop requests that reach them past their deadline; pid decides that for
// itself (Request.Deadline, Request.DropExpired).
func (b *Broker) Connect(ctx context.Context, name string, pid *actor.PID, opts ...ConnectOption) (*Connection, error) {
	return b.hub.Connect(ctx, name, pid, opts...)
}

// Request sends payload to req-resp exchange name and waits for the reply,
// or for ctx. The exchange's strategy picks the handler; the request goes
// straight to it and the reply straight back. When the strategy broadcasts
// (default), Request returns the first successful reply, or the first error
// when every handler fails (RequestAll returns them all).
//
// Errors wrap ErrNoHandlers (at once, when nobody is connected),
// ErrNoLeader (at once: a consensus exchange without a leader), ErrNodeDown
// (the handler's node went away meanwhile), ErrTimeout (ctx ended; it also
// matches ctx's error), ErrHandler (a *HandlerError), ErrRejected,
// ErrRedirectLoop, ErrUnknownExchange, ErrWrongKind or ErrStopped. Call is
// the typed form.
func (b *Broker) Request(ctx context.Context, name string, payload proto.Message, opts ...CallOption) (proto.Message, error) {
	return b.hub.Request(ctx, name, payload, opts...)
}

// RequestAll sends payload like Request and returns one Reply per handler
// it went to (every handler of the group under a broadcasting strategy, one
// otherwise), in the order they came. When ctx ends first, it returns the
// replies so far and an error wrapping ErrTimeout. A handler's own failure
// is in its Reply's Err, not in the returned error.
func (b *Broker) RequestAll(ctx context.Context, name string, payload proto.Message, opts ...CallOption) ([]*Reply, error) {
	return b.hub.RequestAll(ctx, name, payload, opts...)
}

// RequestAsync sends payload without waiting; the reply arrives at replyTo (an
// actor, usually ctx.Self()) as a *Reply carrying the WithTag tag (one per
// handler under a broadcasting strategy). Errors known at once
// (ErrNoHandlers, ErrRejected, ErrUnknownExchange, ...) are returned, not
// sent. No deadline is tracked: use the actor's ReceiveTimeout. The request
// has no deadline unless WithTimeout gives it one, past which its handler
// drops it without a reply.
func (b *Broker) RequestAsync(replyTo *actor.PID, name string, payload proto.Message, opts ...CallOption) error {
	return b.hub.RequestAsync(replyTo, name, payload, opts...)
}

// Publish publishes payload on pub-sub exchange name under routing key key
// (dotted words, "prices.nyse.AAPL"). Every subscriber whose pattern matches
// receives one *Publication: those of this node straight from this
// goroutine, those of another node through one network message to that
// node. Publications of one goroutine (or actor) reach each subscriber in
// the order they were published. Publish does not wait for delivery.
// Errors: ErrInvalid (a malformed key), ErrUnknownExchange, ErrWrongKind,
// ErrStopped.
func (b *Broker) Publish(ctx context.Context, name, key string, payload proto.Message) error {
	_, err := b.hub.Publish(ctx, name, key, payload)
	return err
}

// Subscribe subscribes actor pid to pub-sub exchange name for routing keys
// matching pattern: dotted words, where "*" stands for one word and "#" for
// zero or more. pid receives a *Publication for each match, once per
// publication even when several of its subscriptions match. When pid
// stops, its subscriptions are removed. Subscribe returns when publications
// reach pid, from every node. SubscribeFunc and the generic SubscribeFunc
// spawn the actor for a function. pid's pending publications (handed to
// it, not yet taken) are bounded: opts (WithPending, WithOverflow) over
// the broker's Config.Subscribers; Disconnect ends the subscription with
// ErrSlowConsumer (Subscription.Done, Err; pid receives a
// *SubscriptionEnded).
func (b *Broker) Subscribe(ctx context.Context, name, pattern string, pid *actor.PID, opts ...SubscribeOption) (*Subscription, error) {
	return b.hub.Subscribe(ctx, name, pattern, pid, opts...)
}

// SubscribeFunc subscribes fn, run in an actor of its own (so calls never
// overlap, in publication order), to pub-sub exchange name. Unsubscribe
// stops the actor, once the publications already in its mailbox have been
// handed to fn; Stop of the broker stops the ones left. opts bound its
// pending publications as Subscribe's do; when the exchange ends the
// subscription (Disconnect), the actor stops as after Unsubscribe.
func (b *Broker) SubscribeFunc(ctx context.Context, name, pattern string, fn func(*Publication), opts ...SubscribeOption) (*Subscription, error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: nil subscriber function", ErrInvalid)
	}
	exited := make(chan struct{})
	rec := exchange.BindRecorder(b.hub.Recorder(), name)
	var sample processSample // owned by the actor
	pid := b.system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *Publication:
			if rec == nil {
				fn(m)
				return
			}
			w := sample.next()
			if w == 0 {
				fn(m)
				rec.Untimed(exchange.OpDeliver, nil)
				return
			}
			began := sinceEpoch()
			fn(m)
			d := sinceEpoch() - began
			sample.took(d)
			rec.Processed(exchange.OpDeliver, d, w, nil)
		case *actor.Stopped:
			close(exited)
		}
	}, actor.WithDispatcher(b.pool)))
	b.mu.Lock()
	b.funcSubs = append(b.funcSubs, funcSub{pid: pid, exited: exited})
	b.mu.Unlock()
	sub, err := b.hub.Subscribe(ctx, name, pattern, pid, opts...)
	if err != nil {
		b.system.Root.Stop(pid)
		return nil, err
	}
	sub.SetOnEnd(func() {
		// Poison, not Stop: what is already queued reaches fn first.
		b.system.Root.Poison(pid)
		b.mu.Lock()
		b.funcSubs = slices.DeleteFunc(b.funcSubs, func(f funcSub) bool { return f.pid == pid })
		b.mu.Unlock()
	})
	return sub, nil
}

// funcSub is the actor of a SubscribeFunc subscription.
type funcSub struct {
	pid    *actor.PID
	exited chan struct{} // closed by the actor when it has stopped
}

// Stop stops the broker's services, its SubscribeFunc actors, its exchanges
// and, when New made it, its actor system. Waiting requests fail with
// ErrStopped; WatchLeader channels close.
//
// ctx bounds the waits for actors to stop: when it ends first (a handler,
// an OnLeading function or a subscriber function does not return), Stop
// still stops everything but returns an error wrapping ctx.Err() without
// waiting further; the goroutines running that code end by themselves once
// it returns. Stop is idempotent: later calls return the first call's result
// (a call made while the first one runs waits for it, or for its own ctx).
// It is safe for concurrent use.
func (b *Broker) Stop(ctx context.Context) error {
	return b.stopped.Do(ctx, func() error { return b.stop(ctx) })
}

func (b *Broker) stop(ctx context.Context) error {
	b.cancel()
	b.endWatches()
	b.watchWG.Wait() // they end on b.ctx
	b.mu.Lock()
	svcs := make([]*Service, 0, len(b.services))
	for s := range b.services {
		svcs = append(svcs, s)
	}
	subs := b.funcSubs
	b.funcSubs = nil
	b.mu.Unlock()
	var errs []error
	for _, s := range svcs {
		if err := s.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, fs := range subs {
		b.system.Root.Poison(fs.pid)
	}
	for _, fs := range subs {
		if err := waitClosed(ctx, fs.exited); err != nil {
			errs = append(errs, fmt.Errorf("bourse: stop subscriber: %w", err))
			break
		}
	}
	if err := b.hub.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	if b.ownsSystem {
		b.system.Shutdown()
	}
	if err := b.pool.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
