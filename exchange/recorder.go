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
	// success).
	Processed(exchange string, op Operation, d time.Duration, err error)
}

// Recorder returns Config.Recorder (nil: none).
func (h *Hub) Recorder() Recorder { return h.rec }
