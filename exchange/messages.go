package exchange

import (
	"errors"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// Request is what a handler actor receives for each request routed to it. The
// handler answers exactly once, with Respond or Fail, from any goroutine; later
// answers are ignored. A Request must not be modified.
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
	// replier takes the answer to the caller, wherever it waits: a
	// *localReply or a *remoteReply (carriage.go), nil when there is no one
	// to answer.
	replier replier
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
}
