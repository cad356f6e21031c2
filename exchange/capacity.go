package exchange

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/strategies"
)

// Capacity: every handler connection has a concurrency limit (how many
// requests it works on at once: 1 for an actor, which takes one message at
// a time) and a bounded queue of requests waiting beyond it. The node that
// hosts the handler counts its requests in flight exactly: one more when a
// request is put into the handler's mailbox (request.go: sendOne, for a
// caller on this node; carriage.go: deliverRequest, for one on another
// node), one less when it is answered or dropped (messages.go: answer,
// DropExpired; a request its actor never got is failed, so answered, by
// hub.go: failDeadLetter). A request that finds the limit and the queue
// full is not delivered: it fails at once with ErrOverloaded.
//
// Callers on other nodes learn a handler's free capacity from its replies,
// which carry it (codec.OutReply.Free): the advert piggybacks on traffic
// that flows anyway, and costs a reply a few bytes. A node that sends a
// handler nothing learns it from the handler's node, which advertises its
// handlers on their own too (advertise.go). A point whose strategy
// routes by load (strategies.LoadAware: local-first) keeps, for each
// handler on another node, the last advert, when it came and how many
// requests this node sent it since (advert), and gives its picker a
// loadView over them and over the local handlers' exact counts. An advert
// older than AdvertTTL is unknown, neither full nor free; a handler that
// appeared after the point's first table ramps up over RampUp.

// Defaults of the handlers' limits (Config.Handlers).
const (
	// DefaultConcurrency is a connection's concurrency limit unless told
	// otherwise: one request at a time, as an actor takes its messages.
	DefaultConcurrency = 1
	// DefaultQueue bounds the requests waiting beyond the concurrency
	// limit: room for bursts of many callers, while memory stays bounded
	// (at about 200 bytes a waiting request, 200 KB a handler).
	DefaultQueue = 1024
	// NoQueue, as HandlerLimits.Queue, lets no request wait: one beyond
	// the concurrency limit fails with ErrOverloaded.
	NoQueue = -1
	// MaxConcurrency and MaxQueue bound the limits Validate accepts.
	MaxConcurrency = 1 << 20
	MaxQueue       = 1 << 24
)

// The bounds of a capacity advert's life, for local-first.
const (
	// AdvertTTL is how long a handler's advertised free capacity is
	// trusted; after it, the handler's capacity is unknown.
	AdvertTTL = 500 * time.Millisecond
	// RampUp is how long a handler that appeared on another node after
	// this node's first table of the exchange takes to be credited with
	// its whole capacity: a node that just joined is not flooded with the
	// spill-over of every other.
	RampUp = 5 * time.Second
)

// HandlerLimits are the defaults of handlers' limits on this node
// (Config.Handlers); Concurrency and QueueLimit override them per
// connection.
type HandlerLimits struct {
	// Concurrency is how many requests a handler works on at once. 0 means
	// DefaultConcurrency.
	Concurrency int
	// Queue bounds the requests waiting beyond Concurrency. 0 means
	// DefaultQueue; NoQueue lets none wait.
	Queue int
}

func (l HandlerLimits) resolved() (concurrency, queue uint32) {
	concurrency, queue = DefaultConcurrency, DefaultQueue
	if l.Concurrency > 0 {
		concurrency = uint32(l.Concurrency)
	}
	switch {
	case l.Queue > 0:
		queue = uint32(l.Queue)
	case l.Queue == NoQueue:
		queue = 0
	}
	return concurrency, queue
}

// load counts one local connection's requests in flight, those its
// handler works on and those waiting in its mailbox.
type load struct {
	inflight atomic.Int32
	// closed is set when the connection's disconnection begins (loads.remove):
	// a request that finds it is not put into the handler's mailbox, but
	// answered errUndelivered, and its caller sends it again.
	closed atomic.Bool
	limit  int32 // the concurrency limit
	max    int32 // limit plus the queue
}

func newLoad(concurrency, queue uint32) *load {
	return &load{limit: int32(concurrency), max: int32(min(uint64(concurrency)+uint64(queue), 1<<31-1))}
}

// acquire counts one more request, and reports false (counting nothing)
// when the limit and the queue are full.
func (l *load) acquire() bool {
	if l.inflight.Add(1) > l.max {
		l.inflight.Add(-1)
		return false
	}
	return true
}

func (l *load) release() { l.inflight.Add(-1) }

// free is the limit less the requests in flight: negative while some wait.
func (l *load) free() int32 { return l.limit - l.inflight.Load() }

// loads maps the ids of this node's connections to their counts; copied on
// write (connections come and go rarely, requests look it up).
type loads struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]*load]
}

func (ls *loads) get(id string) *load {
	if m := ls.m.Load(); m != nil {
		return (*m)[id]
	}
	return nil
}

// add registers l under id, unless id has one: it returns the one
// registered and whether it is l.
func (ls *loads) add(id string, l *load) (*load, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	old := ls.m.Load()
	if old != nil {
		if have := (*old)[id]; have != nil {
			return have, false
		}
	}
	m := make(map[string]*load, 1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[id] = l
	ls.m.Store(&m)
	return l, true
}

// remove unregisters id and closes its load: from then on no request
// reaches its handler's mailbox, which a stopping handler may be about to
// leave with requests still queued behind its stop, and protoactor drops
// those without a word.
func (ls *loads) remove(id string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	old := ls.m.Load()
	if old == nil || (*old)[id] == nil {
		return
	}
	(*old)[id].closed.Store(true)
	m := make(map[string]*load, len(*old))
	for k, v := range *old {
		if k != id {
			m[k] = v
		}
	}
	ls.m.Store(&m)
}

// advert is what this node knows of the free capacity of one handler on
// another node.
type advert struct {
	free  atomic.Int32
	at    atomic.Int64 // mono of the last advert, 0 for none
	sent  atomic.Int32 // requests this node sent it since
	born  mono         // when this node first saw it; 0 for no ramp-up
	limit int32
}

// heard records an advert of free capacity.
func (a *advert) heard(free int32, now mono) {
	a.free.Store(free)
	a.sent.Store(0)
	a.at.Store(int64(now))
}

// estimate is the handler's free capacity as this node can guess it now.
func (a *advert) estimate(now mono) (int, bool) {
	at := mono(a.at.Load())
	if at == 0 || now-at > mono(AdvertTTL) {
		return 0, false
	}
	f := int(a.free.Load()) - int(a.sent.Load())
	if a.born != 0 && now-a.born < mono(RampUp) {
		ramp := max(1, int(int64(a.limit)*int64(now-a.born)/int64(RampUp)))
		f = min(f, ramp)
	}
	return f, true
}

// adverts are a load-aware point's adverts, by connection id: copied on
// write at each table build, read as replies come.
type adverts struct {
	m      atomic.Pointer[map[string]*advert]
	primed bool // a table was built: later handlers ramp up
}

func (as *adverts) get(id string) *advert {
	if m := as.m.Load(); m != nil {
		return (*m)[id]
	}
	return nil
}

// loadView is a group's strategies.LoadView.
type loadView struct {
	isLocal []bool
	local   []*load   // by member; nil for one on another node
	remote  []*advert // by member; nil for one on this node
}

func (v *loadView) Local(i int) bool { return v.isLocal[i] }

func (v *loadView) Free(i int) (int, bool) {
	if l := v.local[i]; l != nil {
		return int(l.free()), true
	}
	if a := v.remote[i]; a != nil {
		return a.estimate(monoNow())
	}
	return 0, false
}

// viewOf renews the adverts for the handlers of g (the exchange's whole
// group) on other nodes, keeping what was heard of those that stay, and
// returns g's view. It runs with the point's tableMu held.
func (as *adverts) viewOf(h *Hub, g *group) *loadView {
	old := as.m.Load()
	m := make(map[string]*advert, len(g.members))
	v := &loadView{isLocal: make([]bool, len(g.members)), local: g.loads, remote: make([]*advert, len(g.members))}
	now := monoNow()
	for i, info := range g.infos {
		if h.isLocal(g.pids[i]) {
			v.isLocal[i] = true
			continue
		}
		id := info.GetId()
		var a *advert
		if old != nil {
			a = (*old)[id]
		}
		if a == nil {
			a = &advert{limit: int32(max(info.GetConcurrency(), 1))}
			if as.primed {
				a.born = now
			}
		}
		m[id] = a
		v.remote[i] = a
	}
	as.primed = true
	as.m.Store(&m)
	return v
}

// subset returns the view of the members idx of v's group.
func (v *loadView) subset(idx []int) *loadView {
	s := &loadView{isLocal: make([]bool, len(idx)), local: make([]*load, len(idx)), remote: make([]*advert, len(idx))}
	for k, i := range idx {
		s.isLocal[k], s.local[k], s.remote[k] = v.isLocal[i], v.local[i], v.remote[i]
	}
	return s
}

var _ strategies.LoadView = (*loadView)(nil)
