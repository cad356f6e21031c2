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
	// Leadership tells a handler it starts or stops leading: its exchange
	// names it leader AND its node holds a valid lease. Its Context ends with
	// the leadership; Term is the appointing authority's fencing token.
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
	// Config configures a broker's exchange layer (WithConfig): the node's
	// name, the strategy registry, the bound on redirects, the logger, the
	// leader lease. In a cluster, cluster.Config.Exchange holds it.
	Config = exchange.Config
)

// DefaultConfig returns the configuration New uses when given none.
func DefaultConfig() Config { return exchange.DefaultConfig() }

// What a broker reports about its exchanges (Broker.Stats,
// Broker.Subscriptions, Broker.LinkStats).
type (
	// Stats are an exchange's counters on this node: publications accepted,
	// copies delivered, network messages to other nodes' subscribers (at
	// most one per matching node per publication), publications dropped or
	// received, and the routing table's epoch.
	Stats = exchange.Stats
	// NodePatterns is one node's subscriptions to a pub-sub exchange: the
	// node and its distinct patterns.
	NodePatterns = boursepb.NodePatterns
	// LinkStats are the counters of the data link between nodes: frames,
	// bytes and write system calls sent, frames and bytes received, broken
	// connections.
	LinkStats = exchange.LinkStats
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

// Sentinel errors. Every error a Broker returns wraps one of them (test
// with errors.Is), and each maps to a wire code, so an error that comes back
// from another node is still the same sentinel.
var (
	// ErrNoHandlers means no handler is connected to the exchange (for the
	// request's service tag). It is returned at once, never after a wait.
	ErrNoHandlers = exchange.ErrNoHandlers
	// ErrNoLeader means a leader-only exchange (consensus) has no leader at
	// the moment: the leader's node was declared down and the successor is
	// not appointed yet (a silent leader's lease must run out first), or
	// this node is on the minority side of a partition. Returned at once.
	ErrNoLeader = exchange.ErrNoLeader
	// ErrRejected means the exchange's strategy refused the request.
	ErrRejected = exchange.ErrRejected
	// ErrTimeout means the caller's context ended before the reply came. An
	// error wrapping it also matches the context's own error.
	ErrTimeout = exchange.ErrTimeout
	// ErrHandler means the handler answered with an error; a *HandlerError
	// carries its message.
	ErrHandler = exchange.ErrHandler
	// ErrUnknownExchange means no exchange of that name is declared on this
	// node.
	ErrUnknownExchange = exchange.ErrUnknownExchange
	// ErrWrongKind means the call does not fit the exchange's kind (a
	// request to a pub-sub exchange, a publication to a req-resp one).
	ErrWrongKind = exchange.ErrWrongKind
	// ErrExchangeExists means an exchange of that name is declared with a
	// different kind or strategy.
	ErrExchangeExists = exchange.ErrExchangeExists
	// ErrAlreadyConnected means the actor is already connected to the
	// exchange under that connection tag.
	ErrAlreadyConnected = exchange.ErrAlreadyConnected
	// ErrNodeDown means the node hosting the handler went away while the
	// request was in flight.
	ErrNodeDown = exchange.ErrNodeDown
	// ErrStopped means the broker was stopped.
	ErrStopped = exchange.ErrStopped
	// ErrInvalid means an argument or a configuration is malformed (empty
	// name, nil PID, bad routing key or pattern, bad Spec or Config, unknown
	// strategy). It is the one sentinel of bad arguments and configuration
	// in every bourse package; a *FieldError names the field.
	ErrInvalid = exchange.ErrInvalid
	// ErrRedirectLoop means fun strategies redirected a request more than
	// Config.MaxRedirects times.
	ErrRedirectLoop = exchange.ErrRedirectLoop
	// ErrWrongType means a payload is of another type than a typed call,
	// handler or subscriber expects; a *WrongTypeError says which. It also
	// matches ErrInvalid.
	ErrWrongType = exchange.ErrWrongType
)

// Typed errors, which carry data. Each matches its sentinel with errors.Is.
type (
	// HandlerError is a handler's own error, as its caller receives it
	// (ErrHandler).
	HandlerError = exchange.HandlerError
)

// FieldError is the error of a bad field of a Spec or a configuration:
// which field and what is wrong with it. It wraps ErrInvalid, which is
// errs.ErrInvalid, the one sentinel of bad arguments and configuration in
// every bourse package.
type FieldError = errs.FieldError
