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
// The package keeps no global state: every Broker is independent, and Stop
// leaves no goroutine behind.
package actors
