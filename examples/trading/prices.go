package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// priceKey is the routing key of a price: prices.<venue>.<symbol>.
func priceKey(venue, symbol string) string { return "prices." + venue + "." + symbol }

// feedTick is how often a feed publishes a batch of prices, at rates of
// 100 a second and more; a slower feed publishes one price per tick of its
// own.
const feedTick = 10 * time.Millisecond

// market opens and closes the feeds of one node: the parent opens it once
// every node's sessions are subscribed, and closes it before it checks
// what they received.
type market struct {
	open, closed  chan struct{}
	opened, ended bool // used by the node's command loop only
}

func newMarket() *market {
	return &market{open: make(chan struct{}), closed: make(chan struct{})}
}

func (m *market) start() {
	if !m.opened {
		m.opened = true
		close(m.open)
	}
}

func (m *market) stop() {
	if !m.ended {
		m.ended = true
		close(m.closed)
	}
}

// feed is one venue's market-data feed, the node singleton "market-data":
// every node with a venue link runs one, which publishes that venue's
// prices, prices.<venue>.<symbol>, each key's prices numbered 1, 2, ... so
// that sessions can tell a lost or reordered price. As a handler of
// "quotes" it answers what it published, so that a node can check its
// sessions against every live feed (RequestAll).
type feed struct {
	b       *actors.Broker
	node    string
	venue   string
	tick    time.Duration
	perTick int
	rng     *rand.Rand // used by run's goroutine only

	quit chan struct{} // closed by Stop
	done chan struct{} // closed when run returns

	mu        sync.Mutex
	published map[string]int64
	byRemote  map[int]*netCount
	err       error
}

// newFeed starts the feed's publisher; it waits for the market to open.
func newFeed(b *actors.Broker, node, venue string, perSecond int, seed uint64, m *market) *feed {
	tick, perTick := feedTick, perSecond*int(feedTick)/int(time.Second)
	if perTick < 1 {
		tick, perTick = time.Second/time.Duration(perSecond), 1
	}
	f := &feed{b: b, node: node, venue: venue, tick: tick, perTick: perTick, rng: rand.New(rand.NewPCG(seed, 11)),
		quit: make(chan struct{}), done: make(chan struct{}),
		published: map[string]int64{}, byRemote: map[int]*netCount{}}
	go f.run(m)
	return f
}

// Handle answers a "quotes" request with the venue and its publications
// per key.
func (f *feed) Handle(context.Context, *actors.Request) (proto.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	counts := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for k, n := range f.published {
		counts.Fields[k] = structpb.NewNumberValue(float64(n))
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"venue":     structpb.NewStringValue(f.venue),
		"published": structpb.NewStructValue(counts),
	}}, nil
}

// Stop ends the publisher: the cluster calls it when it removes the
// instance.
func (f *feed) Stop(ctx context.Context) error {
	select {
	case <-f.quit:
	default:
		close(f.quit)
	}
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// idle is closed once the feed publishes no more.
func (f *feed) idle() <-chan struct{} { return f.done }

// run publishes the venue's keys in turn from the market's opening to its
// close (or Stop). A failed Publish ends it, and the node reports it.
func (f *feed) run(m *market) {
	defer close(f.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	select {
	case <-m.open:
	case <-m.closed:
		return
	case <-f.quit:
		return
	}
	var keys []string
	px := map[string]float64{}
	for i, s := range symbols {
		k := priceKey(f.venue, s)
		keys = append(keys, k)
		px[k] = midPrice(i)
	}
	tick := time.NewTicker(f.tick)
	defer tick.Stop()
	next := 0
	for {
		select {
		case <-m.closed:
			return
		case <-f.quit:
			return
		case <-tick.C:
		}
		for range f.perTick {
			k := keys[next%len(keys)]
			next++
			px[k] *= 1 + (f.rng.Float64()-0.5)*0.002
			if err := f.publish(ctx, k, px[k]); err != nil {
				f.mu.Lock()
				f.err = err
				f.mu.Unlock()
				return
			}
		}
	}
}

// publish publishes one price and counts the network messages it cost
// against the number of other nodes the routing table listed with
// subscribers. The table is read before and after: a publication during a
// table change is counted as published but not measured.
func (f *feed) publish(ctx context.Context, key string, price float64) error {
	before, err := f.b.Stats(exPrices)
	if err != nil {
		return err
	}
	nodes, err := f.b.Subscriptions(exPrices)
	if err != nil {
		return err
	}
	remote := 0
	for _, np := range nodes {
		if np.GetNode() != f.node {
			remote++
		}
	}
	f.mu.Lock()
	seq := f.published[key] + 1
	f.mu.Unlock()
	msg := &structpb.Struct{Fields: map[string]*structpb.Value{
		"seq": structpb.NewNumberValue(float64(seq)),
		"px":  structpb.NewNumberValue(price),
	}}
	if err := f.b.Publish(ctx, exPrices, key, msg); err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	after, err := f.b.Stats(exPrices)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published[key] = seq
	if before.Epoch == after.Epoch {
		c := f.byRemote[remote]
		if c == nil {
			c = &netCount{}
			f.byRemote[remote] = c
		}
		c.Prices++
		// A publication for a node whose link already failed (killed, not
		// yet out of the table) is dropped, not sent: it still counts as
		// the one message that node's subscribers cost.
		c.Messages += int64(after.RemoteSent-before.RemoteSent) + int64(after.RemoteDropped-before.RemoteDropped)
	}
	return nil
}

func (f *feed) stats() *feedStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &feedStats{Venue: f.venue, Published: make(map[string]int64, len(f.published)), ByRemote: make(map[int]*netCount, len(f.byRemote))}
	if f.err != nil {
		s.Err = f.err.Error()
	}
	for k, n := range f.published {
		s.Published[k] = n
	}
	for r, c := range f.byRemote {
		cc := *c
		s.ByRemote[r] = &cc
	}
	return s
}

// sessions are one node's simulated client sessions (think websocket
// connections): each subscribes to one symbol on every venue,
// "prices.*.<symbol>", through the node's point of presence of "prices".
type sessions struct {
	list      []*session
	perSymbol map[string]int
	delivered atomic.Int64
	disorder  atomic.Int64
}

// session remembers the last price number it got from each venue. Its
// subscriber actor writes; the verifier reads.
type session struct {
	symbol string
	last   []atomic.Int64 // by venue index
}

var venueIndex = func() map[string]int {
	m := map[string]int{}
	for i, v := range venues {
		m[v] = i
	}
	return m
}()

// subscribeSessions subscribes n sessions, spread evenly over the symbols.
func subscribeSessions(ctx context.Context, b *actors.Broker, n int) (*sessions, error) {
	ss := &sessions{perSymbol: map[string]int{}}
	for i := range n {
		s := &session{symbol: symbols[i%len(symbols)], last: make([]atomic.Int64, len(venues))}
		if _, err := b.SubscribeFunc(ctx, exPrices, "prices.*."+s.symbol, func(p *actors.Publication) { ss.receive(s, p) }); err != nil {
			return nil, fmt.Errorf("session %d: %w", i, err)
		}
		ss.list = append(ss.list, s)
		ss.perSymbol[s.symbol]++
	}
	return ss, nil
}

// receive runs in s's subscriber actor, one publication at a time.
func (ss *sessions) receive(s *session, p *actors.Publication) {
	ss.delivered.Add(1)
	parts := strings.Split(p.Key, ".")
	m, ok := p.Payload.(*structpb.Struct)
	if len(parts) != 3 || !ok {
		ss.disorder.Add(1)
		return
	}
	v, ok := venueIndex[parts[1]]
	if !ok {
		ss.disorder.Add(1)
		return
	}
	seq := int64(m.GetFields()["seq"].GetNumberValue())
	if seq != s.last[v].Load()+1 {
		ss.disorder.Add(1)
	}
	s.last[v].Store(seq)
}

// lost counts the prices of published (key -> count) that sessions have not
// received yet. Keys published lacks (a dead venue's) are not counted.
func (ss *sessions) lost(published map[string]int64) int64 {
	var lost int64
	for _, s := range ss.list {
		for v, venue := range venues {
			if d := published[priceKey(venue, s.symbol)] - s.last[v].Load(); d > 0 {
				lost += d
			}
		}
	}
	return lost
}

// askFeeds asks every live feed, over "quotes" (strategy default: every
// request to every handler), what
// it published: key -> publications, and the venues that answered. A dead
// node's feed does not answer: its venue is left out.
func askFeeds(ctx context.Context, b *actors.Broker) (map[string]int64, []string, error) {
	replies, err := b.RequestAll(ctx, exQuotes, &structpb.Struct{})
	if err != nil {
		return nil, nil, err
	}
	published := map[string]int64{}
	var answered []string
	for _, r := range replies {
		if r.Err != nil {
			return nil, nil, fmt.Errorf("feed %s: %w", r.From, r.Err)
		}
		s, ok := r.Payload.(*structpb.Struct)
		if !ok {
			return nil, nil, fmt.Errorf("feed %s answered %T", r.From, r.Payload)
		}
		answered = append(answered, s.GetFields()["venue"].GetStringValue())
		for k, v := range s.GetFields()["published"].GetStructValue().GetFields() {
			published[k] = int64(v.GetNumberValue())
		}
	}
	slices.Sort(answered)
	return published, answered, nil
}
