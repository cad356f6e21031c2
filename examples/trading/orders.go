package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/strategies"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// The instruments and venues of the example.
var (
	symbols = []string{"AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "AVGO", "JPM", "V", "XOM", "KO"}
	venues  = []string{"xnas", "bats", "arca"} // node i carries venue i
)

// Exchange names and the risk strategy's name.
const (
	exPrices   = "prices"
	exOrders   = "orders"
	exBooks    = "books"
	exMatching = "matching"
	exQuotes   = "quotes"
	riskName   = "risk-limit"
)

// riskLimit is the largest notional (quantity x price) the risk check lets
// through. Ordinary orders stay under a third of it; the client makes about
// one order in 25 ten times too big.
const riskLimit = 50_000.0

// Client timing: one attempt waits requestTimeout; an order is retried
// (after the kill, requests to the dead node fail fast with ErrNodeDown)
// until orderDeadline.
const (
	requestTimeout = 2 * time.Second
	orderDeadline  = 8 * time.Second
	retryPause     = 20 * time.Millisecond
)

// midPrice is symbol i's reference price.
func midPrice(i int) float64 { return 50 + 25*float64(i) }

// order is an order as the example's code sees it; on the wire it is a
// structpb.Struct.
type order struct {
	ID     string
	Symbol string
	Side   string // "buy" or "sell"
	Qty    int64
	Price  float64
}

func (o order) notional() float64 { return float64(o.Qty) * o.Price }

func (o order) proto() *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"id":     structpb.NewStringValue(o.ID),
		"symbol": structpb.NewStringValue(o.Symbol),
		"side":   structpb.NewStringValue(o.Side),
		"qty":    structpb.NewNumberValue(float64(o.Qty)),
		"price":  structpb.NewNumberValue(o.Price),
	}}
}

// parseOrder reads an order, or says what is wrong with it.
func parseOrder(m proto.Message) (order, error) {
	s, ok := m.(*structpb.Struct)
	if !ok {
		return order{}, fmt.Errorf("want a structpb.Struct, got %T", m)
	}
	f := s.GetFields()
	o := order{
		ID:     f["id"].GetStringValue(),
		Symbol: f["symbol"].GetStringValue(),
		Side:   f["side"].GetStringValue(),
		Qty:    int64(f["qty"].GetNumberValue()),
		Price:  f["price"].GetNumberValue(),
	}
	switch {
	case o.Symbol == "":
		return o, errors.New("no symbol")
	case o.Side != "buy" && o.Side != "sell":
		return o, fmt.Errorf("side %q", o.Side)
	case o.Qty <= 0 || o.Price <= 0:
		return o, fmt.Errorf("quantity %d at price %v", o.Qty, o.Price)
	}
	return o, nil
}

// riskCheck is the user function of the "risk-limit" fun strategy of
// exchange "orders", run on the caller's node before any network hop. It
// rejects orders over the limit (the caller gets an error matching
// actors.ErrRejected), redirects good ones to the sticky "books", and
// hands malformed ones to the caller's own order desk, which says what is
// wrong.
func riskCheck(node string) strategies.FunFunc {
	return func(req strategies.Request, members []strategies.Member) (strategies.Decision, error) {
		o, err := parseOrder(req.Payload)
		if err != nil {
			return strategies.Decision{Target: localMember(node, members)}, nil
		}
		if n := o.notional(); n > riskLimit {
			return strategies.Decision{}, fmt.Errorf("order %s: notional %.0f over the limit %.0f", o.ID, n, riskLimit)
		}
		return strategies.Decision{Redirect: exBooks}, nil
	}
}

// localMember returns the index of a member on node, or 0 (the oldest).
func localMember(node string, members []strategies.Member) int {
	for i, m := range members {
		if m.Node == node {
			return i
		}
	}
	return 0
}

// orderDesk answers the orders the risk check hands it: malformed ones.
// (strategies.Fun is not called for an empty group, so "orders" needs a
// handler on it for the risk check to run at all: the service "desk" is a
// node singleton, one desk on every node.)
func orderDesk() actors.Handler {
	return actors.HandlerFunc(func(_ context.Context, r *actors.Request) (proto.Message, error) {
		if _, err := parseOrder(r.Payload); err != nil {
			return nil, fmt.Errorf("invalid order: %v", err)
		}
		return nil, errors.New("the order desk takes only malformed orders")
	})
}

// orderBook is one replica of the service "books", a handler of the
// sticky "books": every order of the symbols hashed to it. It sequences
// them and sends each to the matching engine, the leader of "matching",
// wherever the cluster runs it.
func orderBook(b *actors.Broker, id string) actors.Handler {
	return actors.HandlerFunc(func(ctx context.Context, r *actors.Request) (proto.Message, error) {
		o, err := parseOrder(r.Payload)
		if err != nil {
			return nil, fmt.Errorf("invalid order: %v", err)
		}
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		fill, err := b.Request(ctx, exMatching, r.Payload, actors.WithKey(o.Symbol))
		if err != nil {
			// Returned as is: an error wrapping a bourse sentinel (the
			// engine's node is down) reaches the client as that sentinel,
			// and the client retries.
			return nil, err
		}
		s, ok := fill.(*structpb.Struct)
		if !ok {
			return nil, fmt.Errorf("engine answered %T", fill)
		}
		out := &structpb.Struct{Fields: map[string]*structpb.Value{"book": structpb.NewStringValue(id)}}
		for k, v := range s.GetFields() {
			out.Fields[k] = v
		}
		return out, nil
	})
}

// client sends orders from one node, one at a time, and records what came
// back.
type client struct {
	b     *actors.Broker
	node  string
	every time.Duration
	rng   *rand.Rand // used by run's goroutine only

	sent, matched, rejected, invalid, retried, failed, over, wrongRisk atomic.Int64

	mu     sync.Mutex
	sticky map[string]map[string]map[string]bool // books table -> symbol -> books
	last   map[string]int64                      // books table -> latest observation, unix nanoseconds
}

func newClient(b *actors.Broker, node string, perSecond int, seed uint64) *client {
	return &client{
		b: b, node: node, every: time.Second / time.Duration(perSecond),
		rng:    rand.New(rand.NewPCG(seed, 7)),
		sticky: map[string]map[string]map[string]bool{},
		last:   map[string]int64{},
	}
}

// run sends orders until stop is closed.
func (c *client) run(ctx context.Context, stop <-chan struct{}) {
	tick := time.NewTicker(c.every)
	defer tick.Stop()
	for seq := 1; ; seq++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.place(ctx, c.next(seq))
	}
}

// next makes order seq: mostly ordinary, 1 in 25 over the risk limit, 1 in
// 100 without a symbol.
func (c *client) next(seq int) order {
	i := c.rng.IntN(len(symbols))
	o := order{ID: fmt.Sprintf("%s-%d", c.node, seq), Symbol: symbols[i], Side: "buy", Qty: 1 + c.rng.Int64N(100)}
	if c.rng.IntN(2) == 0 {
		o.Side = "sell"
	}
	// Buyers bid a little above the mid and sellers ask a little below
	// about half the time, so orders cross and trade.
	o.Price = float64(int64(midPrice(i)*(1+(c.rng.Float64()-0.5)*0.01)*100)) / 100
	switch n := c.rng.IntN(100); {
	case n < 4:
		o.Qty = 2000 + c.rng.Int64N(3000)
	case n == 4:
		o.Symbol = ""
	}
	return o
}

// place sends o until it gets an answer: a fill, a rejection or, for a
// malformed order, the desk's error. Other errors (the node of a book or of
// the engine died) are retried until orderDeadline.
func (c *client) place(ctx context.Context, o order) {
	c.sent.Add(1)
	malformed := o.Symbol == ""
	over := !malformed && o.notional() > riskLimit
	if over {
		c.over.Add(1)
	}
	deadline := time.Now().Add(orderDeadline)
	for {
		table := c.booksTable()
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		reply, err := c.b.Request(rctx, exOrders, o.proto(), actors.WithKey(o.Symbol))
		cancel()
		switch {
		case err == nil:
			c.matched.Add(1)
			if over {
				c.wrongRisk.Add(1)
			}
			s, _ := reply.(*structpb.Struct) // nil for another type: no book recorded
			book := s.GetFields()["book"].GetStringValue()
			// Recorded only when the books table did not change during
			// the request, so that each observation belongs to one table.
			if book != "" && c.booksTable() == table {
				c.observe(table, o.Symbol, book)
			}
			return
		case errors.Is(err, actors.ErrRejected):
			c.rejected.Add(1)
			if !over {
				c.wrongRisk.Add(1)
			}
			return
		case malformed && errors.Is(err, actors.ErrHandler):
			c.invalid.Add(1)
			return
		case ctx.Err() != nil:
			c.failed.Add(1)
			return
		}
		c.retried.Add(1)
		if time.Now().After(deadline) {
			c.failed.Add(1)
			return
		}
		select {
		case <-time.After(retryPause):
		case <-ctx.Done():
		}
	}
}

// booksTable names this node's current table of "books" by its handlers.
func (c *client) booksTable() string {
	hs, _ := c.b.Handlers(exBooks)
	ids := make([]string, len(hs))
	for i, h := range hs {
		ids[i] = h.GetId()
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

func (c *client) observe(table, symbol, book string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	bySym := c.sticky[table]
	if bySym == nil {
		bySym = map[string]map[string]bool{}
		c.sticky[table] = bySym
	}
	c.last[table] = time.Now().UnixNano()
	if bySym[symbol] == nil {
		bySym[symbol] = map[string]bool{}
	}
	bySym[symbol][book] = true
}

func (c *client) stats() orderStats {
	return orderStats{
		Sent: c.sent.Load(), Matched: c.matched.Load(), Rejected: c.rejected.Load(), Invalid: c.invalid.Load(),
		Retried: c.retried.Load(), Failed: c.failed.Load(), Over: c.over.Load(), WrongRisk: c.wrongRisk.Load(),
	}
}

func (c *client) stickyView() (map[string]map[string][]string, map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]map[string][]string, len(c.sticky))
	for table, bySym := range c.sticky {
		m := make(map[string][]string, len(bySym))
		for sym, books := range bySym {
			for b := range books {
				m[sym] = append(m[sym], b)
			}
			slices.Sort(m[sym])
		}
		out[table] = m
	}
	return out, maps.Clone(c.last)
}
