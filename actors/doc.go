// Package actors is the API services are written with: a Broker, made by New
// and ended by Stop, declares exchanges, connects handler actors, sends
// requests (blocking, or asynchronously with the reply arriving as a message
// to the calling actor), publishes and subscribes.
//
// Handlers and subscribers are ordinary protoactor actors. A handler receives
// *Request for each request routed to it and answers with Request.Respond or
// Request.Fail; it also receives *Leader, *SlaveUp and *SlaveDown as the
// exchange's membership changes, and *Leadership when its own leadership (a
// lease, see Service.IsLeader and OnLeading) starts or ends; IsSelf tells
// whether a HandlerInfo is the receiving actor. A subscriber receives *Publication. For
// handlers written as plain functions, Serve spawns the actor for you.
//
// The package keeps no global state: every Broker is independent, and Stop
// leaves no goroutine behind.
package actors
