package exchange

import (
	"crypto/tls"
	"log/slog"
	"runtime"
	"time"

	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/strategies"
)

// Config configures a Hub. Get one from DefaultConfig and change what you need;
// New validates it.
type Config struct {
	// Node names this node in handler infos and subscription tables. It must
	// be unique in a cluster; in one process any non-empty name will do.
	Node string
	// Strategies is the registry req-resp exchanges take their strategy from.
	// nil means strategies.Builtin().
	Strategies *strategies.Registry
	// MaxRedirects bounds how many times fun strategies may redirect one
	// request to another exchange before it fails with ErrRedirectLoop:
	// 0..MaxRedirectsLimit, DefaultMaxRedirects in DefaultConfig.
	MaxRedirects int
	// Logger receives the hub's logs. nil means slog.Default().
	Logger *slog.Logger
	// Workers is the number of long-lived goroutines in the pool that runs
	// the mailboxes of the actors a Broker of package actors spawns (Serve,
	// SubscribeFunc, and actors spawned with Broker.Dispatcher); the Hub
	// itself does not use it. 0 means DefaultWorkersPerProc per GOMAXPROCS
	// (WorkerCount). When every worker is blocked, the pool starts extra
	// goroutines rather than let queued mailboxes wait, so more workers
	// than that only help handlers that block often; fewer leave more of
	// the processors to the rest of the program. 0..MaxWorkers.
	Workers int
	// DataAddr is the "host:port" the hub's data link listens on (port 0
	// picks a free one); "" means no data link. The data link carries
	// requests, replies and publications between nodes on a framed TCP
	// connection per pair of nodes, at a fraction of protoactor remote's
	// CPU cost per message; without it they go through remote. The cluster
	// layer sets it.
	DataAddr string
	// DataTLS, when not nil, secures the data link's connections (as server
	// and client; see cluster.Config.TLS). nil means plaintext.
	DataTLS *tls.Config
	// Incarnation identifies this run of the node (the cluster layer passes
	// its incarnation, the node's start time). It is part of every
	// connection id, so a restarted node never reuses its predecessor's ids.
	// 0 means the hub's own start time.
	Incarnation uint64
	// LeaseDuration is how long a leader may act after its point of presence
	// last asked the authority to extend its lease (see Service.IsLeader in
	// package actors). A frozen or cut-off leader stops acting within it; a
	// silent leader's successor is appointed only once it has surely run
	// out. 0 means DefaultLeaseDuration. The cluster layer sets it below the
	// failure detector's SuspectAfter.
	LeaseDuration time.Duration
	// Probation takes handlers that time out or fail in transport out of
	// this node's rotation for a while (probation.go). The zero value is
	// on, with the defaults; Probation.Failures = ProbationOff turns it off.
	Probation ProbationConfig
	// Subscribers bounds each local subscriber's pending publications (the
	// default of Subscribe's options; flow.go): Pending 0 means
	// DefaultPendingLimit, Overflow OverflowDefault means DropNewest.
	Subscribers SubscriberConfig
	// Handlers are the defaults of the limits of this node's handler
	// connections (capacity.go): how many requests each works on at once,
	// and how many more may wait; a request beyond both fails at once with
	// ErrOverloaded. The zero value is DefaultConcurrency and DefaultQueue.
	// Connect's Concurrency and QueueLimit override them per connection.
	Handlers HandlerLimits
	// OnPeerDown, when not nil, is called (from the data link's goroutine,
	// so it must not block) with the remote address of a node whose data
	// link connection broke without a goodbye: the cluster layer checks at
	// once whether that node is gone, which the link sees before membership.
	OnPeerDown func(addr string)
	// Recorder, when not nil, is told how each request and publication of
	// this node ended and how long it took (see Recorder). nil means none:
	// no clock is read for it.
	Recorder Recorder
	// QuorumUntil, when not nil, tells until when this node's quorum holds
	// if it hears from no other node meanwhile (the cluster layer's failure
	// detector knows). An authority grants a leader's lease only before
	// that moment, so a node that resumes after a freeze never renews a
	// lease on the strength of a quorum it had before. It is called from
	// the authorities' actors and must not block. nil means always.
	QuorumUntil func() time.Time
}

// DefaultLeaseDuration is the leader lease when Config.LeaseDuration is 0.
const DefaultLeaseDuration = 500 * time.Millisecond

// DefaultMaxRedirects is Config.MaxRedirects in DefaultConfig: room for
// a few exchanges that hand requests on to each other, while a loop among
// them fails after a handful of hops.
const DefaultMaxRedirects = 8

// MaxRedirectsLimit is the largest Config.MaxRedirects Validate accepts:
// a chain of redirects longer than that is a loop, not a route.
const MaxRedirectsLimit = 64

// DefaultWorkersPerProc is how many pool workers a Broker starts per
// GOMAXPROCS when Config.Workers is 0: two, so that while one worker waits
// in a handler (for a reply, a lock, I/O) another can use the processor.
const DefaultWorkersPerProc = 2

// MaxWorkers bounds Config.Workers. Each worker keeps its grown stack for
// the broker's life, and the pool adds goroutines by itself when all its
// workers are blocked: a larger figure is a mistake (a size in bytes, a
// rate), not a need.
const MaxWorkers = 4096

// DefaultConfig returns the configuration New uses when given none.
func DefaultConfig() Config {
	return Config{Node: "local", MaxRedirects: DefaultMaxRedirects}
}

// Validate reports the first problem of c, as an *errs.FieldError naming
// the field ("exchange.Config.MaxRedirects"); it wraps ErrInvalid.
func (c Config) Validate() error {
	if c.Node == "" {
		return errs.Field("exchange.Config.Node", "is empty")
	}
	if c.MaxRedirects < 0 || c.MaxRedirects > MaxRedirectsLimit {
		return errs.Field("exchange.Config.MaxRedirects", "is %d, want 0..%d", c.MaxRedirects, MaxRedirectsLimit)
	}
	if c.Workers < 0 || c.Workers > MaxWorkers {
		return errs.Field("exchange.Config.Workers", "is %d, want 0 (%d per GOMAXPROCS) to %d", c.Workers, DefaultWorkersPerProc, MaxWorkers)
	}
	if c.LeaseDuration < 0 {
		return errs.Field("exchange.Config.LeaseDuration", "is %v, want 0 (the default) or more", c.LeaseDuration)
	}
	if err := c.Subscribers.validate("exchange.Config.Subscribers"); err != nil {
		return err
	}
	if hl := c.Handlers; hl.Concurrency < 0 || hl.Concurrency > MaxConcurrency {
		return errs.Field("exchange.Config.Handlers.Concurrency", "is %d, want 0 (the default, %d) to %d", hl.Concurrency, DefaultConcurrency, MaxConcurrency)
	} else if hl.Queue < NoQueue || hl.Queue > MaxQueue {
		return errs.Field("exchange.Config.Handlers.Queue", "is %d, want 0 (the default, %d), more up to %d, or %d (none)", hl.Queue, DefaultQueue, MaxQueue, NoQueue)
	}
	pc := c.Probation
	switch {
	case pc.Failures < ProbationOff:
		return errs.Field("exchange.Config.Probation.Failures", "is %d, want 0 (the default, %d), more, or %d (off)", pc.Failures, DefaultProbationFailures, ProbationOff)
	case pc.Eject < 0:
		return errs.Field("exchange.Config.Probation.Eject", "is %v, want 0 (the default, %v) or more", pc.Eject, DefaultProbationEject)
	case pc.MaxEject < 0 || pc.MaxEject != 0 && pc.MaxEject < pc.withDefaults().Eject:
		return errs.Field("exchange.Config.Probation.MaxEject", "is %v, want 0 (the default, %v) or at least Eject", pc.MaxEject, DefaultProbationMaxEject)
	case pc.Ramp < 0:
		return errs.Field("exchange.Config.Probation.Ramp", "is %v, want 0 (the default, %v) or more", pc.Ramp, DefaultProbationRamp)
	case pc.ProbeTimeout < 0:
		return errs.Field("exchange.Config.Probation.ProbeTimeout", "is %v, want 0 (the default, %v) or more", pc.ProbeTimeout, DefaultProbeTimeout)
	}
	return nil
}

// WorkerCount returns the size of the worker pool c asks for: Workers, or
// DefaultWorkersPerProc times runtime.GOMAXPROCS(0) when Workers is 0.
func (c Config) WorkerCount() int {
	if c.Workers == 0 {
		return DefaultWorkersPerProc * runtime.GOMAXPROCS(0)
	}
	return c.Workers
}

func (c Config) leaseDuration() time.Duration {
	if c.LeaseDuration == 0 {
		return DefaultLeaseDuration
	}
	return c.LeaseDuration
}
