package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/internal/lifecycle"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// The deployment runtime: every node keeps the cluster's specs (a
// last-writer-wins map replicated by Deploy's pushes and by pulls when a
// peer comes up and every few seconds), and a reconciler that runs, on this
// node, the instances deploy.Place assigns to it. No node coordinates: each
// computes the same placement from the same members.
//
// Cluster singletons are not placed by Place alone: the eligible nodes are
// candidates on a consensus exchange of their own (SingletonExchangePrefix
// and the service's name), and the instance runs on the candidate that
// leads it, while it leads: it starts when its node holds the leader's
// lease and stops acting the moment the lease or the leadership ends, so
// the cluster never has two (see docs/guarantees.md and docs/deploy.md).

// Names the runtime uses on the broker.
const (
	// DeployExchange is the control exchange of the deployment runtime,
	// declared on every node: each node serves it under its own name as
	// service tag.
	DeployExchange = "bourse.deploy"
	// SingletonExchangePrefix prefixes the consensus exchange on which the
	// candidates of a cluster singleton elect the one that runs it.
	SingletonExchangePrefix = "bourse.singleton."
	// InstanceTagPrefix prefixes the connection tag of every deployed
	// instance: InstanceTagPrefix + service + "/" + key.
	InstanceTagPrefix = "bourse.deploy/"
)

// Defaults of the runtime's configuration (Config.RebalanceInterval,
// Config.DeployStartTimeout).
const (
	DefaultRebalanceInterval  = time.Second
	DefaultDeployStartTimeout = 30 * time.Second
)

// Timings of the runtime.
const (
	// reconcileEvery: the reconciler also runs on every change it hears
	// of; the tick catches what it cannot hear (a hand-over's new instance
	// becoming visible in the routing table, a retry falling due).
	reconcileEvery = 100 * time.Millisecond
	// antiEntropyEvery: how often a node pulls the specs of one random
	// peer, repairing a push it missed.
	antiEntropyEvery = 5 * time.Second
	// controlTimeout bounds one control request to one node.
	controlTimeout = 2 * time.Second
	// deployPoll: how often Deploy and Undeploy ask the nodes where they
	// stand.
	deployPoll = 25 * time.Millisecond
	// retryMin and retryMax bound the back-off between attempts to start
	// an instance that failed.
	retryMin = time.Second
	retryMax = 30 * time.Second
	// standbyDelay: a node that Place does not choose for a cluster
	// singleton becomes a candidate this much later than the chosen one,
	// so that the chosen one (the first connected) leads.
	standbyDelay = time.Second
	// undeclaredGrace is how long an instance waits for its exchange to be
	// declared on its node before it counts as failed: a node started from
	// a file pulls the cluster's specs before it declares the file's
	// exchanges.
	undeclaredGrace = 2 * time.Second
	// lingerFor is how long a cluster singleton's built instance outlives
	// its leadership on its node, disconnected and not acting: a lease that
	// lapses for a moment (a join, a starved process) and comes back on the
	// same node finds the same instance, its state intact, rather than a
	// new one from its constructor.
	lingerFor = 3 * time.Second
	// instanceStopTimeout bounds the stop of one instance.
	instanceStopTimeout = 10 * time.Second
	// rollbackTimeout bounds the rollback of a failed Deploy, which runs
	// after the caller's ctx may have ended.
	rollbackTimeout = 10 * time.Second
)

type deployer struct {
	n            *Node
	b            *actors.Broker
	kinds        *deploy.Kinds
	log          *slog.Logger
	rebalance    time.Duration
	startTimeout time.Duration

	ctx    context.Context // ends with stop: start-ups abort
	cancel context.CancelFunc
	kick   chan struct{}
	tasks  lifecycle.Group
	ctl    *actors.Service
	events fanout[deploy.Event]

	mu       sync.Mutex
	store    map[string]*boursepb.DeployEntry
	clock    uint64
	insts    map[string]*instance  // by instKey
	cands    map[string]*candidate // cluster singletons, by service
	wanted   map[string]time.Time  // cluster singletons: when this node first was eligible
	moved    map[string]time.Time  // service → when a hand-over last started here
	placeErr map[string]string     // service → the last placement error logged
	waiting  map[string]time.Time  // exchange → since when an instance waits for it to be declared here
	stopping bool
}

type instance struct {
	spec      deploy.Spec
	version   uint64
	key       string
	slot      int
	singleton bool // run by its candidate's leadership, not by reconcile
	state     deploy.State
	err       error
	failures  int
	retryAt   time.Time
	svc       *actors.Service
	stopFn    func(context.Context) error
	connID    string
}

type candidate struct {
	leading   sync.Mutex  // held by lead: a new leadership waits for the last one's instance to be disconnected and kept
	kept      *built      // the singleton's instance between two leaderships (lingerFor)
	keptTimer *time.Timer // releases kept when no leadership comes back in time
	spec      deploy.Spec
	svc       *actors.Service                // nil while it connects
	served    atomic.Pointer[actors.Service] // svc, for the request path, without the lock
	retryAt   time.Time                      // a failed connection is tried again then
	failed    bool
}

func instKey(service, key string) string { return service + "/" + key }

func instanceTag(service, key string) string { return InstanceTagPrefix + service + "/" + key }

// keyOf is the key of a placement: its slot, or "@node" for a node
// singleton (whose slot moves as nodes come and go).
func keyOf(spec deploy.Spec, p deploy.Placement) string {
	if spec.Mode == deploy.ModeNodeSingleton {
		return "@" + p.Node
	}
	return strconv.Itoa(p.Slot)
}

func newDeployer(n *Node) *deployer {
	kinds := n.cfg.Kinds
	if kinds == nil {
		kinds = deploy.NewKinds()
	}
	d := &deployer{
		n: n, b: n.broker, kinds: kinds, log: n.log.With(slog.String("part", "deploy")),
		rebalance: n.cfg.RebalanceInterval, startTimeout: n.cfg.DeployStartTimeout,
		kick:  make(chan struct{}, 1),
		store: map[string]*boursepb.DeployEntry{}, insts: map[string]*instance{},
		cands: map[string]*candidate{}, wanted: map[string]time.Time{}, moved: map[string]time.Time{},
		placeErr: map[string]string{}, waiting: map[string]time.Time{},
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// start declares the control exchange, serves it, pulls the specs of the
// live peers and starts the reconciler.
func (d *deployer) start(ctx context.Context) error {
	if err := d.b.Declare(ctx, actors.Spec{Name: DeployExchange, Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		return fmt.Errorf("bourse: cluster: declare %s: %w", DeployExchange, err)
	}
	svc, err := actors.ServeFunc(ctx, d.b, DeployExchange, d.control,
		actors.WithConnectOptions(actors.ServiceTag(d.n.Name())))
	if err != nil {
		return fmt.Errorf("bourse: cluster: serve %s: %w", DeployExchange, err)
	}
	d.ctl = svc
	d.pullAll(ctx)
	events, unsubscribe := d.n.Subscribe()
	d.tasks.Go(func() {
		defer unsubscribe()
		d.loop(events)
	})
	return nil
}

// stop stops the reconciler, then every instance and candidacy of this
// node, then the control service. It runs before the broker stops.
func (d *deployer) stop(ctx context.Context) error {
	d.mu.Lock()
	d.stopping = true
	var svcs []*instance
	for _, in := range d.insts {
		if !in.singleton && in.svc != nil {
			svcs = append(svcs, in)
		}
	}
	var cands, all []*candidate
	for _, c := range d.cands {
		all = append(all, c)
		if c.svc != nil {
			cands = append(cands, c)
		}
	}
	d.mu.Unlock()
	d.cancel()
	var errs []error
	// Candidates first: a singleton's node that leaves hands it over at
	// once rather than when its lease runs out.
	for _, c := range cands {
		if err := c.svc.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, in := range svcs {
		errs = append(errs, d.stopInstance(ctx, in))
	}
	for _, c := range all { // singletons kept between two leaderships
		if b := d.takeKept(c); b != nil {
			b.release(ctx)
		}
	}
	if d.ctl != nil {
		errs = append(errs, d.ctl.Stop(ctx))
	}
	errs = append(errs, d.tasks.Wait(ctx))
	d.events.close()
	return errors.Join(errs...)
}

func (d *deployer) kickNow() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *deployer) loop(members <-chan MembershipEvent) {
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	pull := time.NewTicker(antiEntropyEvery)
	defer pull.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case ev, ok := <-members:
			if !ok {
				return
			}
			if ev.Type == MemberUp {
				peer := ev.Member.Node
				d.tasks.Go(func() { d.pull(d.ctx, peer) })
			}
		case <-d.kick:
		case <-tick.C:
		case <-pull.C:
			if peers := d.peers(); len(peers) > 0 {
				peer := peers[rand.IntN(len(peers))]
				d.tasks.Go(func() { d.pull(d.ctx, peer) })
			}
		}
		d.reconcile(time.Now())
	}
}

// peers returns the names of the live members other than this node.
func (d *deployer) peers() []string {
	var out []string
	for _, m := range d.n.Members() {
		if m.Node != d.n.Name() {
			out = append(out, m.Node)
		}
	}
	return out
}

// call sends one control request to node.
func (d *deployer) call(ctx context.Context, node string, req *boursepb.DeployControl) (*boursepb.DeployStatus, error) {
	return actors.Call[*boursepb.DeployStatus](ctx, d.b, DeployExchange, req,
		actors.WithServiceTag(node), actors.WithTimeout(controlTimeout))
}

func (d *deployer) pull(ctx context.Context, node string) {
	st, err := d.call(ctx, node, &boursepb.DeployControl{Op: &boursepb.DeployControl_List{List: &boursepb.DeployList{}}})
	if err != nil {
		d.log.Debug("pulling specs failed", slog.String("peer", node), slog.Any("error", err))
		return
	}
	if d.merge(st.GetEntries()) {
		d.kickNow()
	}
}

func (d *deployer) pullAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range d.peers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.pull(ctx, p)
		}()
	}
	wg.Wait()
}

// newer reports whether a replaces b: a higher version, or the same
// version written by a greater origin.
func newer(a, b *boursepb.DeployEntry) bool {
	if a.GetVersion() != b.GetVersion() {
		return a.GetVersion() > b.GetVersion()
	}
	return a.GetOrigin() > b.GetOrigin()
}

// merge folds entries into the store; it reports whether anything
// changed.
func (d *deployer) merge(entries []*boursepb.DeployEntry) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	changed := false
	for _, e := range entries {
		name := e.GetSpec().GetName()
		if name == "" {
			continue
		}
		d.clock = max(d.clock, e.GetVersion())
		if cur, ok := d.store[name]; ok && !newer(e, cur) {
			continue
		}
		d.store[name] = proto.Clone(e).(*boursepb.DeployEntry)
		changed = true
	}
	return changed
}

// write stores a new entry of this node's: spec, or its tombstone.
func (d *deployer) write(spec deploy.Spec, deleted bool) *boursepb.DeployEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clock++
	e := &boursepb.DeployEntry{Spec: specToWire(spec), Version: d.clock, Origin: d.n.Name(), Deleted: deleted}
	d.store[spec.Name] = e
	return proto.Clone(e).(*boursepb.DeployEntry)
}

// live returns the live entry of service, or nil.
func (d *deployer) live(service string) *boursepb.DeployEntry {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.store[service]; ok && !e.GetDeleted() {
		return proto.Clone(e).(*boursepb.DeployEntry)
	}
	return nil
}

// control answers the control exchange.
func (d *deployer) control(_ context.Context, req *boursepb.DeployControl) (*boursepb.DeployStatus, error) {
	switch op := req.GetOp().(type) {
	case *boursepb.DeployControl_Apply:
		if d.merge(op.Apply.GetEntries()) {
			d.kickNow()
		}
		return &boursepb.DeployStatus{Node: d.n.Name()}, nil
	case *boursepb.DeployControl_List:
		d.mu.Lock()
		defer d.mu.Unlock()
		st := &boursepb.DeployStatus{Node: d.n.Name()}
		for _, e := range d.store {
			st.Entries = append(st.Entries, proto.Clone(e).(*boursepb.DeployEntry))
		}
		return st, nil
	case *boursepb.DeployControl_Status:
		return d.status(op.Status.GetService()), nil
	}
	return nil, fmt.Errorf("%w: empty deploy control request", actors.ErrInvalid)
}

// status reports this node's instances of service ("" for all), its live
// entries of them, and which of their connections its routing holds.
func (d *deployer) status(service string) *boursepb.DeployStatus {
	st := &boursepb.DeployStatus{Node: d.n.Name()}
	var specs []deploy.Spec
	d.mu.Lock()
	for name, e := range d.store {
		if (service == "" || name == service) && !e.GetDeleted() {
			st.Entries = append(st.Entries, proto.Clone(e).(*boursepb.DeployEntry))
			specs = append(specs, specFromWire(e.GetSpec()))
		}
	}
	for _, in := range d.insts {
		if service != "" && in.spec.Name != service {
			continue
		}
		st.Instances = append(st.Instances, &boursepb.DeployInstance{
			Service: in.spec.Name, Key: in.key, Slot: int32(in.slot), State: string(in.state),
			ConnId: in.connID, Failure: failureToWire(in.err), Version: in.version,
		})
	}
	d.mu.Unlock()
	for _, s := range specs {
		v := &boursepb.DeployVisible{Service: s.Name, Declared: true}
		hs, err := d.b.Handlers(s.Exchange)
		if err != nil {
			v.Declared = false
		}
		prefix := InstanceTagPrefix + s.Name + "/"
		for _, h := range hs {
			if strings.HasPrefix(h.GetConnTag(), prefix) {
				v.ConnIds = append(v.ConnIds, h.GetId())
			}
		}
		st.Visible = append(st.Visible, v)
	}
	return st
}

// candidates returns the live members as Place sees them.
func candidatesOf(ms []Member) []deploy.Candidate {
	out := make([]deploy.Candidate, len(ms))
	for i, m := range ms {
		out[i] = deploy.Candidate{Node: m.Node, Labels: m.Labels}
	}
	return out
}

// reconcile starts and stops this node's instances so that they match the
// placement of every live spec over the live members.
func (d *deployer) reconcile(now time.Time) {
	view := d.n.Members()
	cands := candidatesOf(view)
	self := d.n.Name()
	// Which nodes route to which instances, read before the lock: the
	// broker's tables are read without it.
	specs := d.liveSpecs()
	holders := map[string]map[string]bool{} // instKey → nodes hosting a visible instance
	blind := map[string]bool{}              // services whose exchange this node cannot read
	for _, s := range specs {
		if s.Mode != deploy.ModeReplicas {
			continue
		}
		hs, err := d.b.Handlers(s.Exchange)
		if err != nil {
			blind[s.Name] = true
		}
		prefix := InstanceTagPrefix + s.Name + "/"
		for _, h := range hs {
			if key, ok := strings.CutPrefix(h.GetConnTag(), prefix); ok {
				k := instKey(s.Name, key)
				if holders[k] == nil {
					holders[k] = map[string]bool{}
				}
				holders[k][h.GetNode()] = true
			}
		}
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping {
		return
	}
	keep := map[string]bool{}
	for name, e := range d.store {
		if e.GetDeleted() {
			continue
		}
		spec := specFromWire(e.GetSpec())
		if spec.Mode == deploy.ModeClusterSingleton {
			d.reconcileSingleton(spec, cands, now)
			continue
		}
		a, err := deploy.Place(spec, cands)
		if err != nil {
			if d.placeErr[name] != err.Error() {
				d.placeErr[name] = err.Error()
				d.log.Warn("service cannot be placed; what runs of it stays", slog.String("service", name), slog.Any("error", err))
			}
			for k, in := range d.insts {
				if in.spec.Name == name {
					keep[k] = true
				}
			}
			continue
		}
		delete(d.placeErr, name)
		for _, p := range a.Placements {
			if p.Node != self {
				continue
			}
			key := keyOf(spec, p)
			k := instKey(name, key)
			keep[k] = true
			in := d.insts[k]
			// A hand-over: the instance runs elsewhere (or this node cannot
			// tell) and moves here. At most one per interval, and the old
			// one stops only once this one is routed to.
			handover := spec.Mode == deploy.ModeReplicas && (len(holders[k]) > 0 || blind[name])
			switch {
			case in == nil || in.state == deploy.StateFailed && !now.Before(in.retryAt):
				if !d.declaredLocked(spec.Exchange, now) {
					continue // it waits for its exchange (undeclaredGrace)
				}
				if handover {
					if now.Sub(d.moved[name]) < d.rebalance {
						continue
					}
					d.moved[name] = now
				}
				d.startLocked(spec, e.GetVersion(), key, p.Slot, in)
			case in.state == deploy.StateRunning && !in.spec.Equal(spec):
				// Redeployed with another spec after an undeploy that this
				// node did not see: restart it with the new one.
				d.stopLocked(in)
			}
		}
		// Instances of this service that are no longer placed here.
		for k, in := range d.insts {
			if in.spec.Name != name || keep[k] || in.state != deploy.StateRunning {
				if in.spec.Name == name && in.state == deploy.StateStarting {
					keep[k] = true // stopped once started, if still unwanted
				}
				continue
			}
			if spec.Mode == deploy.ModeReplicas && in.slot < len(a.Placements) {
				target := a.Placements[in.slot].Node
				if !holders[k][target] {
					keep[k] = true // until its successor is routed to
					continue
				}
			}
			d.stopLocked(in)
			keep[k] = true
		}
	}
	for k, in := range d.insts {
		if keep[k] || in.singleton {
			continue
		}
		switch in.state {
		case deploy.StateRunning:
			d.stopLocked(in)
		case deploy.StateFailed:
			delete(d.insts, k)
		}
	}
	for name, c := range d.cands {
		if e, ok := d.store[name]; !ok || e.GetDeleted() || !specFromWire(e.GetSpec()).Equal(c.spec) {
			d.dropCandidateLocked(name, c)
		}
	}
}

// startLocked starts an instance in the background; prev is the record of
// a failed attempt.
func (d *deployer) startLocked(spec deploy.Spec, version uint64, key string, slot int, prev *instance) {
	in := &instance{spec: spec, version: version, key: key, slot: slot, state: deploy.StateStarting}
	if prev != nil {
		in.failures = prev.failures
	}
	k := instKey(spec.Name, key)
	d.insts[k] = in
	d.tasks.Go(func() {
		ctx, cancel := context.WithTimeout(d.ctx, d.startTimeout)
		svc, stopFn, err := d.startInstance(ctx, spec, key, slot, nil)
		cancel()
		d.mu.Lock()
		if err != nil {
			d.failLocked(in, err)
			d.mu.Unlock()
			return
		}
		if d.stopping || d.insts[k] != in {
			d.mu.Unlock()
			d.stopService(svc, stopFn)
			return
		}
		in.state, in.svc, in.stopFn, in.connID, in.err = deploy.StateRunning, svc, stopFn, svc.Connection().ID(), nil
		d.mu.Unlock()
		d.emit(deploy.Event{Type: deploy.Placed, Service: spec.Name, Key: key, Slot: slot, ConnID: in.connID})
		d.kickNow()
	})
}

func (d *deployer) failLocked(in *instance, err error) {
	in.state, in.err = deploy.StateFailed, err
	in.failures++
	back := retryMin << min(in.failures-1, 5)
	in.retryAt = time.Now().Add(min(back, retryMax))
	d.log.Warn("instance failed to start", slog.String("service", in.spec.Name), slog.String("key", in.key),
		slog.Int("failures", in.failures), slog.Any("error", err))
	ev := deploy.Event{Type: deploy.Failed, Service: in.spec.Name, Key: in.key, Slot: in.slot, Err: err}
	d.tasks.Go(func() { d.emit(ev) })
}

// stopLocked stops a running instance in the background.
func (d *deployer) stopLocked(in *instance) {
	in.state = deploy.StateStopping
	d.tasks.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), instanceStopTimeout)
		defer cancel()
		_ = d.stopInstance(ctx, in)
	})
}

// stopInstance disconnects in, releases its handler and forgets it.
func (d *deployer) stopInstance(ctx context.Context, in *instance) error {
	err := in.svc.Stop(ctx)
	if in.stopFn != nil {
		err = errors.Join(err, in.stopFn(ctx))
	}
	k := instKey(in.spec.Name, in.key)
	d.mu.Lock()
	if d.insts[k] == in {
		delete(d.insts, k)
	}
	d.mu.Unlock()
	d.emit(deploy.Event{Type: deploy.Removed, Service: in.spec.Name, Key: in.key, Slot: in.slot, ConnID: in.connID})
	d.kickNow()
	return err
}

func (d *deployer) stopService(svc *actors.Service, stopFn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), instanceStopTimeout)
	defer cancel()
	_ = svc.Stop(ctx)
	if stopFn != nil {
		_ = stopFn(ctx)
	}
}

// startInstance builds the instance with its kind's constructor and
// connects it to the spec's exchange. acting, when not nil, says whether
// the instance may act at this instant (a cluster singleton's leadership
// and lease): when it may not, requests fail with actors.ErrNoLeader.
func (d *deployer) startInstance(ctx context.Context, spec deploy.Spec, key string, slot int, acting func() bool) (*actors.Service, func(context.Context) error, error) {
	b, err := d.build(ctx, spec, slot)
	if err != nil {
		return nil, nil, err
	}
	svc, err := d.serve(ctx, spec, key, b, acting)
	if err != nil {
		b.release(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return svc, b.stopFn, nil
}

// built is an instance its constructor built, not connected yet.
type built struct {
	inst   deploy.Instance
	stopFn func(context.Context) error // the handler's Stop, if it has one
}

func (b *built) release(ctx context.Context) {
	if b != nil && b.stopFn != nil {
		_ = b.stopFn(ctx)
	}
}

// build runs the kind's constructor (the instance's start-up); ctx carries
// the node (NodeFromContext).
func (d *deployer) build(ctx context.Context, spec deploy.Spec, slot int) (*built, error) {
	ctx = context.WithValue(ctx, nodeKey{}, d.n)
	inst, err := d.kinds.New(ctx, spec, slot)
	if err != nil {
		if errors.Is(err, deploy.ErrUnknownKind) || errors.Is(err, deploy.ErrInvalidKind) {
			return nil, err
		}
		return nil, &startError{err: err}
	}
	b := &built{inst: inst}
	if s, ok := inst.Handler.(interface{ Stop(context.Context) error }); ok {
		b.stopFn = s.Stop
	}
	return b, nil
}

// serve connects a built instance to the spec's exchange under its tags.
func (d *deployer) serve(ctx context.Context, spec deploy.Spec, key string, b *built, acting func() bool) (*actors.Service, error) {
	h := b.inst.Handler
	if acting != nil {
		h = actingHandler{h: h, acting: acting}
	}
	connect := []actors.ConnectOption{actors.ConnTag(instanceTag(spec.Name, key))}
	if spec.ServiceTag != "" {
		connect = append(connect, actors.ServiceTag(spec.ServiceTag))
	}
	// The runtime's tags come last: they name the instance.
	opts := append(append([]actors.ServeOption(nil), b.inst.Options...), actors.WithConnectOptions(connect...))
	svc, err := d.b.Serve(ctx, spec.Exchange, h, opts...)
	if err != nil {
		return nil, &startError{serve: true, err: err}
	}
	return svc, nil
}

// actingHandler answers only while its instance may act.
type actingHandler struct {
	h      actors.Handler
	acting func() bool
}

func (a actingHandler) Handle(ctx context.Context, r *actors.Request) (proto.Message, error) {
	if !a.acting() {
		return nil, fmt.Errorf("%w: the cluster singleton's leadership ended", actors.ErrNoLeader)
	}
	return a.h.Handle(ctx, r)
}

// reconcileSingleton makes this node a candidate for a cluster singleton
// when it is eligible: Place's choice at once, the others standbyDelay
// later, so that the chosen one connects first and leads.
func (d *deployer) reconcileSingleton(spec deploy.Spec, cands []deploy.Candidate, now time.Time) {
	name := spec.Name
	eligible := spec.Selector.Matches(d.n.Self().Labels)
	c := d.cands[name]
	if !eligible {
		delete(d.wanted, name)
		if c != nil {
			d.dropCandidateLocked(name, c)
		}
		return
	}
	if c != nil && (!c.failed || now.Before(c.retryAt)) {
		return
	}
	a, err := deploy.Place(spec, cands)
	chosen := err == nil && len(a.Placements) == 1 && a.Placements[0].Node == d.n.Name()
	first, ok := d.wanted[name]
	if !ok {
		first = now
		d.wanted[name] = now
	}
	if !chosen && now.Sub(first) < standbyDelay {
		return
	}
	c = &candidate{spec: spec}
	d.cands[name] = c
	d.tasks.Go(func() { d.connectCandidate(c) })
}

func (d *deployer) connectCandidate(c *candidate) {
	name := c.spec.Name
	ex := SingletonExchangePrefix + name
	ctx, cancel := context.WithTimeout(d.ctx, d.startTimeout)
	defer cancel()
	err := d.b.Declare(ctx, actors.Spec{Name: ex, Kind: actors.ReqResp, Strategy: "consensus"})
	var svc *actors.Service
	if err == nil {
		svc, err = d.b.Serve(ctx, ex, candidateHandler{},
			actors.OnLeading(func(lctx context.Context, term uint64) { d.lead(lctx, c, term) }))
	}
	d.mu.Lock()
	if err != nil {
		c.failed, c.retryAt = true, time.Now().Add(retryMin)
		d.mu.Unlock()
		if d.ctx.Err() == nil {
			d.log.Warn("cluster singleton: candidacy failed", slog.String("service", name), slog.Any("error", err))
		}
		return
	}
	if d.stopping || d.cands[name] != c {
		d.mu.Unlock()
		d.stopService(svc, nil)
		return
	}
	c.svc = svc
	c.served.Store(svc)
	d.mu.Unlock()
}

// dropCandidateLocked ends this node's candidacy (which stops the
// instance it leads, if any).
func (d *deployer) dropCandidateLocked(name string, c *candidate) {
	delete(d.cands, name)
	if b := c.kept; b != nil {
		c.kept = nil
		if c.keptTimer != nil {
			c.keptTimer.Stop()
			c.keptTimer = nil
		}
		d.tasks.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), instanceStopTimeout)
			defer cancel()
			b.release(ctx)
		})
	}
	if c.svc == nil {
		return // connectCandidate sees it is dropped
	}
	svc := c.svc
	d.tasks.Go(func() { d.stopService(svc, nil) })
}

// candidateHandler is a singleton candidate's handler: nobody calls it.
type candidateHandler struct{}

func (candidateHandler) Handle(context.Context, *actors.Request) (proto.Message, error) {
	return nil, fmt.Errorf("%w: a cluster singleton's candidacy takes no requests", actors.ErrRejected)
}

// lead runs the cluster singleton while this node's candidate leads: ctx
// ends with the leadership (its lease lapsed, another was appointed, or the
// candidate stopped).
func (d *deployer) lead(ctx context.Context, c *candidate, term uint64) {
	c.leading.Lock()
	defer c.leading.Unlock()
	spec := c.spec
	k := instKey(spec.Name, "0")
	// It acts while the leadership's context lives and, at each request,
	// while the candidate's lease holds at that instant: a node that
	// resumes from a freeze finds its lease lapsed before the context's
	// timer has fired.
	acting := func() bool {
		if ctx.Err() != nil {
			return false
		}
		svc := c.served.Load()
		return svc == nil || svc.IsLeader()
	}
	var prev *instance
	for ctx.Err() == nil {
		in := &instance{spec: spec, key: "0", singleton: true, state: deploy.StateStarting}
		if prev != nil {
			in.failures = prev.failures
		}
		d.mu.Lock()
		if e := d.store[spec.Name]; e != nil {
			in.version = e.GetVersion()
		}
		d.insts[k] = in
		d.mu.Unlock()
		d.awaitExchange(ctx, spec.Exchange)
		sctx, cancel := context.WithTimeout(ctx, d.startTimeout)
		b := d.takeKept(c)
		var err error
		if b == nil {
			b, err = d.build(sctx, spec, 0)
		}
		var svc *actors.Service
		started := time.Now() // it may act from its connection on: Placed says so
		if err == nil {
			if svc, err = d.serve(sctx, spec, "0", b, acting); err != nil {
				b.release(context.WithoutCancel(sctx))
			}
		}
		cancel()
		stopFn := func(context.Context) error { return nil }
		if b != nil && b.stopFn != nil {
			stopFn = b.stopFn
		}
		if err != nil {
			d.mu.Lock()
			d.failLocked(in, err)
			wait := time.Until(in.retryAt)
			d.mu.Unlock()
			prev = in
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		d.mu.Lock()
		in.state, in.svc, in.stopFn, in.connID, in.err = deploy.StateRunning, svc, stopFn, svc.Connection().ID(), nil
		d.mu.Unlock()
		d.log.Info("cluster singleton acting", slog.String("service", spec.Name), slog.Uint64("term", term))
		d.emit(deploy.Event{Type: deploy.Placed, Service: spec.Name, Key: "0", ConnID: in.connID, At: started})
		<-ctx.Done()
		ended := time.Now() // it stops acting now: actingHandler refuses from here
		d.mu.Lock()
		in.state = deploy.StateStopping
		d.mu.Unlock()
		d.log.Info("cluster singleton stops acting", slog.String("service", spec.Name), slog.Uint64("term", term))
		sctx, cancel = context.WithTimeout(context.Background(), instanceStopTimeout)
		err = svc.Stop(sctx) // disconnected; the built instance lingers (keep)
		cancel()
		d.mu.Lock()
		if d.insts[k] == in {
			delete(d.insts, k)
		}
		d.mu.Unlock()
		d.keep(c, b)
		d.emit(deploy.Event{Type: deploy.Removed, Service: spec.Name, Key: "0", ConnID: in.connID, Err: err, At: ended})
		d.kickNow()
		return
	}
	d.mu.Lock()
	if in := d.insts[k]; in != nil && in.state == deploy.StateFailed {
		delete(d.insts, k)
	}
	d.mu.Unlock()
}

type nodeKey struct{}

// NodeFromContext returns the node whose deployment runtime runs the
// constructor that ctx was given to (deploy.Constructor's ctx), so that a
// kind registered before its node existed can reach the node's broker.
func NodeFromContext(ctx context.Context) (*Node, bool) {
	n, ok := ctx.Value(nodeKey{}).(*Node)
	return n, ok
}

// declaredLocked reports whether an instance on exchange may start now:
// the exchange is declared here, or it has waited undeclaredGrace for it
// (the start then fails with actors.ErrUnknownExchange, as it should).
func (d *deployer) declaredLocked(exchange string, now time.Time) bool {
	if _, err := d.b.Handlers(exchange); !errors.Is(err, actors.ErrUnknownExchange) {
		delete(d.waiting, exchange)
		return true
	}
	since, ok := d.waiting[exchange]
	if !ok {
		d.waiting[exchange] = now
		return false
	}
	return now.Sub(since) >= undeclaredGrace
}

// takeKept returns the singleton instance c kept from its last leadership,
// if any, and stops its release.
func (d *deployer) takeKept(c *candidate) *built {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := c.kept
	c.kept = nil
	if c.keptTimer != nil {
		c.keptTimer.Stop()
		c.keptTimer = nil
	}
	return b
}

// keep holds b for c for lingerFor, then releases it (its handler's Stop),
// unless a new leadership takes it first. A candidate that is dropped, or
// a runtime that stops, releases it at once.
func (d *deployer) keep(c *candidate, b *built) {
	d.mu.Lock()
	if d.stopping || d.cands[c.spec.Name] != c {
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), instanceStopTimeout)
		defer cancel()
		b.release(ctx)
		return
	}
	c.kept = b
	c.keptTimer = time.AfterFunc(lingerFor, func() {
		if kb := d.takeKeptIf(c, b); kb != nil {
			ctx, cancel := context.WithTimeout(context.Background(), instanceStopTimeout)
			defer cancel()
			kb.release(ctx)
		}
	})
	d.mu.Unlock()
}

// takeKeptIf takes c's kept instance when it is still b.
func (d *deployer) takeKeptIf(c *candidate, b *built) *built {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.kept != b {
		return nil
	}
	c.kept, c.keptTimer = nil, nil
	return b
}

// awaitExchange waits, up to undeclaredGrace, for exchange to be declared
// on this node (see declaredLocked), or for ctx.
func (d *deployer) awaitExchange(ctx context.Context, exchange string) {
	deadline := time.Now().Add(undeclaredGrace)
	for time.Now().Before(deadline) {
		if _, err := d.b.Handlers(exchange); !errors.Is(err, actors.ErrUnknownExchange) {
			return
		}
		t := time.NewTimer(reconcileEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// liveSpecs returns the specs of the store that are not undeployed.
func (d *deployer) liveSpecs() []deploy.Spec {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []deploy.Spec
	for _, e := range d.store {
		if !e.GetDeleted() {
			out = append(out, specFromWire(e.GetSpec()))
		}
	}
	return out
}
