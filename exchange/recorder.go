package exchange

import "time"

// Operation is a call of the data path, as Recorder is told of it. Its
// String is the messaging.operation.name of bourse's metrics.
type Operation uint8

// The operations a Recorder hears of.
const (
	OpRequest      Operation = iota // Hub.Request: "request"
	OpRequestAll                    // Hub.RequestAll: "request_all"
	OpRequestAsync                  // Hub.RequestAsync, until it is sent: "request_async"
	OpPublish                       // Hub.Publish: "publish"
	OpProcess                       // a handler answering a request (Recorder.Processed): "process"
	OpDeliver                       // a subscriber function taking a publication (Recorder.Processed): "deliver"

	// NumOperations is the number of operations: each is less.
	NumOperations
)

var operationNames = [NumOperations]string{"request", "request_all", "request_async", "publish", "process", "deliver"}

func (op Operation) String() string {
	if op < NumOperations {
		return operationNames[op]
	}
	return "unknown"
}

// Recorder is told how each call of the data path ended, for metrics
// (Config.Recorder; internal/metrics is the one bourse has). With none, the
// data path pays one nil check per call and reads no clock.
//
// Its methods are called on the callers' goroutines, concurrently, on the
// data path: they must be quick, never block and never call the Hub.
type Recorder interface {
	// Sent is called when a Request, RequestAll, RequestAsync or Publish
	// on exchange returns: d is how long it took, err what it returned
	// (nil on success).
	Sent(exchange string, op Operation, d time.Duration, err error)
	// Processed is called when a handler of package actors has answered a
	// request (op OpProcess), or a subscriber function has returned (op
	// OpDeliver): d is how long it ran, err the handler's error (nil on
	// success). Unless the Recorder is a Binder, which hears of samples
	// (ExchangeRecorder), it is called weight times for each call timed
	// (SampleOneIn for a fast one), with that call's d, and not for the
	// others.
	Processed(exchange string, op Operation, d time.Duration, err error)
}

// ExchangeRecorder is a Recorder bound to one exchange: what the data path
// calls, without looking the exchange up by name on every call.
//
// It decides which calls are timed. Reading the monotonic clock costs
// 20-50 ns on these VMs, and two readings a call were most of what metrics
// cost a request-reply cycle of 1.4 µs on one node: calls faster than
// SampleBelow are timed one in SampleOneIn, each standing for SampleOneIn
// calls as to durations (weight); slower ones, whose clock readings cost
// nothing in comparison, every time. Every call is counted, timed or not.
type ExchangeRecorder interface {
	// Timing is asked when a call of op ends: how many calls its duration
	// stands for (its weight) if it is timed, 0 if it is not (the hub
	// then does not read the clock, and calls Untimed).
	Timing(op Operation) (weight int)
	// Sent is Recorder.Sent for the bound exchange, of a call that was
	// timed with weight (Timing).
	Sent(op Operation, d time.Duration, weight int, err error)
	// Processed is told of a call of a handler (OpProcess) or subscriber
	// function (OpDeliver) of package actors that was timed: it ran for d
	// and ended with err, and it stands for weight calls as to durations.
	Processed(op Operation, d time.Duration, weight int, err error)
	// Untimed is told of a call that was not timed, of any operation.
	Untimed(op Operation, err error)
}

// Sampling of durations (ExchangeRecorder): calls that take less than
// SampleBelow are timed one in SampleOneIn; the others every time. A
// handler or subscriber function of package actors times its first call,
// then every call while they take SampleBelow or more, and otherwise one in
// SampleOneIn, which stands for itself and the calls not timed since the
// last one timed. The durations' distribution needs far fewer samples than
// a busy exchange has calls.
const (
	SampleOneIn = 8
	SampleBelow = 50 * time.Microsecond // the first bucket of the duration histograms
)

// Binder is implemented by a Recorder that binds itself to an exchange
// (internal/metrics' does): the hub asks once per exchange. Any other
// Recorder is bound by name (BindRecorder).
type Binder interface {
	Bind(exchange string) ExchangeRecorder
}

// BindRecorder returns rec bound to exchange name: rec's own binding when
// it is a Binder, otherwise one that passes name on each call. It returns
// nil when rec is nil.
func BindRecorder(rec Recorder, name string) ExchangeRecorder {
	switch r := rec.(type) {
	case nil:
		return nil
	case Binder:
		return r.Bind(name)
	default:
		return byName{rec: rec, name: name}
	}
}

// byName binds a Recorder that does not bind itself.
type byName struct {
	rec  Recorder
	name string
}

// Timing times every call: a Recorder bound by name hears of each.
func (byName) Timing(Operation) int { return 1 }

func (b byName) Sent(op Operation, d time.Duration, weight int, err error) {
	for range max(weight, 1) {
		b.rec.Sent(b.name, op, d, err)
	}
}

// Processed tells a Recorder of weight calls that ran for d, since it
// knows nothing of samples.
func (b byName) Processed(op Operation, d time.Duration, weight int, err error) {
	for range max(weight, 1) {
		b.rec.Processed(b.name, op, d, err)
	}
}

func (b byName) Untimed(Operation, error) {}

// Recorder returns Config.Recorder (nil: none).
func (h *Hub) Recorder() Recorder { return h.rec }

// recordSent tells the Recorder (not nil) how a call that started at start
// ended: through p's bound recorder once the call found its exchange's
// point (no lookup by name), by name when it did not (an unknown
// exchange, no handlers) or routed it to another exchange (a redirect of
// the fun strategy: the call is the called exchange's). Deferred, it reads
// the call's error as the call returns it. The bound recorder decides
// whether the call is timed (ExchangeRecorder.Timing): the clock is read
// at its end only then. The start shares the reading of the call's
// deadline.
func (h *Hub) recordSent(p *point, name string, op Operation, start mono, err error) {
	if p != nil && p.rec != nil && p.spec.Name == name {
		w := p.rec.Timing(op)
		if w == 0 {
			p.rec.Untimed(op, err)
			return
		}
		p.rec.Sent(op, time.Duration(monoNow()-start), w, err)
		return
	}
	h.rec.Sent(name, op, time.Duration(monoNow()-start), err)
}
