package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/internal/metrics"
	"github.com/bourse-go/bourse/internal/status"
	"github.com/bourse-go/bourse/internal/wiring"
	boursepb "github.com/bourse-go/bourse/proto"
)

// MembersActor is the name of every node's membership actor, the receiver of
// heartbeats: actor.NewPID(address, MembersActor).
const MembersActor = "bourse$members"

// Room in the channels that feed the membership goroutine, so that their
// senders (the membership actor, remote's event stream, discovery, the
// probes), which wait when a channel is full, keep going while the
// goroutine works through a tick. onLinkDown drops instead of waiting: a
// full downBacklog already holds checks that will probe the node anyway.
const (
	heartbeatBacklog = 256 // heartbeats: one per peer per interval, for a burst from a large cluster
	downBacklog      = 64  // addresses whose connection broke, to check at once
	discoveryBacklog = 4   // discovery updates: each is the whole list of peers
	probeBacklog     = 64  // results of reachability probes
)

// leaveAckTimeout bounds how long Stop waits for peers to acknowledge its
// leaving heartbeat: twice the heartbeat interval, within 100-500 ms. A live
// peer answers within a round trip; a peer that died just before does not.
func leaveAckTimeout(interval time.Duration) time.Duration {
	return min(max(2*interval, 100*time.Millisecond), 500*time.Millisecond)
}

// Node is one member of a cluster: an actor system with protoactor remote, a
// Broker on it, and the node's view of which peers are alive.
//
// Liveness: every HeartbeatInterval the node sends a boursepb.Heartbeat to the
// membership actor of every live peer. A peer is alive from its first
// heartbeat with the node's cluster name until one of:
//   - it sends a heartbeat with leaving=true (Stop does): MemberDown at once,
//     reason ReasonLeft;
//   - remote loses the connection to it (EndpointTerminatedEvent) and its port
//     refuses a TCP connection, as after kill -9: MemberDown within
//     milliseconds, reason ReasonTerminated;
//   - it is not heard from for SuspectAfter: ReasonSilent;
//   - a heartbeat comes from a newer incarnation at its address (a restart):
//     MemberDown (ReasonRestarted) of the old one, then MemberUp of the new.
//
// Peers that discovery lists and that are not alive are probed: a TCP
// connection to the address first (so that remote never dials an address
// that is down; its writers block for seconds when they do), then a
// heartbeat. Peers never heard from are probed every HeartbeatInterval, dead
// ones every second (or HeartbeatInterval if longer), so a restarted node is
// found again. A peer that sends heartbeats is accepted even when discovery
// does not list it, and gets heartbeats back while it lives.
//
// One goroutine owns the membership: it applies every change, in order, to
// the broker's exchange layer (the whole live set, self included, never
// concurrently) and then to the observers.
//
// All methods are safe for concurrent use.
type Node struct {
	cfg    Config
	log    *slog.Logger
	self   Member
	system *actor.ActorSystem
	remote *remote.Remote
	broker *actors.Broker
	hub    wiring.Hub // the broker's exchange layer, as the cluster drives it
	pid    *actor.PID // the membership actor

	endpointSub *eventstream.Subscription
	discovery   Discovery

	heartbeats chan *boursepb.Heartbeat
	terminated chan string
	discovered chan []Peer
	probes     chan probeResult
	quit       chan struct{} // closed by Stop: the membership goroutine and probes end
	joined     chan struct{} // closed when membership is settled (see Start)
	wg         sync.WaitGroup

	probeCtx context.Context // canceled by Stop; aborts probes' dials
	// dialProbe, when set (by tests), replaces the TCP dial of probes.
	dialProbe   func(ctx context.Context, addr string) error
	cancelProbe context.CancelFunc

	view        atomic.Pointer[[]Member]
	quorum      atomic.Bool               // the view holds a majority (see HasQuorum)
	quorumUntil atomic.Pointer[time.Time] // see membership.quorumUntil
	restarted   atomic.Bool               // see membership.restarted
	observers   fanout[MembershipEvent]
	lastAlive   []string // live peers when the membership goroutine ended (for Stop)

	deployer *deployer            // the deployment runtime (deployer.go)
	metrics  *nodeMetrics         // nil without Config.MetricsListen (metrics.go)
	calls    *metrics.Instruments // the calls' recorder: the metrics', or the status page's own; nil without either
	status   *status.Server       // nil without Config.StatusListen (status.go)

	stopOnce sync.Once
	stopErr  error
}

// probeResult is a probe's answer. For a verify (req.verify), reachable
// false means the peer's host refused the connection: the process is gone;
// any other outcome counts as reachable.
type probeResult struct {
	req       probeReq
	reachable bool
}

// Start starts a node: an actor system, protoactor remote on cfg.Host and
// cfg.Port, a Broker, the membership actor and goroutine, and discovery. It
// returns once the node has joined: discovery has delivered its first list of
// peers and each of them was heard from or found unreachable, or
// Config.JoinTimeout passed (the node then goes on with the peers it heard
// from; the others are found in the background; watch them with Subscribe or
// Members). ctx bounds the start (it is passed to Discovery.Start) and is not
// kept. When Start fails, it has undone what it did, discovery's Start
// included.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Exchange.Logger == nil {
		cfg.Exchange.Logger = cfg.Logger
	}
	n := &Node{
		cfg:        cfg,
		heartbeats: make(chan *boursepb.Heartbeat, heartbeatBacklog),
		terminated: make(chan string, downBacklog),
		discovered: make(chan []Peer, discoveryBacklog),
		probes:     make(chan probeResult, probeBacklog),
		quit:       make(chan struct{}),
		joined:     make(chan struct{}),
		discovery:  cfg.Discovery,
	}
	n.probeCtx, n.cancelProbe = context.WithCancel(context.Background())
	logger := cfg.Logger
	nm, systemOpts, err := startMetrics(cfg)
	if err != nil {
		n.cancelProbe()
		return nil, err
	}
	n.metrics = nm
	n.system = actor.NewActorSystem(append(systemOpts, actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With(slog.String("lib", "protoactor"))
	}))...)
	r, addr, err := startRemote(n.system, cfg.Host, cfg.Port, cfg.TLS)
	if err != nil {
		n.cancelProbe()
		n.system.Shutdown()
		return nil, errors.Join(err, n.metrics.stop(ctx))
	}
	n.remote = r
	n.self = Member{Node: cfg.Node, Address: addr, Incarnation: uint64(time.Now().UnixNano())}
	if len(cfg.Labels) > 0 {
		n.self.Labels = maps.Clone(cfg.Labels) // the caller may change its map
	}
	n.log = cfg.Logger.With(slog.String("cluster", cfg.Cluster), slog.String("node", cfg.Node), slog.String("address", addr))

	// From here on, a failure undoes what is done with the same code as Stop.
	discoveryStarted := false
	fail := func(err error) (*Node, error) {
		close(n.quit)
		n.cancelProbe()
		n.wg.Wait()
		var errs []error
		if discoveryStarted {
			// ctx has ended (the join was cut short): a context of its own,
			// so that the node is deregistered, not left to expire.
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discoveryStopTimeout)
			errs = append(errs, n.discovery.Stop(stopCtx))
			cancel()
		}
		errs = append(errs, n.stopStatus(ctx), n.metrics.stop(ctx))
		if n.broker != nil {
			errs = append(errs, n.broker.Stop(ctx))
		}
		n.shutdownSystem(ctx)
		return nil, errors.Join(append([]error{err}, errs...)...)
	}

	xcfg := cfg.Exchange
	xcfg.Incarnation = n.self.Incarnation
	xcfg.OnPeerDown = n.onLinkDown
	xcfg.QuorumUntil = func() time.Time { return *n.quorumUntil.Load() }
	if n.metrics != nil {
		n.calls = n.metrics.inst
	} else if cfg.StatusListen != "" {
		n.calls = metrics.New() // for the status page's rates and latencies
	}
	if n.calls != nil {
		xcfg.Recorder = n.calls
	}
	alone := time.Now().Add(forever) // alone until the first heartbeat
	n.quorumUntil.Store(&alone)
	n.broker, err = actors.New(actors.WithActorSystem(n.system), actors.WithConfig(xcfg))
	if err != nil {
		return fail(fmt.Errorf("bourse: cluster: start broker: %w", err))
	}
	n.hub = wiring.HubOf(n.system)
	if n.metrics != nil {
		if err := n.metrics.observe(n.broker); err != nil {
			return fail(err)
		}
	}
	n.self.Data = n.hub.DataAddress()
	if n.status, err = n.startStatus(); err != nil {
		return fail(err)
	}
	n.pid, err = n.system.Root.SpawnNamed(actor.PropsFromFunc(n.receive), MembersActor)
	if err != nil {
		return fail(fmt.Errorf("bourse: cluster: spawn %s: %w", MembersActor, err))
	}
	n.endpointSub = n.system.EventStream.SubscribeWithPredicate(n.onEndpointEvent, func(ev any) bool {
		_, ok := ev.(*remote.EndpointTerminatedEvent)
		return ok
	})

	// Until the node has joined, its hub knows only part of the cluster:
	// starting an authority then would build it from partial state.
	n.hub.SetJoining(true)
	m := newMembership(cfg, n.self)
	n.setView(m.view())
	n.quorum.Store(true)
	n.hub.SetView(wiring.View{Members: toWiring(m.view()), Quorum: true})
	n.wg.Add(1)
	go n.run(m)

	if n.discovery != nil {
		reg := Registration{Cluster: cfg.Cluster, Node: cfg.Node, Host: cfg.Host, Port: portOf(addr)}
		if err := n.discovery.Start(ctx, reg, n.onDiscovery); err != nil {
			return fail(fmt.Errorf("bourse: cluster: start discovery: %w", err))
		}
		discoveryStarted = true
		// Join before returning, as Akka's nodes join their seeds: a node
		// that declared exchanges before it heard from its live peers would
		// appoint authorities and leaders of its own, a split brain that
		// lasts until the first heartbeats.
		timer := time.NewTimer(cfg.JoinTimeout)
		defer timer.Stop()
		select {
		case <-n.joined:
		case <-timer.C:
			n.log.Warn("joining: peers listed by discovery did not answer in time; going on with those that did",
				slog.Duration("join_timeout", cfg.JoinTimeout), slog.Int("members", len(n.Members())))
		case <-ctx.Done():
			return fail(fmt.Errorf("bourse: cluster: joining: %w", ctx.Err()))
		}
	}
	n.hub.SetJoining(false)
	n.deployer = newDeployer(n)
	if err := n.deployer.start(ctx); err != nil {
		_ = n.deployer.stop(ctx)
		return fail(err)
	}
	n.log.Info("node started", slog.Uint64("incarnation", n.self.Incarnation))
	return n, nil
}

// discoveryStopTimeout bounds the Stop of discovery when Start fails after
// discovery started (its ctx has ended then).
const discoveryStopTimeout = 5 * time.Second

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return port
}

// Broker returns the node's broker. Its exchanges span the cluster; do not
// Stop it yourself, Node.Stop does.
func (n *Node) Broker() *actors.Broker { return n.broker }

// Address returns the node's protoactor remote address, "host:port", with
// the port remote actually listens on.
func (n *Node) Address() string { return n.self.Address }

// Name returns the node's name (Config.Node).
func (n *Node) Name() string { return n.self.Node }

// Self returns the node as a Member, with its incarnation and labels.
func (n *Node) Self() Member {
	s := n.self
	s.Labels = maps.Clone(s.Labels)
	return s
}

// Members returns the live set as the node sees it, self included, sorted by
// address, each member with its labels (a copy of its own). It does not
// block.
func (n *Node) Members() []Member { return cloneMembers(*n.view.Load()) }

// Owner returns the address of the node that runs the authority of
// exchange name (its registry and its leader's appointment) under this
// node's current view: the rendezvous hash of the name over the live
// members' addresses, which every node with the same view computes alike. A
// change of membership moves only the exchanges of the nodes that came or
// went. It does not block.
func (n *Node) Owner(name string) string { return n.hub.Owner(name) }

func (n *Node) setView(ms []Member) { n.view.Store(&ms) }

// Subscribe returns a channel of membership events and a function that ends
// the subscription (and closes the channel; calling it again does nothing).
//
// Events come in the order the changes happened, each with the whole live set
// after it. The channel holds SubscriptionBuffer events; when it is full, new
// events are dropped for that subscriber (and counted in a warning log), so a
// slow observer never delays membership. Since every event carries the whole
// view, a subscriber that missed some still converges at the next one, and
// Members always tells the current view. Stop closes every channel.
func (n *Node) Subscribe() (<-chan MembershipEvent, func()) {
	return n.observers.subscribe(SubscriptionBuffer)
}

// receive is the membership actor: it acknowledges leaving heartbeats (Stop
// waits for the acknowledgement before it shuts remote down) and hands every
// heartbeat to the membership goroutine.
func (n *Node) receive(c actor.Context) {
	hb, ok := c.Message().(*boursepb.Heartbeat)
	if !ok {
		return
	}
	if hb.GetLeaving() && c.Sender() != nil {
		c.Respond(n.heartbeat(false))
	}
	select {
	case n.heartbeats <- hb:
	case <-n.quit:
	}
}

// onEndpointEvent runs in remote's goroutines, synchronously with
// EventStream.Publish.
func (n *Node) onEndpointEvent(ev any) {
	if t, ok := ev.(*remote.EndpointTerminatedEvent); ok {
		select {
		case n.terminated <- t.Address:
		case <-n.quit:
		}
	}
}

// onLinkDown is the data link's word that a peer's connection broke
// without a goodbye: the peer is checked at once, as after remote's
// EndpointTerminatedEvent. The link sees a killed peer's socket close well
// before remote does under load. It must not block (the link's goroutine
// calls it).
func (n *Node) onLinkDown(addr string) {
	select {
	case n.terminated <- addr:
	default: // a check of it (or of others) is queued; the next tick probes anyway
		n.log.Debug("data link down not queued: checks backlog full", slog.String("peer_address", addr))
	}
}

// HasQuorum reports whether the node sees a majority of the cluster (see
// Config.LeaseDuration): without it, it appoints no leader and its leaders
// stop at the end of their lease.
func (n *Node) HasQuorum() bool { return n.quorum.Load() }

// onDiscovery is Discovery's update function.
func (n *Node) onDiscovery(peers []Peer) {
	select {
	case n.discovered <- slices.Clone(peers):
	case <-n.quit:
	}
}

func (n *Node) heartbeat(leaving bool) *boursepb.Heartbeat {
	var peers []string
	if !leaving {
		for _, m := range *n.view.Load() {
			if m.Address != n.self.Address {
				peers = append(peers, m.Address)
			}
		}
	}
	return &boursepb.Heartbeat{
		Peers:       peers,
		Cluster:     n.cfg.Cluster,
		Node:        n.self.Node,
		Address:     n.self.Address,
		DataAddress: n.self.Data,
		Incarnation: n.self.Incarnation,
		Leaving:     leaving,
		Labels:      n.self.Labels, // never changed: sharing it is safe
	}
}

// Stop leaves the cluster and stops the node, in this order: it stops the
// broker (its handlers disconnect, its subscriptions end) while membership
// still runs; ends the membership goroutine and its probes; sends a leaving
// heartbeat to every live peer and waits for their acknowledgements (twice
// HeartbeatInterval, within 100-500 ms), so that they drop it at once;
// when there were peers, keeps remote running 50 ms more, so that what
// they sent before dropping the node arrives; stops discovery, the
// membership actor, remote and the actor system; closes the Subscribe
// channels. It returns when every goroutine the node started has ended.
// ctx bounds the waits on the broker, the acknowledgements, the drain,
// discovery and remote; remote is then stopped forcibly. Stop is
// idempotent: later calls return the first call's result.
func (n *Node) Stop(ctx context.Context) error {
	n.stopOnce.Do(func() {
		start := time.Now()
		var errs []error
		// The deployed instances first, while the broker runs: a cluster
		// singleton's candidacy ends at once, so its successor need not
		// wait out the lease.
		if n.deployer != nil {
			if err := n.deployer.stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("bourse: cluster: stop deployments: %w", err))
			}
		}
		// The status page and the metrics endpoint before the broker, whose
		// counters they read.
		if err := n.stopStatus(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := n.metrics.stop(ctx); err != nil {
			errs = append(errs, err)
		}
		// The broker next, while membership still runs: disconnecting its
		// handlers needs the exchanges' authorities, and when an authority's
		// node is gone too, only membership moves the authority to a live
		// node that can answer.
		if err := n.broker.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("bourse: cluster: stop broker: %w", err))
		}
		close(n.quit)
		n.cancelProbe()
		n.wg.Wait() // the membership goroutine and the probes
		if n.leave(ctx, n.lastAlive) {
			// Let what peers sent before they dropped this node arrive while
			// remote still runs. A message that reaches an actor stopped
			// above becomes a dead letter, and protoactor answers one that
			// has a sender over remote; if that answer is sent while remote
			// shuts down, it races inside protoactor (remoteDeliver reads
			// endpointManager.stopped while stop writes it).
			t := time.NewTimer(drainAfterLeave)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		if n.discovery != nil {
			if err := n.discovery.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("bourse: cluster: stop discovery: %w", err))
			}
		}
		n.shutdownSystem(ctx)
		n.observers.close()
		n.stopErr = errors.Join(errs...)
		n.log.Info("node stopped", slog.Duration("took", time.Since(start)))
	})
	return n.stopErr
}

// drainAfterLeave is how long Stop keeps remote running after its peers
// acknowledged that it leaves (see Stop).
const drainAfterLeave = 50 * time.Millisecond

// leave sends a leaving heartbeat to each of addrs and waits for the
// acknowledgements, for leaveAckTimeout at most. It reports whether there
// was any peer to tell.
func (n *Node) leave(ctx context.Context, addrs []string) bool {
	if len(addrs) == 0 {
		return false
	}
	timeout := leaveAckTimeout(n.cfg.HeartbeatInterval)
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(d), time.Millisecond))
	}
	hb := n.heartbeat(true)
	futures := make([]*actor.Future, len(addrs))
	for i, a := range addrs {
		futures[i] = n.system.Root.RequestFuture(actor.NewPID(a, MembersActor), hb, timeout)
	}
	for i, f := range futures {
		if err := f.Wait(); err != nil {
			n.log.Debug("leaving heartbeat not acknowledged", slog.String("peer", addrs[i]), slog.Any("error", err))
		}
	}
	return true
}

// shutdownSystem stops what runs on the actor system after the broker: the
// endpoint-event subscription, the membership actor, remote, and the system.
func (n *Node) shutdownSystem(ctx context.Context) {
	n.system.EventStream.Unsubscribe(n.endpointSub)
	if n.pid != nil {
		_ = n.system.Root.StopFuture(n.pid).Wait()
	}
	stopRemote(ctx, n.remote, n.log)
	n.system.Shutdown()
}
