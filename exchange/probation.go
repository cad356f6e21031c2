package exchange

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	boursepb "github.com/bourse-go/bourse/proto"
	"github.com/bourse-go/bourse/strategies"
)

// Probation: each node keeps, per exchange, how the handlers it sends
// requests to behave. A handler whose requests time out or fail in transport
// Probation.Failures times in a row (a handler's own errors do not count:
// it answered) is taken out of this node's rotation for a back-off
// (Probation.Eject, doubling at each ejection up to Probation.MaxEject,
// with ±20% jitter so that the nodes' probes do not come together), then
// probed with a request that is not a user's (a *boursepb.Probe payload,
// which actors.Service answers itself), and let back only when the probe is
// answered, its share growing from nothing to whole over Probation.Ramp.
// Never more than half of a group, nor its last handler, is out. The state
// is this node's alone: another node may still route to a handler this one
// ejected, as Envoy's outlier detection and Finagle's failure accrual do.
//
// Pickers that implement strategies.Avoider (round-robin, sticky,
// consensus-round-robin) pick around the ejected handlers; sticky sends an
// ejected handler's keys to the next partition's owner without changing
// its ring, so a flapping handler moves no key for good. Other strategies
// (default's broadcast, consensus, fun) pick as before.

// ProbationConfig configures probation (Config.Probation).
type ProbationConfig struct {
	// Failures is how many timeouts or transport failures in a row take a
	// handler out of rotation. 0 means DefaultProbationFailures; -1 turns
	// probation off.
	Failures int
	// Eject is the first ejection's length; each later one of the same
	// handler doubles it. 0 means DefaultProbationEject.
	Eject time.Duration
	// MaxEject bounds an ejection. 0 means DefaultProbationMaxEject.
	MaxEject time.Duration
	// Ramp is how long a handler let back takes to get its whole share of
	// the requests again. 0 means DefaultProbationRamp.
	Ramp time.Duration
	// ProbeTimeout bounds a probe. 0 means DefaultProbeTimeout.
	ProbeTimeout time.Duration
}

// Defaults of ProbationConfig, those of Envoy's outlier detection (5
// consecutive errors, 30 s base ejection, at most 300 s) scaled to a
// trading backend's patience.
const (
	DefaultProbationFailures = 5
	DefaultProbationEject    = 5 * time.Second
	DefaultProbationMaxEject = 5 * time.Minute
	DefaultProbationRamp     = 10 * time.Second
	DefaultProbeTimeout      = time.Second
	// ProbationOff, as ProbationConfig.Failures, turns probation off.
	ProbationOff = -1
)

func (c ProbationConfig) withDefaults() ProbationConfig {
	if c.Failures == 0 {
		c.Failures = DefaultProbationFailures
	}
	if c.Eject == 0 {
		c.Eject = DefaultProbationEject
	}
	if c.MaxEject == 0 {
		c.MaxEject = DefaultProbationMaxEject
	}
	if c.Ramp == 0 {
		c.Ramp = DefaultProbationRamp
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	return c
}

// HealthEventType says what happened to a handler on probation.
type HealthEventType int

// The health events.
const (
	// Ejected: the handler was taken out of this node's rotation.
	Ejected HealthEventType = iota + 1
	// ProbeFailed: the probe got no answer; the handler stays out, for
	// twice as long.
	ProbeFailed
	// Readmitted: the probe was answered; the handler is back, its share
	// ramping up.
	Readmitted
)

func (t HealthEventType) String() string {
	switch t {
	case Ejected:
		return "ejected"
	case ProbeFailed:
		return "probe-failed"
	case Readmitted:
		return "readmitted"
	}
	return "unknown"
}

// HealthEvent is a change of a handler's standing on this node
// (Hub.WatchHealth).
type HealthEvent struct {
	Type     HealthEventType
	Exchange string
	// Handler is the handler's connection id, Node its node.
	Handler, Node string
	// Failures is how many failures in a row ejected it (Ejected).
	Failures int
	// Ejections counts the handler's ejections so far; Until is when the
	// current one ends (Ejected, ProbeFailed).
	Ejections int
	Until     time.Time
	// Err is the last failure (Ejected) or the probe's (ProbeFailed).
	Err error
	At  time.Time
}

// HealthStats are the probation counters of an exchange on this node
// (Stats.Health).
type HealthStats struct {
	// Ejections, Probes, ProbeFailures and Readmissions count the events.
	Ejections, Probes, ProbeFailures, Readmissions uint64
	// Out is how many handlers are out of rotation now.
	Out int
}

// Health states.
const (
	inRotation int32 = iota
	ejected
	probing
)

// health is one handler's standing, kept across table rebuilds.
type health struct {
	id, node  string
	fails     atomic.Int32
	state     atomic.Int32
	until     atomic.Int64 // unix nanos: the ejection's end
	rampFrom  atomic.Int64 // unix nanos: when it was let back (0: not ramping)
	ejections int          // guarded by probation.mu
}

// probation is a point's probation state.
type probation struct {
	cfg     ProbationConfig
	off     bool
	name    string
	mu      sync.Mutex
	byID    map[string]*health
	active  atomic.Int32 // handlers out or ramping: routing checks it first
	watches []chan HealthEvent

	ejections, probes, probeFailures, readmissions atomic.Uint64
}

func newProbation(name string, cfg ProbationConfig) *probation {
	return &probation{cfg: cfg.withDefaults(), off: cfg.Failures == ProbationOff, name: name, byID: map[string]*health{}}
}

// attach gives t's groups the health of their handlers, forgetting the
// handlers that left. Called with the point's tableMu held.
func (pr *probation) attach(t *table) {
	if pr.off {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	seen := make(map[string]bool, len(t.all.infos))
	fill := func(g *group) {
		g.health = make([]*health, len(g.infos))
		for i, info := range g.infos {
			hs := pr.byID[info.GetId()]
			if hs == nil {
				hs = &health{id: info.GetId(), node: info.GetNode()}
				pr.byID[info.GetId()] = hs
			}
			seen[info.GetId()] = true
			g.health[i] = hs
		}
	}
	fill(t.all)
	for _, g := range t.byTag {
		fill(g)
	}
	for id, hs := range pr.byID {
		if !seen[id] {
			if hs.state.Load() != inRotation || hs.rampFrom.Load() != 0 {
				pr.active.Add(-1)
			}
			delete(pr.byID, id)
		}
	}
}

// avoiding returns whether routing must pick around some handler now.
func (pr *probation) avoiding() bool { return pr != nil && pr.active.Load() > 0 }

// avoid reports whether g's handler i is to be skipped for one pick at
// now: it is out, or let back a moment ago and not drawn for its share.
func (pr *probation) avoid(g *group, i int, now int64) bool {
	if i >= len(g.health) {
		return false
	}
	hs := g.health[i]
	if hs.state.Load() != inRotation {
		return true
	}
	from := hs.rampFrom.Load()
	if from == 0 {
		return false
	}
	elapsed := now - from
	if elapsed >= int64(pr.cfg.Ramp) {
		if hs.rampFrom.CompareAndSwap(from, 0) {
			pr.active.Add(-1)
		}
		return false
	}
	return rand.Int64N(int64(pr.cfg.Ramp)) >= elapsed
}

// pick asks g's picker for a handler, around the ejected ones when it can.
// It also starts the probes that fall due.
func (pr *probation) pick(h *Hub, p *point, g *group, req strategies.Request) (strategies.Decision, error) {
	now := time.Now().UnixNano()
	pr.probeDue(h, p, g, now)
	av, ok := g.picker.(strategies.Avoider)
	if !ok || p.leaderOnly {
		return g.picker.Pick(req)
	}
	out := 0
	for i := range g.health {
		if pr.avoid(g, i, now) {
			out++
		}
	}
	if out == 0 || out == len(g.health) {
		return g.picker.Pick(req)
	}
	return av.PickAvoiding(req, func(i int) bool { return pr.avoid(g, i, now) })
}

// failure classes of a request's outcome, for probation.
func countsAgainst(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrNodeDown):
		return true
	}
	return false
}

// observe records the outcome of a request to g's handler i: an answer
// (even a handler's error) clears its failures; a timeout or a transport
// failure counts one, and enough in a row eject it.
func (pr *probation) observe(g *group, i int, err error) {
	if pr == nil || pr.off || i >= len(g.health) {
		return
	}
	hs := g.health[i]
	if err != nil && (errors.Is(err, errUndelivered) || errors.Is(err, context.Canceled) || errors.Is(err, ErrStopped)) {
		return // says nothing of the handler: it is gone, or the caller gave up
	}
	if !countsAgainst(err) {
		if hs.fails.Load() != 0 {
			hs.fails.Store(0)
		}
		return
	}
	if n := hs.fails.Add(1); int(n) >= pr.cfg.Failures {
		pr.eject(g, hs, int(n), err)
	}
}

// eject takes hs out of rotation, unless that would leave g with fewer
// than half of its handlers, or none.
func (pr *probation) eject(g *group, hs *health, fails int, cause error) {
	pr.mu.Lock()
	if hs.state.Load() != inRotation {
		pr.mu.Unlock()
		return
	}
	out := 0
	for _, o := range g.health {
		if o.state.Load() != inRotation {
			out++
		}
	}
	if len(g.health)-out <= 1 || 2*(out+1) > len(g.health) {
		pr.mu.Unlock()
		return // never the last handler, never more than half
	}
	hs.ejections++
	until := time.Now().Add(pr.ejectFor(hs.ejections))
	hs.until.Store(until.UnixNano())
	if hs.rampFrom.Swap(0) == 0 {
		pr.active.Add(1)
	}
	hs.state.Store(ejected)
	hs.fails.Store(0)
	ev := HealthEvent{Type: Ejected, Exchange: pr.name, Handler: hs.id, Node: hs.node, Failures: fails,
		Ejections: hs.ejections, Until: until, Err: cause, At: time.Now()}
	pr.mu.Unlock()
	pr.ejections.Add(1)
	pr.publish(ev)
}

// ejectFor is the length of a handler's n-th ejection: Eject doubled n-1
// times, at most MaxEject, ±20%.
func (pr *probation) ejectFor(n int) time.Duration {
	d := pr.cfg.Eject << min(n-1, 30)
	if d <= 0 || d > pr.cfg.MaxEject {
		d = pr.cfg.MaxEject
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}

// probeDue starts a probe of each of g's ejected handlers whose ejection
// has ended. The probe runs on its own goroutine, tracked by the hub.
func (pr *probation) probeDue(h *Hub, p *point, g *group, now int64) {
	for _, hs := range g.health {
		if hs.state.Load() != ejected || hs.until.Load() > now || !hs.state.CompareAndSwap(ejected, probing) {
			continue
		}
		pr.probes.Add(1)
		h.probes.Add(1)
		go func() {
			defer h.probes.Done()
			pr.probe(h, p, hs)
		}()
	}
}

// probe sends hs's handler a probe and lets it back when it answers.
func (pr *probation) probe(h *Hub, p *point, hs *health) {
	ctx, cancel := context.WithTimeout(context.Background(), pr.cfg.ProbeTimeout)
	defer cancel()
	err := h.probeHandler(ctx, p, hs.id)
	pr.mu.Lock()
	if _, ok := pr.byID[hs.id]; !ok {
		pr.mu.Unlock()
		return // it left meanwhile; attach counted it out
	}
	var ev HealthEvent
	if err == nil {
		hs.state.Store(inRotation)
		hs.rampFrom.Store(time.Now().UnixNano()) // still active: ramping
		pr.readmissions.Add(1)
		ev = HealthEvent{Type: Readmitted, Exchange: pr.name, Handler: hs.id, Node: hs.node, Ejections: hs.ejections, At: time.Now()}
	} else {
		hs.ejections++
		until := time.Now().Add(pr.ejectFor(hs.ejections))
		hs.until.Store(until.UnixNano())
		hs.state.Store(ejected)
		pr.probeFailures.Add(1)
		ev = HealthEvent{Type: ProbeFailed, Exchange: pr.name, Handler: hs.id, Node: hs.node, Ejections: hs.ejections,
			Until: until, Err: err, At: time.Now()}
	}
	pr.mu.Unlock()
	pr.publish(ev)
	if h.log.Enabled(context.Background(), slog.LevelInfo) {
		h.log.Info("bourse: probation", slog.String("exchange", pr.name), slog.String("event", ev.Type.String()),
			slog.String("handler", hs.id), slog.Any("error", err))
	}
}

// stats returns the counters.
func (pr *probation) stats() HealthStats {
	s := HealthStats{Ejections: pr.ejections.Load(), Probes: pr.probes.Load(),
		ProbeFailures: pr.probeFailures.Load(), Readmissions: pr.readmissions.Load()}
	pr.mu.Lock()
	for _, hs := range pr.byID {
		if hs.state.Load() != inRotation {
			s.Out++
		}
	}
	pr.mu.Unlock()
	return s
}

// HealthWatchBuffer is the capacity of the channel WatchHealth returns.
const HealthWatchBuffer = 64

// watch returns a channel of pr's events and a function that ends it.
func (pr *probation) watch() (<-chan HealthEvent, func()) {
	ch := make(chan HealthEvent, HealthWatchBuffer)
	pr.mu.Lock()
	pr.watches = append(pr.watches, ch)
	pr.mu.Unlock()
	return ch, func() {
		pr.mu.Lock()
		defer pr.mu.Unlock()
		for i, w := range pr.watches {
			if w == ch {
				pr.watches = append(pr.watches[:i], pr.watches[i+1:]...)
				close(ch)
				return
			}
		}
	}
}

// publish offers ev to every watcher; a full channel misses it.
func (pr *probation) publish(ev HealthEvent) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, w := range pr.watches {
		select {
		case w <- ev:
		default:
		}
	}
}

// closeWatches closes the watchers' channels (the hub stops).
func (pr *probation) closeWatches() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, w := range pr.watches {
		close(w)
	}
	pr.watches = nil
}

// WatchHealth returns a channel of the probation events of exchange name on
// this node, and a function that ends the watch and closes the channel
// (the hub's Stop closes it too). A watcher that falls behind misses
// events; Stats(name).Health counts them all.
func (h *Hub) WatchHealth(name string) (<-chan HealthEvent, func(), error) {
	p, err := h.lookup(name, ReqResp)
	if err != nil {
		return nil, nil, err
	}
	ch, stop := p.prob.watch()
	return ch, stop, nil
}

// IsProbe reports whether r is a probation probe (a *boursepb.Probe
// payload), which a handler answers with Respond(r.Payload) without
// treating it as work. actors.Service answers probes itself.
func (r *Request) IsProbe() bool {
	_, ok := r.Payload.(*boursepb.Probe)
	return ok
}

// probeHandler sends a probe to the handler id of p and waits for its
// answer: nil when it answered (even with an error of its own).
func (h *Hub) probeHandler(ctx context.Context, p *point, id string) error {
	t := p.table.Load()
	target := -1
	for i, info := range t.all.infos {
		if info.GetId() == id {
			target = i
			break
		}
	}
	if target < 0 {
		return &RequestError{Exchange: p.spec.Name, Err: ErrNoHandlers}
	}
	rt := routed{p: p, g: t.all, target: target, payload: &boursepb.Probe{}}
	var o callOptions
	c := h.inbox.open(1, p.spec.Name)
	if err := h.send(&rt, &o, h.inboxPID, c); err != nil {
		h.inbox.close(c, 0)
		return err
	}
	select {
	case r := <-c.ch:
		err := r.Err // r may be the call's own, reused once closed
		h.inbox.close(c, 1)
		if err != nil && !errors.Is(err, ErrHandler) {
			return err
		}
		return nil
	case <-ctx.Done():
		h.inbox.close(c, 0)
		return timeoutError(p.spec.Name, ctx)
	case <-h.done:
		return reqErr(p.spec.Name, ErrStopped)
	}
}
