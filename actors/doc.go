// Package actors is the API services are written with: a Broker, made by New
// and ended by Stop, declares exchanges, connects handler actors, sends
// requests (blocking, or asynchronously with the reply arriving as a message
// to the calling actor), publishes and subscribes.
//
// The common case is typed, with no type assertion: ServeFunc serves a
// function of the request and reply types, Call returns the reply as the
// type named, SubscribeFunc hands each publication over as its type.
//
//	svc, err := actors.ServeFunc(ctx, b, "orders", func(ctx context.Context, o *pb.Order) (*pb.Ack, error) {
//		return book.Place(o)
//	})
//	ack, err := actors.Call[*pb.Ack](ctx, b, "orders", order, actors.WithKey("AAPL"))
//	sub, err := actors.SubscribeFunc(ctx, b, "prices", "prices.*.AAPL", func(key string, t *pb.Tick) { ... })
//
// Payloads are proto.Message underneath. One of another type than the one
// named (a request at a typed handler, a reply at Call) is a
// *WrongTypeError, which matches ErrWrongType (and ErrInvalid) with
// errors.Is, also when it comes back from another node; never a panic.
//
// Underneath, handlers and subscribers are ordinary protoactor actors. A
// handler receives *Request for each request routed to it and answers with
// Request.Respond or Request.Fail; it also receives *Leader, *SlaveUp and
// *SlaveDown as the exchange's membership changes, and *Leadership when its
// own leadership (a lease, see Service.IsLeader and OnLeading) starts or
// ends; IsSelf tells whether a HandlerInfo is the receiving actor. A
// subscriber receives *Publication. For handlers written as plain functions,
// Serve (untyped: Handler, HandlerFunc) and ServeFunc (typed: TypedFunc)
// spawn the actor for you.
//
// What a node knows of its exchanges is on the Broker, and none of it
// blocks: Leader (with the term of the authority that appointed it, a
// fencing token), Handlers, Subscriptions (aggregated per node), Stats,
// LinkStats, Exchanges, Node. WatchLeader follows a leader without being a
// handler, as raft's LeaderCh: a channel of every change, in order, that
// never slows the exchange (a lagging watcher loses the oldest changes it
// has not read, never the latest).
//
// This is the one package a service needs: exchange kinds, specs, options,
// messages, errors and the configuration are all here (the types are
// aliases of package exchange's, which services never import). In a
// cluster, cluster.Start returns a cluster.Node whose Broker is used the
// same way; the node adds what is the cluster's (Members, Subscribe,
// HasQuorum, Owner).
//
// The package keeps no global state: every Broker is independent, and Stop
// leaves no goroutine behind.
package actors
