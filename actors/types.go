package actors

import (
	"time"

	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
)

// Messages actors receive.
type (
	// Request is a request routed to a handler. Its fields: Exchange, Key
	// (the caller's routing key, WithKey), Payload (the caller's message),
	// ConnTag (the connection it came through), ServiceTag and Tag (the
	// caller's). The handler answers exactly once, with Respond(payload) or
	// Fail(err), from any goroutine; later answers are ignored. It must not
	// be modified. Deadline is the caller's deadline, if any (never earlier
	// than the caller's own, on any node); DropExpired drops a request whose
	// deadline has passed, counted in Stats.Expired (a Service does it
	// before its handler; a handler actor of its own decides).
	Request = exchange.Request
	// Reply is a handler's answer to an asynchronous request (RequestAsync),
	// or one of RequestAll's: Exchange, Tag (the WithTag of the request),
	// From (the id of the connection that answered), Payload, and Err (the
	// handler's error or the exchange's, nil on success).
	Reply = exchange.Reply
	// Publication is a message published on a matching routing key: Exchange,
	// Key and Payload. One value is shared by all subscribers of a node: it
	// must not be modified.
	Publication = exchange.Publication
	// Leader names an exchange's leader and lists its handlers: GetExchange,
	// GetLeader, GetHandlers (oldest first), GetTerm (the authority's term)
	// and GetEpoch (which grows with every membership change).
	Leader = boursepb.Leader
	// SlaveUp tells handlers that a handler connected: GetExchange,
	// GetHandler, GetTerm, GetEpoch.
	SlaveUp = boursepb.SlaveUp
	// SlaveDown tells handlers that a handler disconnected or died:
	// GetExchange, GetHandler, GetReason ("disconnected", "terminated" (its
	// actor stopped), "node down"), GetTerm, GetEpoch.
	SlaveDown = boursepb.SlaveDown
	// HandlerInfo describes one handler connection: GetId (unique in the
	// exchange, the same on every node), GetNode (the node that hosts it),
	// GetConnTag and GetServiceTag (ConnTag, ServiceTag), GetOptions
	// (Options), GetSeq (its seniority: lower is older) and GetPid. IsSelf
	// and Service.Is tell whether it is yours.
	HandlerInfo = boursepb.HandlerInfo
	// Leadership tells a handler it starts or stops leading: its exchange
	// names it leader AND its node holds a valid lease. Its fields: Exchange,
	// Handler (the connection id), Term (the appointing authority's fencing
	// token), Leading, and Context, which ends with the leadership; Valid
	// reports whether it still holds at this instant.
	Leadership = exchange.Leadership
)

// Declarations and options, re-exported from package exchange so that a
// service needs one import.
type (
	// Spec declares an exchange: Name (unique in the cluster), Kind
	// (ReqResp or PubSub), Strategy (the name of a strategy in the broker's
	// registry, req-resp only; "" is "default", a broadcast), Params (the
	// strategy's parameters) and Impl (a strategy made in code, used instead
	// of Strategy). Validate reports a malformed one as a *FieldError.
	Spec = exchange.Spec
	// Kind is an exchange's kind: ReqResp or PubSub (String gives
	// "req-resp" and "pub-sub").
	Kind = exchange.Kind
	// Connection is a handler's connection to an exchange (Connect): ID is
	// its id in the exchange, Info its HandlerInfo, IsLeader and LeaderTerm
	// read its lease at that instant, and Close(ctx) disconnects it once the
	// exchange routes no more requests to it (idempotent).
	Connection = exchange.Connection
	// Subscription is a subscriber's subscription to an exchange
	// (Subscribe): Pattern is its pattern, and Unsubscribe(ctx) ends it
	// (idempotent).
	Subscription = exchange.Subscription
	// ConnectOption sets an option of a handler connection.
	ConnectOption = exchange.ConnectOption
	// CallOption sets an option of one request.
	CallOption = exchange.CallOption
	// WrongTypeError is a payload of another type than a typed call,
	// handler or subscriber expects (Call, ServeFunc, SubscribeFunc).
	WrongTypeError = exchange.WrongTypeError
	// Config configures a broker's exchange layer (WithConfig): Node (the
	// node's name), Strategies (the strategy registry, WithStrategies),
	// MaxRedirects (the bound on fun strategies' redirects), Logger,
	// Workers (the size of the worker pool, WithWorkers) and LeaseDuration
	// (the leader lease). Its other fields are set by package
	// cluster, whose Config.Exchange holds it; Validate reports a bad one as
	// a *FieldError.
	Config = exchange.Config
)

// DefaultConfig returns the configuration New uses when given none.
func DefaultConfig() Config { return exchange.DefaultConfig() }

// Bounds of Config.Workers, the size of the broker's worker pool.
const (
	// DefaultWorkersPerProc is how many workers a broker starts per
	// GOMAXPROCS when Config.Workers is 0.
	DefaultWorkersPerProc = exchange.DefaultWorkersPerProc
	// MaxWorkers is the largest Config.Workers New accepts.
	MaxWorkers = exchange.MaxWorkers
)

// What a broker reports about its exchanges (Broker.Stats,
// Broker.Subscriptions, Broker.LinkStats, Broker.LinkPeers).
type (
	// Stats are an exchange's counters on this node: Published (publications
	// accepted from this node), Delivered (copies handed to its
	// subscribers), RemoteSent (network messages to other nodes'
	// subscribers: at most one per matching node per publication),
	// RemoteDropped (publications to other nodes that could not be sent),
	// Received (publications from other nodes), Expired (requests to this
	// node's handlers dropped unprocessed because the caller's deadline had
	// passed: Request.DropExpired), and Epoch (the routing table's).
	Stats = exchange.Stats
	// NodePatterns is one node's subscriptions to a pub-sub exchange:
	// GetNode and GetPatterns (each distinct pattern once).
	NodePatterns = boursepb.NodePatterns
	// LinkStats are the counters of the data link between nodes:
	// FramesSent, BytesSent and Writes (the system calls that carried them),
	// FramesReceived, BytesReceived, and PeerFailures (connections that
	// broke).
	LinkStats = exchange.LinkStats
	// LinkPeerStats is the data link's state with one other node: Peer
	// (its data-link address), Out and OutError (the connection to it and
	// its failure), Queued (bytes waiting), FramesSent and BytesSent, In
	// (a connection from it), FramesReceived and BytesReceived, counted on
	// the current connections, and RTT, SmoothedRTT and RTTAt (the
	// round-trip time on the link, measured once a second; zero until a
	// first sample).
	LinkPeerStats = exchange.LinkPeerStats
)

// Exchange kinds.
const (
	ReqResp = exchange.ReqResp
	PubSub  = exchange.PubSub
)

// ServiceTag puts a handler's connection in a service group: requests that
// name the tag (WithServiceTag) go only to the group.
func ServiceTag(tag string) ConnectOption { return exchange.ServiceTag(tag) }

// ConnTag sets a handler's connection tag. One actor may connect to an
// exchange several times under different connection tags; each Request it
// receives says which connection it came through (Request.ConnTag), and
// HandlerInfo.ConnTag names the connection to others.
func ConnTag(tag string) ConnectOption { return exchange.ConnTag(tag) }

// Options attaches free-form options to a handler's connection; other
// handlers see them in Leader, SlaveUp and SlaveDown, and strategies in
// their members.
func Options(opts map[string]string) ConnectOption { return exchange.Options(opts) }

// Concurrency sets how many requests a handler works on at once through
// this connection (1 to MaxConcurrency; the default, Config.Handlers, is
// 1: a Service's actor takes one request at a time). Requests beyond it
// wait in its queue (QueueLimit); local-first reads the free capacity.
func Concurrency(n int) ConnectOption { return exchange.Concurrency(n) }

// QueueLimit bounds the requests that may wait for a handler beyond its
// concurrency (0 to MaxQueue; the default, Config.Handlers, is
// DefaultQueue); one more fails at once with ErrOverloaded.
func QueueLimit(n int) ConnectOption { return exchange.QueueLimit(n) }

// WithKey sets a request's routing key, which sticky strategies hash.
func WithKey(key string) CallOption { return exchange.WithKey(key) }

// WithServiceTag routes a request only among the handlers connected with
// tag (ServiceTag).
func WithServiceTag(tag string) CallOption { return exchange.WithServiceTag(tag) }

// WithTag sets a request's tag, which comes back with the reply (Reply.Tag;
// see RequestAsync).
func WithTag(tag string) CallOption { return exchange.WithTag(tag) }

// WithTimeout bounds a blocking call (Request, RequestAll, Call) by d, on
// top of its context; when d passes first, the call fails with ErrTimeout
// (which also matches context.DeadlineExceeded). It costs less than a
// context.WithTimeout per call: the timer lives with the pooled call and is
// reset, not allocated. The handler sees the call's deadline (the earlier
// of the context's and d's) as Request.Deadline and its ctx's, and drops a
// request that reaches it too late. An asynchronous request (RequestAsync)
// carries d from now as its deadline the same way; nothing tracks it on the
// caller's side.
func WithTimeout(d time.Duration) CallOption { return exchange.WithTimeout(d) }

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
	// ErrOverloaded means the request found no room: its handler's queue
	// was full (Concurrency, QueueLimit), or, under local-first with the
	// overload policy "fail", no handler had free capacity. Returned at
	// once; the handler never saw the request, so it may be sent again.
	ErrOverloaded = exchange.ErrOverloaded
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
