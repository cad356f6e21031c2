package metrics

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	_ "unsafe" // go:linkname
)

// ScopeName is the instrumentation scope of bourse's observable
// instruments; DataPathScopeName that of the duration histograms, which
// Instruments produces itself (a scope of their own: the Prometheus
// exporter writes one otel_scope_info per scope it is given, and refuses
// the same one twice).
const (
	ScopeName         = "github.com/bourse-go/bourse"
	DataPathScopeName = "github.com/bourse-go/bourse/data-path"
)

// Instruments are one node's measurements of its data path. As an
// exchange.Recorder (Config.Recorder) it counts the calls and records
// their durations; as an sdkmetric.Producer it hands the duration
// histograms to a reader (Listen does), and Observe adds the counters.
// Its methods are safe for concurrent use.
//
// The histograms are its own, not the SDK's: measured here, the pinned
// SDK's Float64Histogram.Record costs about 200 ns (hashing the attribute
// set into its map, under a lock), twice per request, where an atomic add
// into a bucket costs a tenth of it. They are exported as OpenTelemetry
// cumulative explicit-bucket histograms all the same.
type Instruments struct {
	start     time.Time
	exchanges sync.Map // exchange name -> *exchangeMeasurements
}

// exchangeMeasurements are one exchange's measurements: the successful
// calls' by operation, made with it, and the failed ones' as they come.
// It is the exchange.ExchangeRecorder that Bind returns: the data path
// holds it, and looks nothing up by name.
type exchangeMeasurements struct {
	name   string
	ok     [exchange.NumOperations]*measurement
	failed sync.Map // failKey -> *measurement
}

// failKey identifies the measurement of failed calls.
type failKey struct {
	op   exchange.Operation
	code boursepb.Code
}

var (
	_ exchange.Recorder         = (*Instruments)(nil)
	_ exchange.Binder           = (*Instruments)(nil)
	_ exchange.ExchangeRecorder = (*exchangeMeasurements)(nil)
	_ sdkmetric.Producer        = (*Instruments)(nil)
)

// New makes a node's instruments.
func New() *Instruments { return &Instruments{start: time.Now()} }

// measurement is one attribute set: the count of its calls, exact
// (messaging.client.sent.messages, or for OpProcess and OpDeliver
// bourse.process.messages), which an observable counter reads (Observe),
// and the durations of messaging.client.operation.duration or
// messaging.process.duration (of every call for the client's; of one in
// exchange.SampleOneIn of the fast ones, weighted, and of every slow one:
// exchange.SampleBelow).
//
// Its counters are striped: each call adds into the copy of the P (the
// scheduler's processor, so the core) that runs it, and readers sum them.
// With one copy, or with a copy picked at random, callers on different
// cores took turns owning the same cache lines, and a request with 10
// callers on 2 cores paid more for that than for the rest of its metrics.
type measurement struct {
	set     attribute.Set
	process bool
	// fast: the last call of a client's operation timed took less than
	// exchange.SampleBelow, so its next ones are timed one in
	// exchange.SampleOneIn (Timing). Written only when it changes: every
	// caller reads it.
	fast    atomic.Bool
	stripes []stripe // numStripes of them
}

// numStripes is the number of copies of a measurement's counters: a power
// of two, one per P (GOMAXPROCS when the package was loaded) up to 32;
// beyond, Ps share them.
var numStripes = func() int {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < 32 {
		n *= 2
	}
	return n
}()

// stripe is one copy of a measurement's counters, padded so that two
// stripes never share a cache line (nor the pair of lines that x86
// prefetches together), however the measurement is aligned.
type stripe struct {
	calls atomic.Int64 // every call, timed or not
	hist  histogram    // the timed calls' durations, weighted
	_     [stripePad]byte
}

// stripePad pads a stripe to a multiple of 128 bytes.
const stripePad = 128 - (8+8*(len(durationBounds)+1)+8)%128

// histogram counts durations in durationBounds' buckets.
type histogram struct {
	counts [len(durationBounds) + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// boundNanos are durationBounds in nanoseconds.
var boundNanos = func() (b [len(durationBounds)]int64) {
	for i, s := range durationBounds {
		b[i] = int64(s * 1e9)
	}
	return b
}()

// record counts one duration d, standing for weight of them.
func (h *histogram) record(d time.Duration, weight int) {
	i := 0
	for i < len(boundNanos) && int64(d) > boundNanos[i] {
		i++
	}
	h.counts[i].Add(uint64(weight))
	h.sum.Add(int64(d) * int64(weight))
}

// stripe returns the stripe of the P running the caller. The caller may
// move to another P before it adds: rare, and the adds are atomic anyway.
func (m *measurement) stripe() *stripe {
	p := procPin()
	procUnpin()
	return &m.stripes[p&(len(m.stripes)-1)]
}

// procPin and procUnpin are the runtime's, as sync.Pool uses them: the
// only way to learn which P runs a goroutine. The runtime keeps them for
// the packages that link to them (go.dev/issue/67401).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// snapshot is a measurement's counters, summed over its stripes.
type snapshot struct {
	calls   int64 // exactly; the buckets' total is an estimate of it
	sum     time.Duration
	buckets [len(durationBounds) + 1]uint64
}

// read sums m's stripes, without a lock: a call that ends meanwhile may be
// counted in some fields and not yet in others.
func (m *measurement) read() snapshot {
	var s snapshot
	for i := range m.stripes {
		st := &m.stripes[i]
		s.calls += st.calls.Load()
		s.sum += time.Duration(st.hist.sum.Load())
		for j := range st.hist.counts {
			s.buckets[j] += st.hist.counts[j].Load()
		}
	}
	return s
}

// Sent implements exchange.Recorder: one call, timed.
func (in *Instruments) Sent(name string, op exchange.Operation, d time.Duration, err error) {
	in.exchange(name).Sent(op, d, 1, err)
}

// Processed implements exchange.Recorder: one call, timed.
func (in *Instruments) Processed(name string, op exchange.Operation, d time.Duration, err error) {
	in.exchange(name).Processed(op, d, 1, err)
}

// Bind implements exchange.Binder: the measurements of exchange name,
// made once.
func (in *Instruments) Bind(name string) exchange.ExchangeRecorder { return in.exchange(name) }

// Timing implements exchange.ExchangeRecorder: while the exchange's
// successful calls of op are fast, one in exchange.SampleOneIn, at random
// (callers share no counter), stands for SampleOneIn; otherwise every
// call is timed.
func (em *exchangeMeasurements) Timing(op exchange.Operation) int {
	if op < exchange.NumOperations && em.ok[op].fast.Load() {
		if rand.Uint32()%exchange.SampleOneIn == 0 {
			return exchange.SampleOneIn
		}
		return 0
	}
	return 1
}

// Sent implements exchange.ExchangeRecorder.
func (em *exchangeMeasurements) Sent(op exchange.Operation, d time.Duration, weight int, err error) {
	m := em.measurement(op, err)
	st := m.stripe()
	st.calls.Add(1)
	st.hist.record(d, max(weight, 1))
	if err == nil {
		if fast := d < exchange.SampleBelow; fast != m.fast.Load() {
			m.fast.Store(fast)
		}
	}
}

// Processed implements exchange.ExchangeRecorder.
func (em *exchangeMeasurements) Processed(op exchange.Operation, d time.Duration, weight int, err error) {
	st := em.measurement(op, err).stripe()
	st.calls.Add(1)
	st.hist.record(d, max(weight, 1))
}

// Untimed implements exchange.ExchangeRecorder.
func (em *exchangeMeasurements) Untimed(op exchange.Operation, err error) {
	em.measurement(op, err).stripe().calls.Add(1)
}

// measurement returns the measurement of (op, err), made once per
// distinct pair: error codes are few.
func (em *exchangeMeasurements) measurement(op exchange.Operation, err error) *measurement {
	if op >= exchange.NumOperations {
		op = exchange.NumOperations // "unknown", among the failed ones' map
	} else if err == nil {
		return em.ok[op]
	}
	k := failKey{op: op, code: -1}
	if err != nil {
		k.code = exchange.CodeOf(err)
	}
	if v, ok := em.failed.Load(k); ok {
		return v.(*measurement)
	}
	v, _ := em.failed.LoadOrStore(k, newMeasurement(em.name, op, k.code))
	return v.(*measurement)
}

// exchange returns name's measurements.
func (in *Instruments) exchange(name string) *exchangeMeasurements {
	if v, ok := in.exchanges.Load(name); ok {
		return v.(*exchangeMeasurements)
	}
	em := &exchangeMeasurements{name: name}
	for op := range em.ok {
		em.ok[op] = newMeasurement(name, exchange.Operation(op), -1)
	}
	v, _ := in.exchanges.LoadOrStore(name, em)
	return v.(*exchangeMeasurements)
}

// newMeasurement makes the measurement of calls of op on exchange name
// that failed with code (-1: succeeded).
func newMeasurement(name string, op exchange.Operation, code boursepb.Code) *measurement {
	kv := []attribute.KeyValue{System, MessagingDestinationName.String(name), MessagingOperationName.String(op.String())}
	if code >= 0 {
		kv = append(kv, ErrorType.String(ErrorTypeOf(code)))
	}
	return &measurement{set: attribute.NewSet(kv...), process: op == exchange.OpProcess || op == exchange.OpDeliver,
		stripes: make([]stripe, numStripes)}
}

// each calls fn with every measurement.
func (in *Instruments) each(fn func(*measurement)) {
	in.exchanges.Range(func(_, v any) bool {
		em := v.(*exchangeMeasurements)
		for _, m := range em.ok {
			fn(m)
		}
		em.failed.Range(func(_, v any) bool {
			fn(v.(*measurement))
			return true
		})
		return true
	})
}

// Produce implements sdkmetric.Producer: the duration histograms,
// cumulative since New.
func (in *Instruments) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	bounds := durationBounds[:]
	var client, process []metricdata.HistogramDataPoint[float64]
	in.each(func(m *measurement) {
		s := m.read()
		dp := metricdata.HistogramDataPoint[float64]{
			Attributes: m.set, StartTime: in.start, Time: now, Bounds: bounds,
			BucketCounts: s.buckets[:],
		}
		for _, n := range s.buckets {
			dp.Count += n
		}
		if dp.Count == 0 {
			return
		}
		dp.Sum = s.sum.Seconds()
		if m.process {
			process = append(process, dp)
		} else {
			client = append(client, dp)
		}
	})
	var ms []metricdata.Metrics
	for _, h := range []struct {
		name, desc string
		dps        []metricdata.HistogramDataPoint[float64]
	}{
		{ClientOperationDuration, "Duration of a request (until its reply or error) or a publication (until it is handed over).", client},
		{ProcessDuration, "Duration of a handler answering a request, or of a subscriber function taking a publication.", process},
	} {
		if len(h.dps) > 0 {
			ms = append(ms, metricdata.Metrics{Name: h.name, Description: h.desc, Unit: "s",
				Data: metricdata.Histogram[float64]{DataPoints: h.dps, Temporality: metricdata.CumulativeTemporality}})
		}
	}
	if len(ms) == 0 {
		return nil, nil
	}
	return []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: DataPathScopeName}, Metrics: ms}}, nil
}

// ErrorTypeOf is the error.type of an error of code c: the sentinel's
// short name ("no_handlers" for ErrNoHandlers, "timeout", "node_down"...),
// "handler" for a handler's own failure.
func ErrorTypeOf(c boursepb.Code) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "CODE_"))
}
