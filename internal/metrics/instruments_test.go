package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestSentRecords checks one Sent's counter and histogram, with error.type
// by sentinel, through a manual reader.
func TestSentRecords(t *testing.T) {
	in := New()
	rd := observed(t, in, noExchanges{}) // messaging.client.sent.messages is observable
	in.Sent("orders", exchange.OpRequest, 3*time.Millisecond, nil)
	in.Sent("orders", exchange.OpRequest, time.Millisecond, &exchange.RequestError{Exchange: "orders", Err: exchange.ErrNoHandlers})
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{} // metric|error.type -> count
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					et, _ := p.Attributes.Value(ErrorType)
					got[m.Name+"|"+et.AsString()] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					et, _ := p.Attributes.Value(ErrorType)
					got[m.Name+"|"+et.AsString()] += int64(p.Count)
					if len(p.Bounds) != 17 || p.Bounds[0] != 0.00005 || p.Bounds[16] != 10 {
						t.Errorf("%s: bounds %v, want 50 µs to 10 s", m.Name, p.Bounds)
					}
					if et.AsString() == "" && (p.BucketCounts[6] != 1 || p.Sum != 0.003) {
						t.Errorf("%s: 3 ms went to buckets %v, sum %v; want the 6th (2.5-5 ms), 0.003", m.Name, p.BucketCounts, p.Sum)
					}
				}
			}
		}
	}
	for _, k := range []string{ClientSentMessages + "|", ClientSentMessages + "|no_handlers", ClientOperationDuration + "|", ClientOperationDuration + "|no_handlers"} {
		if got[k] != 1 {
			t.Errorf("%s: %d, want 1 (all: %v)", k, got[k], got)
		}
	}
}

// TestProcessedSamples: a handler's timed call stands for SampleOneIn
// calls in the duration histogram, while bourse.process.messages counts
// every call exactly, failed ones apart.
func TestProcessedSamples(t *testing.T) {
	in := New()
	rd := observed(t, in, noExchanges{})
	rec := in.Bind("orders")
	const w = exchange.SampleOneIn
	rec.Processed(exchange.OpProcess, 3*time.Millisecond, w, nil) // 1 timed ...
	for range w - 1 {
		rec.Untimed(exchange.OpProcess, nil) // ... and w-1 not
	}
	rec.Untimed(exchange.OpProcess, errors.New("boom")) // a failure not timed
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					et, _ := p.Attributes.Value(ErrorType)
					got[m.Name+"|"+et.AsString()] += float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					et, _ := p.Attributes.Value(ErrorType)
					got[m.Name+"|"+et.AsString()] += float64(p.Count)
					got[m.Name+"|sum"] += p.Sum
				}
			}
		}
	}
	want := map[string]float64{
		ProcessMessages + "|":         w,
		ProcessMessages + "|handler":  1,
		ProcessDuration + "|":         w,
		ProcessDuration + "|sum":      w * 0.003,
		ProcessDuration + "|handler":  0,
		ClientSentMessages + "|":      0,
		ClientOperationDuration + "|": 0,
	}
	for k, v := range want {
		if d := got[k] - v; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	tot := in.Totals()
	if len(tot) != 1 || tot[0].Calls != w+1 || tot[0].Failed != 1 {
		t.Fatalf("totals %+v, want %d calls, 1 failed", tot, w+1)
	}
}

// observed registers in's instruments, observing src, on a meter provider
// with a manual reader, all stopped at the test's end, and returns the
// reader.
func observed(t *testing.T, in *Instruments, src Source) *sdkmetric.ManualReader {
	t.Helper()
	rd := sdkmetric.NewManualReader(sdkmetric.WithProducer(in))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rd))
	stop, err := in.Observe(mp, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stop()
		_ = mp.Shutdown(context.Background())
	})
	return rd
}

// noExchanges is a Source with no exchange and no data link.
type noExchanges struct{}

func (noExchanges) Exchanges() []exchange.Spec { return nil }
func (noExchanges) Stats(name string) (exchange.Stats, error) {
	return exchange.Stats{}, exchange.ErrUnknownExchange
}
func (noExchanges) Handlers(name string) ([]*boursepb.HandlerInfo, error) {
	return nil, exchange.ErrUnknownExchange
}
func (noExchanges) LinkStats() (exchange.LinkStats, bool) { return exchange.LinkStats{}, false }
func (noExchanges) LinkPeers() []exchange.LinkPeerStats   { return nil }

// BenchmarkSent is what a request pays for its metrics when they are on:
// two atomic adds into a stripe of its measurement's histogram, found in a
// sync.Map (by name; the data path holds its exchange's measurements and
// skips the lookup), from parallel callers.
func BenchmarkSent(b *testing.B) {
	in := New()
	fail := &exchange.RequestError{Exchange: "orders", Err: exchange.ErrTimeout}
	for _, tc := range []struct {
		name string
		err  error
	}{{"ok", nil}, {"failed", fail}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					in.Sent("orders", exchange.OpRequest, 25*time.Microsecond, tc.err)
				}
			})
		})
	}
}

// oneFeed is a Source with one pub-sub exchange whose counters are set.
type oneFeed struct {
	noExchanges
	st exchange.Stats
}

func (oneFeed) Exchanges() []exchange.Spec {
	return []exchange.Spec{{Name: "prices", Kind: exchange.PubSub}}
}
func (f oneFeed) Stats(string) (exchange.Stats, error) { return f.st, nil }

// TestDropReasons: bourse.dropped.messages has one sample per reason,
// overflow (a subscriber had its limit pending) among them.
func TestDropReasons(t *testing.T) {
	in := New()
	rd := observed(t, in, oneFeed{st: exchange.Stats{Unrouted: 1, RemoteDropped: 2, Overflowed: 3}})
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == Dropped {
				for _, p := range d.DataPoints {
					r, _ := p.Attributes.Value(DropReason)
					got[r.AsString()] += p.Value
				}
			}
		}
	}
	if got["no_subscribers"] != 1 || got["node_down"] != 2 || got["overflow"] != 3 {
		t.Errorf("drops by reason %v, want no_subscribers 1, node_down 2, overflow 3", got)
	}
}

// oneLink is a Source with a data link to two peers, one of which has a
// round-trip time.
type oneLink struct{ noExchanges }

func (oneLink) LinkStats() (exchange.LinkStats, bool) {
	return exchange.LinkStats{FramesSent: 1, FramesReceived: 2, BytesSent: 3, BytesReceived: 4, Writes: 5, PeerFailures: 6}, true
}
func (oneLink) LinkPeers() []exchange.LinkPeerStats {
	return []exchange.LinkPeerStats{
		{Peer: "10.0.0.2:7000", Out: true, RTT: 300 * time.Microsecond, SmoothedRTT: 250 * time.Microsecond, RTTAt: time.Now()},
		{Peer: "10.0.0.3:7000", In: true}, // no sample yet
	}
}

// TestLinkMetrics: the data link's counters by direction, and the smoothed
// round-trip time of each peer that has one, in seconds.
func TestLinkMetrics(t *testing.T) {
	in := New()
	rd := observed(t, in, oneLink{})
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{} // metric|direction or peer -> value
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					dir, _ := p.Attributes.Value(LinkDirection)
					got[m.Name+"|"+dir.AsString()] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				if m.Unit != "s" {
					t.Errorf("%s: unit %q, want s", m.Name, m.Unit)
				}
				for _, p := range d.DataPoints {
					peer, _ := p.Attributes.Value(LinkPeer)
					got[m.Name+"|"+peer.AsString()] = p.Value
				}
			}
		}
	}
	want := map[string]float64{
		LinkFrames + "|sent": 1, LinkFrames + "|received": 2, LinkBytes + "|sent": 3, LinkBytes + "|received": 4,
		LinkWrites + "|": 5, LinkBroken + "|": 6, LinkRoundTrip + "|10.0.0.2:7000": 0.00025,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got[LinkRoundTrip+"|10.0.0.3:7000"]; ok {
		t.Errorf("a round-trip time for a peer without a sample: %v", got)
	}
}

// TestClientTiming: a client's calls are all timed until one took less
// than exchange.SampleBelow; then about one in exchange.SampleOneIn is,
// standing for SampleOneIn, so the histogram's count estimates the calls
// while messaging.client.sent.messages counts them exactly; a slow call
// makes every call timed again.
func TestClientTiming(t *testing.T) {
	in := New()
	rec := in.Bind("orders")
	if w := rec.Timing(exchange.OpRequest); w != 1 {
		t.Fatalf("first call: weight %d, want 1 (timed)", w)
	}
	rec.Sent(exchange.OpRequest, 2*time.Microsecond, 1, nil)
	const calls = 80000
	timed, weights := 0, 0
	for range calls {
		w := rec.Timing(exchange.OpRequest)
		switch w {
		case 0:
			rec.Untimed(exchange.OpRequest, nil)
		case exchange.SampleOneIn:
			timed++
			weights += w
			rec.Sent(exchange.OpRequest, 2*time.Microsecond, w, nil)
		default:
			t.Fatalf("weight %d of a fast call, want 0 or %d", w, exchange.SampleOneIn)
		}
	}
	// One in 8 at random: 10,000 expected, σ ≈ 94.
	if want := calls / exchange.SampleOneIn; timed < want-600 || timed > want+600 {
		t.Fatalf("%d of %d fast calls timed, want about %d", timed, calls, want)
	}
	tot := in.Totals()
	if len(tot) != 1 || tot[0].Calls != calls+1 {
		t.Fatalf("totals %+v, want %d calls exactly", tot, calls+1)
	}
	var counted uint64
	for _, n := range tot[0].Buckets {
		counted += n
	}
	if counted != uint64(weights+1) {
		t.Fatalf("histogram counts %d, want the weights' sum %d", counted, weights+1)
	}
	// A slow call: every call is timed again, for itself.
	rec.Sent(exchange.OpRequest, time.Millisecond, exchange.SampleOneIn, nil)
	for range 100 {
		if w := rec.Timing(exchange.OpRequest); w != 1 {
			t.Fatalf("after a slow call: weight %d, want 1", w)
		}
	}
	// A failure's duration does not change the mode.
	rec.Sent(exchange.OpRequest, time.Microsecond, 1, errors.New("boom"))
	if w := rec.Timing(exchange.OpRequest); w != 1 {
		t.Fatalf("after a fast failure: weight %d, want 1", w)
	}
}
