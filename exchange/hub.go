package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/bourse-go/bourse/internal/codec"
	"github.com/bourse-go/bourse/internal/link"
	"github.com/bourse-go/bourse/internal/wiring"
	boursepb "github.com/bourse-go/bourse/proto"
	"github.com/bourse-go/bourse/strategies"
	"google.golang.org/protobuf/proto"
)

// Hub is bourse's exchange layer on one actor system: it declares exchanges,
// connects handlers and subscribers, and carries requests and publications.
// All methods are safe for concurrent use.
type Hub struct {
	cfg    Config
	system *actor.ActorSystem
	root   *actor.RootContext
	reg    *strategies.Registry
	log    *slog.Logger

	inbox      *inbox
	inboxPID   *actor.PID
	deadSub    *eventstream.Subscription // see failDeadLetter
	ingressPID *actor.PID
	flowPID    *actor.PID              // the sender of publications (flow.go: flowSink)
	ingresses  sync.Map                // address -> *actor.PID of that node's ingress
	link       *link.Link              // the data link; nil without Config.DataAddr
	rec        Recorder                // Config.Recorder; nil: no metrics
	peers      atomic.Pointer[peerMap] // live nodes' data-link addresses
	lastData   sync.Map                // remote address -> the last data-link address it had (see sendWire)
	codec      *codec.Codec            // the data link's codec, with its caches
	targets    codec.Cache[*actor.PID] // local actors by id (see localPID)
	loads      loads                   // local connections' requests in flight (capacity.go)

	mu      sync.Mutex // serialises Declare and Stop
	points  atomic.Pointer[map[string]*point]
	stopped atomic.Bool
	done    chan struct{}
	subSeq  atomic.Uint64

	inc   uint64    // Config.Incarnation, or the hub's start time
	start time.Time // origin of now(), the monotonic clock leases use

	membersMu sync.Mutex // serialises setView and authority starts
	members   []wiring.Member
	quorum    atomic.Bool           // see wiring.View.Quorum
	dead      map[string]bool       // see wiring.View.Dead
	voters    []string              // see wiring.View.Cluster; nil outside a cluster
	votes     *voter                // this node's side of lease rounds (vote.go)
	auths     map[string]*actor.PID // exchange -> the authority this node runs
	authSeq   int
	joining   bool                    // see setJoining
	held      map[string][]any        // Attaches that came while joining, by exchange
	retiring  map[*actor.PID]struct{} // authorities moved away, still renewing leases (see retire)

	probes sync.WaitGroup // probation probes in flight (probation.go)
	// bg tracks the advertiser (advertise.go), started once, with the
	// first exchange whose strategy routes by load.
	bg         sync.WaitGroup
	advertOnce sync.Once

	// lose, set by tests only (export_test.go), drops the control
	// messages it returns true for, as a connection that fails would: the
	// tests of the re-sends (controlResend, tableRepush). nil in use.
	lose atomic.Pointer[func(proto.Message) bool]
}

// lost reports whether a test asked to lose msg (see Hub.lose).
func (h *Hub) lost(msg proto.Message) bool {
	f := h.lose.Load()
	return f != nil && (*f)(msg)
}

// New starts a hub on system. The hub does not own system: stopping the hub
// leaves it running.
func New(system *actor.ActorSystem, cfg Config) (*Hub, error) {
	if system == nil {
		return nil, fmt.Errorf("%w: nil actor system", ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Hub{
		cfg:    cfg,
		system: system,
		root:   system.Root,
		reg:    cfg.Strategies,
		log:    cfg.Logger,
		inbox:  newInbox(),
		codec:  codec.New(),
		done:   make(chan struct{}),
		auths:  map[string]*actor.PID{},
		inc:    cfg.Incarnation,
		start:  time.Now(),
		rec:    cfg.Recorder,
	}
	if h.inc == 0 {
		h.inc = uint64(h.start.UnixNano())
	}
	h.quorum.Store(true)
	h.votes = newVoter(leaseWait(cfg.leaseDuration()))
	if h.reg == nil {
		h.reg = strategies.Builtin()
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = h.log.With(slog.String("node", cfg.Node))
	id := "bourse$inbox$" + system.ProcessRegistry.NextId()
	pid, ok := system.ProcessRegistry.Add(h.inbox, id)
	if !ok {
		return nil, fmt.Errorf("bourse: cannot register reply inbox %q", id)
	}
	h.inboxPID = pid
	ipid, ok := system.ProcessRegistry.Add(&ingress{h: h}, ingressID)
	if !ok {
		system.ProcessRegistry.Remove(pid)
		return nil, fmt.Errorf("%w: actor system already runs a bourse hub", ErrInvalid)
	}
	h.ingressPID = ipid
	fpid, ok := system.ProcessRegistry.Add(flowSink{}, "bourse$flow$"+system.ProcessRegistry.NextId())
	if !ok {
		system.ProcessRegistry.Remove(pid)
		system.ProcessRegistry.Remove(ipid)
		return nil, fmt.Errorf("bourse: cannot register the publications' sink")
	}
	h.flowPID = fpid
	h.deadSub = system.EventStream.Subscribe(failDeadLetter)
	empty := map[string]*point{}
	h.points.Store(&empty)
	h.peers.Store(&peerMap{})
	if cfg.DataAddr != "" {
		if err := h.startLink(); err != nil {
			system.ProcessRegistry.Remove(pid)
			system.ProcessRegistry.Remove(ipid)
			system.ProcessRegistry.Remove(fpid)
			return nil, err
		}
	}
	// The cluster layer's hold on the hub (wiring.HubOf); one hub per
	// actor system, as the ingress's fixed name already requires.
	system.Extensions.Register(wired{h})
	return h, nil
}

// Logger returns the hub's logger.
func (h *Hub) Logger() *slog.Logger { return h.log }

// Node returns the hub's node name.
func (h *Hub) Node() string { return h.cfg.Node }

// Declare creates the exchange s describes, or does nothing when an exchange of
// that name is already declared the same way. It returns an error wrapping
// ErrExchangeExists when the name is taken by a different declaration,
// strategies.ErrUnknownStrategy for an unknown strategy, and ErrInvalid for a
// malformed spec. When Declare returns nil, the exchange takes calls.
func (h *Hub) Declare(ctx context.Context, s Spec) error {
	if err := s.Validate(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped.Load() {
		return ErrStopped
	}
	if p, ok := (*h.points.Load())[s.Name]; ok {
		if p.spec.Kind != s.Kind || p.spec.strategyName() != s.strategyName() || (s.Impl != nil) != (p.spec.Impl != nil) {
			return fmt.Errorf("%w: %q is declared as %s/%s", ErrExchangeExists, s.Name, p.spec.Kind, p.spec.strategyName())
		}
		return nil
	}
	var strat strategies.Strategy
	if s.Kind == ReqResp {
		strat = s.Impl
		if strat == nil {
			var err error
			if strat, err = h.reg.New(s.strategyName(), s.Params); err != nil {
				return fmt.Errorf("bourse: exchange %q: %w", s.Name, err)
			}
		}
	}
	p := newPoint(h, s, strat)
	if err := p.start(ctx); err != nil {
		return err
	}
	old := *h.points.Load()
	next := make(map[string]*point, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[s.Name] = p
	h.points.Store(&next)
	if p.ads != nil {
		h.startAdvertiser()
	}
	return nil
}

// Exchanges returns the specs of the declared exchanges.
func (h *Hub) Exchanges() []Spec {
	m := *h.points.Load()
	out := make([]Spec, 0, len(m))
	for _, p := range m {
		out = append(out, p.spec)
	}
	return out
}

// Leader returns the current leader of a req-resp exchange as this node's
// point of presence knows it, with the term of the authority that appointed
// it (a fencing token that increases with every new authority; 0 with an
// error). The error wraps ErrNoHandlers when nobody is connected,
// ErrNoLeader when no leader is appointed that this node may route to (its
// node is not a member, or this node has no quorum). ObserveLeader follows
// it as it changes.
func (h *Hub) Leader(name string) (*boursepb.HandlerInfo, uint64, error) {
	p, err := h.lookup(name, ReqResp)
	if err != nil {
		return nil, 0, err
	}
	t := p.table.Load()
	if len(t.all.members) == 0 {
		return nil, 0, &RequestError{Exchange: name, Err: ErrNoHandlers}
	}
	if t.leader == "" {
		return nil, 0, &RequestError{Exchange: name, Err: ErrNoLeader}
	}
	return t.all.infos[0], t.term, nil
}

// retire moves an authority this node no longer owns into retirement (see
// retire) and stops it one lease later (with membersMu held).
func (h *Hub) retire(pid *actor.PID) {
	h.root.Send(pid, &retire{})
	if h.retiring == nil {
		h.retiring = map[*actor.PID]struct{}{}
	}
	h.retiring[pid] = struct{}{}
	time.AfterFunc(h.cfg.leaseDuration(), func() {
		h.membersMu.Lock()
		_, still := h.retiring[pid]
		delete(h.retiring, pid)
		h.membersMu.Unlock()
		if still {
			h.root.Stop(pid)
		}
	})
}

// now is the hub's monotonic clock, for leases.
func (h *Hub) now() time.Duration { return time.Since(h.start) }

// Handlers returns the connections of a req-resp exchange, oldest first.
func (h *Hub) Handlers(name string) ([]*boursepb.HandlerInfo, error) {
	p, err := h.lookup(name, ReqResp)
	if err != nil {
		return nil, err
	}
	return append([]*boursepb.HandlerInfo(nil), p.table.Load().all.infos...), nil
}

// Stop stops the hub's exchanges and fails every waiting request with
// ErrStopped. It waits for the hub's actors to stop, or for ctx. Stop is
// idempotent; calls after the first return nil at once.
func (h *Hub) Stop(ctx context.Context) error {
	h.mu.Lock()
	if h.stopped.Swap(true) {
		h.mu.Unlock()
		return nil
	}
	close(h.done)
	points := *h.points.Load()
	h.mu.Unlock()

	// Waiting callers wake on h.done and return ErrStopped.
	h.system.EventStream.Unsubscribe(h.deadSub)
	h.system.ProcessRegistry.Remove(h.inboxPID)
	h.system.ProcessRegistry.Remove(h.ingressPID)
	h.membersMu.Lock()
	auths := h.auths
	h.auths = map[string]*actor.PID{}
	retiring := h.retiring
	h.retiring = nil
	h.membersMu.Unlock()
	var futs []*actor.Future
	for _, pid := range auths {
		futs = append(futs, h.root.StopFuture(pid))
	}
	for pid := range retiring {
		futs = append(futs, h.root.StopFuture(pid))
	}
	for _, p := range points {
		futs = append(futs, h.root.StopFuture(p.popPID))
	}
	err := waitFutures(ctx, futs)
	for _, p := range points {
		p.prob.closeWatches()
		p.closeSubWatches()
	}
	// Last of the registry: subscribers still taking publications until
	// their actors stopped answered the sink.
	h.system.ProcessRegistry.Remove(h.flowPID)
	// Probes end within their timeout, or at once on h.done; the
	// advertiser at once.
	if werr := waitGroup(ctx, &h.probes); werr != nil {
		err = errors.Join(err, werr)
	}
	if werr := waitGroup(ctx, &h.bg); werr != nil {
		err = errors.Join(err, werr)
	}
	// Last, so that the answers the stopping handlers gave still go out.
	return errors.Join(err, h.stopLink(ctx))
}

// waitFutures waits for stop futures, or ctx. Each future ends by itself
// within protoactor's 10 s stop timeout, so the waiting goroutine never
// outlives that even when ctx ends first.
func waitFutures(ctx context.Context, futs []*actor.Future) error {
	done := make(chan struct{})
	go func() {
		for _, f := range futs {
			_ = f.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bourse: stop: %w", ctx.Err())
	}
}

// ingressOf returns the ingress PID of the node at addr, reusing one PID per
// node so protoactor's per-PID process cache stays warm.
func (h *Hub) ingressOf(addr string) *actor.PID {
	if v, ok := h.ingresses.Load(addr); ok {
		return v.(*actor.PID)
	}
	v, _ := h.ingresses.LoadOrStore(addr, actor.NewPID(addr, ingressID))
	return v.(*actor.PID)
}

// applyMembers reacts to a new view (called with membersMu held):
// authorities this node no longer owns stop, and all of them when the node
// regained its quorum (they are rebuilt in a new term, from every node's
// state: what they decided alone may be stale); the ones it keeps learn who
// lives; every point of presence drops what is on departed nodes from its
// table at once, and re-attaches if its authority moved; requests waiting
// on nodes that went away fail with ErrNodeDown.
func (h *Hub) applyMembers(prev, next []wiring.Member, regained bool) {
	if h.stopped.Load() {
		return
	}
	live := map[string]bool{}
	for _, a := range h.liveAddresses(next) {
		live[a] = true
	}
	quorum := h.quorum.Load()
	for name, pid := range h.auths {
		switch {
		case regained:
			h.root.Stop(pid)
		case h.ownerOf(name, next) != h.address():
			h.retire(pid)
		default:
			h.root.Send(pid, &membersChanged{live: live, quorum: quorum, dead: h.dead, voters: h.voters})
			continue
		}
		delete(h.auths, name)
	}
	for pid := range h.retiring {
		h.root.Send(pid, &membersChanged{live: live, quorum: quorum, dead: h.dead, voters: h.voters})
	}
	for _, p := range *h.points.Load() {
		p.refilter(live, quorum)
		h.root.Send(p.popPID, &reattach{quorum: quorum, regained: regained})
	}
	for _, m := range prev {
		if !live[m.Address] {
			h.inbox.failNode(m.Address)
			h.ingresses.Delete(m.Address)
		}
	}
}

// failDeadLetter fails at once a request that protoactor could not deliver
// because its handler's actor no longer exists (it stopped after the
// caller's table was built: a handler that hands leadership over, or a
// service that stops), instead of letting the caller wait out its deadline.
// It runs on the publisher's goroutine and does not block.
func failDeadLetter(evt any) {
	dl, ok := evt.(*actor.DeadLetterEvent)
	if !ok {
		return
	}
	if r, ok := dl.Message.(*Request); ok {
		r.Fail(errUndelivered)
	}
}

// address returns this node's remote address ("nonhost" without remote).
func (h *Hub) address() string { return h.system.Address() }

// waitGroup waits for wg, or ctx.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bourse: stop: probes still running: %w", ctx.Err())
	}
}
