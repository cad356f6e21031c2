package status

import (
	"sync"
	"time"

	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/internal/metrics"
)

// sampler keeps the last two samples of the counters; the rates and
// latencies the documents show are their differences.
type sampler struct {
	mu        sync.Mutex
	prev, cur *sample
}

// sample is the counters at one time.
type sample struct {
	at        time.Time
	exchanges map[string]*exchangeSample
	peers     map[string]exchange.LinkPeerStats // by data-link address
}

type exchangeSample struct {
	stats exchange.Stats
	ops   map[exchange.Operation]metrics.Totals
}

// take reads the counters now and makes them the current sample.
func (sm *sampler) take(cfg Config, now time.Time) {
	x := &sample{at: now, exchanges: map[string]*exchangeSample{}, peers: map[string]exchange.LinkPeerStats{}}
	for _, sp := range cfg.Broker.Exchanges() {
		es := &exchangeSample{ops: map[exchange.Operation]metrics.Totals{}}
		es.stats, _ = cfg.Broker.Stats(sp.Name)
		x.exchanges[sp.Name] = es
	}
	if cfg.Calls != nil {
		for _, t := range cfg.Calls.Totals() {
			if es := x.exchanges[t.Exchange]; es != nil {
				es.ops[t.Op] = t
			}
		}
	}
	for _, p := range cfg.Broker.LinkPeers() {
		x.peers[p.Peer] = p
	}
	sm.mu.Lock()
	sm.prev, sm.cur = sm.cur, x
	sm.mu.Unlock()
}

// pair returns the last two samples, nil until there are two.
func (sm *sampler) pair() (prev, cur *sample) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.prev, sm.cur
}

// exchange fills d's totals of calls from the current sample, and its
// rates and latencies from the last two.
func (sm *sampler) exchange(name string, d *ExchangeDoc) {
	prev, cur := sm.pair()
	if cur == nil {
		return
	}
	c := cur.exchanges[name]
	if c == nil {
		return
	}
	for op, t := range c.ops {
		switch op {
		case exchange.OpRequest, exchange.OpRequestAll, exchange.OpRequestAsync:
			d.Stats.Requests += t.Calls
			d.Stats.Failed += t.Failed
		case exchange.OpProcess:
			d.Stats.Processed += t.Calls
		}
	}
	if prev == nil {
		return
	}
	p := prev.exchanges[name]
	secs := cur.at.Sub(prev.at).Seconds()
	if p == nil || secs <= 0 {
		return
	}
	rate := func(a, b uint64) float64 {
		if a < b {
			return 0
		}
		return float64(a-b) / secs
	}
	d.Rates.Publications = rate(c.stats.Published, p.stats.Published)
	d.Rates.Deliveries = rate(c.stats.Delivered, p.stats.Delivered)
	d.Rates.Received = rate(c.stats.Received, p.stats.Received)
	for op, t := range c.ops {
		was := p.ops[op]
		switch op {
		case exchange.OpRequest, exchange.OpRequestAll, exchange.OpRequestAsync:
			d.Rates.Requests += rate(t.Calls, was.Calls)
			d.Rates.Failed += rate(t.Failed, was.Failed)
		case exchange.OpProcess:
			d.Rates.Processed += rate(t.Calls, was.Calls)
		}
		if l, ok := latency(t, was); ok {
			d.Latency[op.String()] = l
		}
	}
}

// peer fills d's byte rates from the last two samples.
func (sm *sampler) peer(addr string, d *PeerDoc) {
	prev, cur := sm.pair()
	if prev == nil {
		return
	}
	c, ok1 := cur.peers[addr]
	p, ok2 := prev.peers[addr]
	secs := cur.at.Sub(prev.at).Seconds()
	if !ok1 || !ok2 || secs <= 0 {
		return
	}
	if c.BytesSent >= p.BytesSent { // less: a new connection, counted from zero
		d.SentPerS = float64(c.BytesSent-p.BytesSent) / secs
	}
	if c.BytesReceived >= p.BytesReceived {
		d.ReceivedPerS = float64(c.BytesReceived-p.BytesReceived) / secs
	}
}

// latency summarises the calls between two totals; ok is false when there
// were none, or none was timed (fast calls are timed one in
// exchange.SampleOneIn: the mean is over the buckets' weighted count).
func latency(cur, prev metrics.Totals) (LatencyDoc, bool) {
	if cur.Calls <= prev.Calls {
		return LatencyDoc{}, false
	}
	var b [metrics.NumBuckets]uint64
	var timed uint64
	for i := range b {
		if cur.Buckets[i] > prev.Buckets[i] {
			b[i] = cur.Buckets[i] - prev.Buckets[i]
			timed += b[i]
		}
	}
	if timed == 0 {
		return LatencyDoc{}, false
	}
	n := cur.Calls - prev.Calls
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return LatencyDoc{
		Calls:  n,
		MeanMS: ms(cur.Sum-prev.Sum) / float64(timed),
		P50MS:  quantile(b[:], 0.50) * 1000,
		P99MS:  quantile(b[:], 0.99) * 1000,
	}, true
}

// bounds are the histogram's bucket bounds, in seconds.
var bounds = metrics.DurationBounds()

// quantile estimates quantile q (0..1) of the durations counted in
// buckets, in seconds, interpolating linearly within the bucket it falls
// in (from 0 for the first; the last, unbounded one reads as its lower
// bound).
func quantile(buckets []uint64, q float64) float64 {
	var n uint64
	for _, c := range buckets {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	var seen float64
	for i, c := range buckets {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			if i >= len(bounds) {
				return lo
			}
			return lo + (bounds[i]-lo)*(rank-seen)/float64(c)
		}
		seen += float64(c)
	}
	return bounds[len(bounds)-1]
}
