package exchange

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// Request is what a handler actor receives for each request routed to it. The
// handler answers exactly once, with Respond or Fail, from any goroutine; later
// answers are ignored. Until it is answered (or dropped, DropExpired, or
// discarded, Discard) it counts among its handler's requests in flight,
// which are bounded (Concurrency, QueueLimit). A Request must not be
// modified.
type Request struct {
	// Exchange is the exchange the request came through.
	Exchange string
	// ConnTag is the tag of the handler's connection the request was routed
	// through (a handler connected several times tells them apart by it).
	ConnTag string
	// ServiceTag is the service tag the caller addressed ("" for any).
	ServiceTag string
	// Tag is the caller's request tag; it comes back with the reply.
	Tag string
	// Key is the caller's routing key (what sticky strategies hash).
	Key string
	// Payload is the caller's message (or the fun strategy's replacement).
	Payload proto.Message

	from     string // connection id of the handler it was routed to
	corr     uint64 // the caller's correlation id, 0 for asynchronous requests
	answered atomic.Bool
	// deadline is the caller's, zero for none (see Deadline).
	deadline mono
	// expired is the counter of Stats.Expired of the exchange's point on
	// this node; nil when the point is gone, or for a request from another
	// node without a deadline (which cannot expire: nothing looks it up).
	expired *atomic.Uint64
	// load counts the request in its handler's requests in flight until
	// it is answered or dropped (capacity.go); nil when not counted.
	load *load
	// replier takes the answer to the caller, wherever it waits: a
	// *localReply or a *remoteReply (carriage.go), nil when there is no one
	// to answer.
	replier replier
	// reqCtxState backs Context (reqctx.go).
	reqCtxState
}

// replier is how a Request's answer reaches its caller. Each kind comes in
// one allocation with its Request (localRequest, remoteRequest), so that
// answering costs a request nothing more than its Reply.
type replier interface {
	reply(r *Request, payload proto.Message, err error)
}

// localReply answers a caller on this node: a *Reply to the hub's inbox,
// which hands it to the blocking caller's call, or to RequestAsync's actor.
type localReply struct {
	root    *actor.RootContext
	replyTo *actor.PID
	call    *call // the blocking caller's call, nil for asynchronous requests
}

func (l *localReply) reply(r *Request, payload proto.Message, err error) {
	if c := l.call; c != nil && c.pooled {
		// A blocking Request's call, on this node: the answer goes into
		// it, once claimed (pooled is fixed for a call's life; a call
		// closed or reused since has another state, and the claim fails).
		if c.state.CompareAndSwap(r.corr, 0) {
			c.reply = Reply{Exchange: r.Exchange, Tag: r.Tag, From: r.from, Payload: payload, Err: err, corr: r.corr, call: c}
			c.ch <- &c.reply
		}
		return
	}
	l.root.Send(l.replyTo, &Reply{Exchange: r.Exchange, Tag: r.Tag, From: r.from, Payload: payload, Err: err, corr: r.corr, call: l.call})
}

// localRequest is a Request from a caller on this node, with its replier.
type localRequest struct {
	Request
	via localReply
}

// newLocalRequest returns r's Request, set to answer through r.via.
func newLocalRequest(r *localRequest) *Request {
	r.replier = &r.via
	return &r.Request
}

// Deadline returns the caller's deadline, and false when the request has
// none. A blocking caller's deadline is the earlier of its context's and the
// end of its WithTimeout; RequestAsync's is the end of its WithTimeout, when
// given. On the caller's node it is the caller's own; on another node it is
// this node's time on arrival plus the time the caller had left when it
// sent the request: later than the caller's by the time in transit, never
// earlier, and independent of the time of day on either node (only the
// rates of their clocks must agree, see docs/guarantees.md).
func (r *Request) Deadline() (deadline time.Time, ok bool) {
	if r.deadline == 0 {
		return time.Time{}, false
	}
	return r.deadline.time(), true
}

// HasDeadline reports whether r carries a deadline (Deadline), without
// reading a clock.
func (r *Request) HasDeadline() bool { return r.deadline != 0 }

// PastDeadline reports whether r has a deadline and it has passed.
func (r *Request) PastDeadline() bool { return r.deadline != 0 && monoNow() >= r.deadline }

// DropExpired drops r when its deadline has passed, and reports whether it
// did. A dropped request is counted in its exchange's Stats.Expired on this
// node and marked answered without an answer being sent: Respond and Fail
// then do nothing, and the caller, which gave up at its deadline (no later
// than this node's, see Deadline), receives nothing. A request without a
// deadline, or still in time, is left alone. An actors.Service calls it
// before its handler; a handler actor of its own (Connect) may call it
// whenever it picks a request up, or read Deadline and decide for itself.
// It may be called from any goroutine.
func (r *Request) DropExpired() bool {
	if r.deadline == 0 || r.callerWaits() || monoNow() < r.deadline {
		return false
	}
	if !r.answered.CompareAndSwap(false, true) {
		return false // already answered: not dropped now
	}
	if r.expired != nil {
		r.expired.Add(1)
	}
	if r.load != nil {
		r.load.release()
	}
	r.answeredNow()
	return true
}

// callerWaits reports whether r's caller is a blocking call on this node
// that still waits for the answer. Its deadline has not passed then, as far
// as anyone can tell: the call stops waiting at its deadline, at once or
// as soon as its goroutine runs. Asking costs an atomic load where reading
// the clock costs 20-50 ns, on a handler's every request.
func (r *Request) callerWaits() bool {
	lr, ok := r.replier.(*localReply)
	return ok && lr.call != nil && lr.call.state.Load() == r.corr
}

// Discard marks r answered without sending anything, for a handler that
// decides not to answer (its caller gave up), and reports whether it did
// (false when r was already answered). Like an answer, it frees r's place
// among its handler's requests in flight (Concurrency, QueueLimit): a
// request that is never answered, dropped or discarded keeps its place for
// good. It may be called from any goroutine.
func (r *Request) Discard() bool {
	if !r.answered.CompareAndSwap(false, true) {
		return false
	}
	if r.load != nil {
		r.load.release()
	}
	r.answeredNow()
	return true
}

// Respond sends payload back to the caller. It reports false when the request
// was already answered.
func (r *Request) Respond(payload proto.Message) bool {
	return r.answer(payload, nil)
}

// Fail sends err back to the caller. Sentinel errors of this package keep
// their identity; any other error reaches the caller as a *HandlerError with
// err's message.
func (r *Request) Fail(err error) bool {
	if err == nil {
		err = &HandlerError{Exchange: r.Exchange, Message: "handler failed with a nil error"}
	}
	return r.answer(nil, err)
}

func (r *Request) answer(payload proto.Message, err error) bool {
	if r.replier == nil || !r.answered.CompareAndSwap(false, true) {
		return false
	}
	if r.load != nil {
		r.load.release() // before the reply, which tells the caller the free capacity
	}
	r.answeredNow()
	if err != nil && CodeOf(err) == boursepb.Code_CODE_HANDLER {
		var he *HandlerError
		if !errors.As(err, &he) {
			err = &HandlerError{Exchange: r.Exchange, Message: err.Error()}
		}
	}
	r.replier.reply(r, payload, err)
	return true
}

// Reply is a handler's answer. An asynchronous caller (RequestAsync) receives
// it as a message; it carries the request's Tag so concurrent replies can be
// told apart.
type Reply struct {
	// Exchange is the exchange the request went through.
	Exchange string
	// Tag is the request tag the caller gave.
	Tag string
	// From is the id of the handler connection that answered.
	From string
	// Payload is the handler's answer, nil when Err is set.
	Payload proto.Message
	// Err is the handler's error, or the exchange's (ErrNoHandlers,
	// ErrTimeout, ...), wrapping a sentinel of this package.
	Err error

	corr uint64
	call *call
}

// Publication is what a subscriber actor receives for each message published
// on a matching routing key. One Publication value is shared by all local
// subscribers: it must not be modified.
type Publication struct {
	// Exchange is the pub-sub exchange it was published to.
	Exchange string
	// Key is the routing key it was published with.
	Key string
	// Payload is the publisher's message.
	Payload proto.Message

	p   *point                // the exchange's point on this node, to count it taken (flow.go)
	env actor.MessageEnvelope // what goes to the mailboxes: this, from the flow sink
}
