package actors

import (
	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
)

// Messages actors receive.
type (
	// Request is a request routed to a handler; answer it with Respond or Fail.
	Request = exchange.Request
	// Reply is the answer to an asynchronous request (RequestAsync).
	Reply = exchange.Reply
	// Publication is a message published on a matching routing key.
	Publication = exchange.Publication
	// Leader names an exchange's leader and lists its handlers.
	Leader = boursepb.Leader
	// SlaveUp tells handlers that a handler connected.
	SlaveUp = boursepb.SlaveUp
	// SlaveDown tells handlers that a handler disconnected or died.
	SlaveDown = boursepb.SlaveDown
	// HandlerInfo describes one handler connection.
	HandlerInfo = boursepb.HandlerInfo
	// Leadership tells a handler it starts or stops leading (see
	// exchange.Leadership).
	Leadership = exchange.Leadership
)

// Declarations and options, re-exported from package exchange so that a
// service needs one import.
type (
	// Spec declares an exchange.
	Spec = exchange.Spec
	// Kind is an exchange's kind: ReqResp or PubSub.
	Kind = exchange.Kind
	// Connection is a handler's connection to an exchange.
	Connection = exchange.Connection
	// Subscription is a subscriber's subscription to an exchange.
	Subscription = exchange.Subscription
	// ConnectOption sets an option of a handler connection.
	ConnectOption = exchange.ConnectOption
	// CallOption sets an option of one request.
	CallOption = exchange.CallOption
	// WrongTypeError is a payload of another type than a typed call,
	// handler or subscriber expects (Call, ServeFunc, SubscribeFunc).
	WrongTypeError = exchange.WrongTypeError
)

// Exchange kinds.
const (
	ReqResp = exchange.ReqResp
	PubSub  = exchange.PubSub
)

// Connection and call options.
var (
	ServiceTag     = exchange.ServiceTag
	ConnTag        = exchange.ConnTag
	Options        = exchange.Options
	WithKey        = exchange.WithKey
	WithServiceTag = exchange.WithServiceTag
	WithTag        = exchange.WithTag
	WithTimeout    = exchange.WithTimeout
)

// Sentinel errors (see package exchange for their meaning).
var (
	ErrNoHandlers       = exchange.ErrNoHandlers
	ErrNoLeader         = exchange.ErrNoLeader
	ErrRejected         = exchange.ErrRejected
	ErrTimeout          = exchange.ErrTimeout
	ErrHandler          = exchange.ErrHandler
	ErrUnknownExchange  = exchange.ErrUnknownExchange
	ErrWrongKind        = exchange.ErrWrongKind
	ErrExchangeExists   = exchange.ErrExchangeExists
	ErrAlreadyConnected = exchange.ErrAlreadyConnected
	ErrNodeDown         = exchange.ErrNodeDown
	ErrStopped          = exchange.ErrStopped
	ErrInvalid          = exchange.ErrInvalid
	ErrRedirectLoop     = exchange.ErrRedirectLoop
	ErrWrongType        = exchange.ErrWrongType
)

// FieldError is the error of a bad field of a Spec or a configuration:
// which field and what is wrong with it. It wraps ErrInvalid, which is
// errs.ErrInvalid, the one sentinel of bad arguments and configuration in
// every bourse package.
type FieldError = errs.FieldError
