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
	// (ExchangeRecorder), it is called ProcessSample times for each call
	// timed, with that call's d, and not for the others.
	Processed(exchange string, op Operation, d time.Duration, err error)
}

// ExchangeRecorder is a Recorder bound to one exchange: what the data path
// calls, without looking the exchange up by name on every call.
type ExchangeRecorder interface {
	// Sent is Recorder.Sent for the bound exchange.
	Sent(op Operation, d time.Duration, err error)
	// Processed is told of a call of a handler (OpProcess) or subscriber
	// function (OpDeliver) of package actors that was timed: it ran for d
	// and ended with err, and it stands for weight calls as to durations
	// (ProcessSample).
	Processed(op Operation, d time.Duration, weight int, err error)
	// Untimed is told of such a call that was not timed.
	Untimed(op Operation, err error)
}

// ProcessSample is how many calls of a handler or subscriber function of
// package actors one timed call stands for: each times its first call and
// then one in ProcessSample (ExchangeRecorder.Processed, weight
// ProcessSample), and tells of the others without a duration (Untimed).
// Two clock readings a call cost a request-reply cycle on one node about
// 4% here (26 ns each); the durations' distribution needs far fewer
// samples than a busy handler has calls. Every call is still counted.
const ProcessSample = 8

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

func (b byName) Sent(op Operation, d time.Duration, err error) { b.rec.Sent(b.name, op, d, err) }

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
// the fun strategy: the call is the called exchange's). Deferred, it reads the call's error as the call returns it.
// The calls share start with their deadline's clock reading: a reading of
// the monotonic clock costs 20-50 ns on these VMs, and the readings were
// most of what metrics cost a request.
func (h *Hub) recordSent(p *point, name string, op Operation, start mono, err error) {
	d := time.Duration(monoNow() - start)
	if p != nil && p.rec != nil && p.spec.Name == name {
		p.rec.Sent(op, d, err)
		return
	}
	h.rec.Sent(name, op, d, err)
}
