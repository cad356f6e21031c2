package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// maxResting bounds the resting orders per symbol and side, so that a long
// run keeps a bounded book: beyond it the worst-priced order is dropped.
const maxResting = 1000

// errNotLeader is what an engine answers when an order reaches it while it
// does not lead: consensus routes to the leader only, so this happens only
// while the cluster's tables change hands. The client retries.
var errNotLeader = errors.New("matching engine: not the leader")

// engine is the matching engine, the cluster singleton "engine" on the
// consensus exchange "matching": the cluster runs one, and it matches only
// while it leads "matching". Handle and onLeader run in the engine's
// service actor, one message at a time, so the books need no lock; the
// counters and the leadership record are read by the node's reporter and
// are guarded.
type engine struct {
	node    string
	leading bool // the service actor's view
	books   map[string]*symbolBook

	matched, trades, refused, first, last atomic.Int64

	mu      sync.Mutex
	life    interval // from its construction to Stop
	leadIvs []interval
}

func newEngine(node string) *engine {
	return &engine{node: node, books: map[string]*symbolBook{}, life: interval{From: time.Now().UnixNano()}}
}

// Stop is called by the cluster when it removes the instance (its node's
// leadership of the singleton ended). A node killed with SIGKILL never
// calls it: its engine's life stays open in its last report.
func (e *engine) Stop(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.life.To = time.Now().UnixNano()
	return nil
}

// onLeader is the service's OnLeader: it is told at once whether the
// exchange appointed it, and again whenever that changes. The cluster
// already runs one engine at a time; the engine's own record of when it
// led is the evidence the report checks that against.
func (e *engine) onLeader(is bool, _ *actors.Leader) {
	now := time.Now().UnixNano()
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case is && !e.leading:
		e.leadIvs = append(e.leadIvs, interval{From: now})
		// A new leader starts with empty books: the seed leaves replicated
		// state to the storage layer, out of this example's scope.
		e.books = map[string]*symbolBook{}
	case !is && e.leading:
		e.leadIvs[len(e.leadIvs)-1].To = now
	}
	e.leading = is
}

// Handle matches one order against its symbol's book.
func (e *engine) Handle(_ context.Context, r *actors.Request) (proto.Message, error) {
	if !e.leading {
		e.refused.Add(1)
		return nil, errNotLeader
	}
	o, err := parseOrder(r.Payload)
	if err != nil {
		return nil, err
	}
	b := e.books[o.Symbol]
	if b == nil {
		b = &symbolBook{}
		e.books[o.Symbol] = b
	}
	trades := b.match(o)
	now := time.Now().UnixNano()
	e.first.CompareAndSwap(0, now)
	e.last.Store(now)
	e.matched.Add(1)
	e.trades.Add(int64(trades))
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"engine": structpb.NewStringValue(e.node),
		"trades": structpb.NewNumberValue(float64(trades)),
	}}, nil
}

// add sums the stats of another engine into s.
func (s *engineStats) add(o engineStats) {
	s.Matched += o.Matched
	s.Trades += o.Trades
	s.Refused += o.Refused
	if o.First != 0 && (s.First == 0 || o.First < s.First) {
		s.First = o.First
	}
	s.Last = max(s.Last, o.Last)
}

func (e *engine) stats() engineStats {
	return engineStats{Matched: e.matched.Load(), Trades: e.trades.Load(), Refused: e.refused.Load(), First: e.first.Load(), Last: e.last.Load()}
}

func (e *engine) leadership() (life interval, leading []interval) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.life, slices.Clone(e.leadIvs)
}

// resting is an order waiting in a book.
type resting struct {
	price float64
	qty   int64
}

// symbolBook holds one symbol's resting orders: bids best (highest) first,
// asks best (lowest) first; equal prices keep arrival order.
type symbolBook struct {
	bids, asks []resting
}

// match crosses o with the opposite side while prices allow, then rests
// what is left. It returns the number of trades.
func (b *symbolBook) match(o order) int {
	qty := o.Qty
	opposite, own := &b.asks, &b.bids
	crosses := func(p float64) bool { return p <= o.Price }
	better := func(p float64) bool { return p > o.Price } // resting orders ahead of o
	if o.Side == "sell" {
		opposite, own = &b.bids, &b.asks
		crosses = func(p float64) bool { return p >= o.Price }
		better = func(p float64) bool { return p < o.Price }
	}
	trades := 0
	for qty > 0 && len(*opposite) > 0 && crosses((*opposite)[0].price) {
		best := &(*opposite)[0]
		fill := min(qty, best.qty)
		qty -= fill
		best.qty -= fill
		trades++
		if best.qty == 0 {
			*opposite = (*opposite)[1:]
		}
	}
	if qty > 0 {
		i := 0
		for i < len(*own) && (better((*own)[i].price) || (*own)[i].price == o.Price) {
			i++
		}
		*own = slices.Insert(*own, i, resting{price: o.Price, qty: qty})
		if len(*own) > maxResting {
			*own = (*own)[:maxResting]
		}
	}
	return trades
}
