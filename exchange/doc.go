// Package exchange implements bourse's exchange points on a protoactor actor
// system: request-response exchanges, whose strategy picks the handler(s) of
// each request, and publish-subscribe exchanges, which route publications to
// subscribers by AMQP-style topic patterns.
//
// Each exchange is split in two planes (docs/architecture.md draws them):
//
//   - The control plane is one authority actor per exchange. It keeps who is
//     connected, appoints the leader (the longest-connected handler; no
//     voting) and renews its lease after a majority of the cluster
//     confirmed its term (lease.go, vote.go; the rules are succession.go),
//     tells handlers Leader, SlaveUp and SlaveDown, aggregates subscriptions
//     per node, and pushes a routing table, with its term, to every point
//     of presence after each change. docs/guarantees.md says what holds
//     under kill -9, freezes and partitions.
//   - The data plane never goes through the authority. Each node has one
//     point of presence per exchange holding the pushed table; a caller's
//     request is routed on the caller's goroutine, straight to the chosen
//     handler, and the handler's reply goes straight back to the caller. A
//     publication is matched against the node's subscriptions and copied to
//     each local subscriber, in publication order. Between nodes, the data
//     plane travels on the hub's data link (Config.DataAddr: one framed TCP
//     connection per pair of nodes), the control plane on protoactor remote.
//
// # Code map
//
// Each step of the data paths, with its file and function. Not on these paths
// but feeding them: Declare (hub.go), Connect (connect.go) and Subscribe
// (publish.go) send commands to the point of presence's actor (point.go:
// popActor), which attaches to the exchange's authority on the node that
// owns the exchange (placement.go: ownerOf, authorityFor; authority.go,
// with lease.go, vote.go and succession.go); the authority pushes its
// routing table back (point.go: popActor.table, point.setTable; table.go:
// buildTable, which gives each group its strategy's picker).
//
// One file is the seam between the exchange and the carriage between nodes:
// a request, a reply or a publication whose other end is on another node
// leaves the exchange's files for carriage.go, and what arrives from
// another node comes back through it (or through ingress.go, the door of
// protoactor remote). The frames are internal/codec's (the hub owns its
// codec.Codec and the caches in it), and internal/link carries them.
//
// A request, caller and handler on one node:
//
//  1. request.go: Hub.Request (RequestAll, RequestAsync) calls route, which
//     finds the point with lookup, reads its table and group (table.go)
//     and asks the group's picker (package strategies) for the handler.
//  2. inbox.go: for Request, inbox.open takes a pooled call with a
//     correlation id (RequestAll: openKept, a call of its own, since it
//     returns its replies) and call.arm starts its timeout.
//  3. request.go: send and sendOne; isLocal holds, so sendOne counts the
//     request in the handler's requests in flight (capacity.go:
//     load.acquire; a full handler fails it with ErrOverloaded) and
//     newRequest makes the *Request (messages.go) with its localReply and
//     puts it straight into the handler's mailbox.
//  4. The handler (any actor; actors/service.go for an actors.Service)
//     answers with Request.Respond or Fail (messages.go: answer), whose
//     localReply claims the pooled call and writes the Reply into it, or
//     sends a *Reply to the hub's inbox (RequestAll) or to RequestAsync's
//     reply-to actor. The Request carries the caller's deadline
//     (request.go: boundsOf, routed.deadline) and gives the handler its
//     context (reqctx.go: Request.Context); a Service drops a request
//     past it unanswered (messages.go: DropExpired, which reads no clock
//     while the call still waits).
//  5. Request (request.go) takes the reply from the call's channel and
//     ends the call with inbox.close (inbox.go: inbox.SendUserMessage and
//     deliver hand the others to their calls).
//
// A request across nodes (both with a data link, Config.DataAddr):
//
//  1. request.go: Request, route and sendOne as above (table.go,
//     strategies, inbox.go: open); the handler is on another node, so
//     sendOne hands over to carriage.go: sendRemote, which registers the
//     call with inbox.expectRemote (inbox.go), makes a codec.OutRequest
//     whose reply address is this node's ingress, and calls sendWire.
//  2. internal/link: Link.Send (link.go) and outConn.send (out.go) encode
//     the frame in place (internal/codec, codec.go: OutRequest.AppendTo),
//     and the writer goroutine (out.go: outConn.run) writes every frame
//     queued meanwhile in one write.
//  3. On the handler's node, internal/link's reader goroutine (link.go:
//     serve; reader.go: frames) calls carriage.go: onFrame, which decodes
//     with codec.go: DecodeRequest, and deliverRequest, which decodes the
//     payload (codec.go: Codec.Payload) and puts a *Request with its
//     remoteReply into the handler's mailbox (localPID), counted in the
//     handler's requests in flight (capacity.go: a full handler's request
//     is refused with ErrOverloaded, refuseFull). Its deadline is
//     this node's now plus the caller's time left (codec.InRequest.Budget,
//     which sendRemote set).
//  4. The handler answers (messages.go: answer); its remoteReply
//     (carriage.go) makes a codec.OutReply (an error goes as errors.go:
//     ErrorToWire), with the handler's free capacity (the advert
//     local-first reads; capacity.go), and sends it with sendWire, through
//     internal/link as in 2.
//  5. On the caller's node: internal/link, carriage.go: onFrame, codec.go:
//     DecodeReply, carriage.go: deliverReply (errors.go: ErrorFromWire),
//     then inbox.go: deliverRemote and deliver, and the caller's Request
//     (request.go) returns. A RequestAsync reply goes instead to the
//     caller's actor (the request's DeliverTo).
//
// Handler limits (capacity.go) add an atomic add on each side of a
// request, where the handler lives, and a map lookup by connection id for
// a request from another node; under a load-aware strategy (local-first)
// a reply's advert is looked up and stored on the caller's node
// (carriage.go: heard). Adverts of their own (advertise.go) go on a
// goroutine of their own, off the data path. capacity.go is a 12th file on both paths.
//
// That is 11 files: 5 of exchange's (request.go, table.go, inbox.go,
// carriage.go, messages.go), codec.go, internal/link's link.go, out.go and
// reader.go, the strategy's file and the handler's; 12 and 6 when the
// handler fails (errors.go). Probation (probation.go) adds two checks on
// the caller's side, an atomic load each (avoiding, in route, and
// observe, in request), and more only while a handler is out of rotation:
// 12 and 6 counting it. It was 13 and 8 (14 and 9 when it fails) while
// the codec was exchange's wire.go, the receiving side was in ingress.go
// and lookup in hub.go: a request went back and forth between request.go,
// ingress.go, wire.go and carriage.go.
//
// When either node has no data link, sendWire (carriage.go) sends the
// protobuf form instead (codec.go: OutRequest.Proto and the like) through
// protoactor remote to the other node's ingress process (ingress.go:
// ingress.SendUserMessage, which reads it with codec.go:
// RequestFromProto, ReplyFromProto or PublicationFromProto), which ends in
// the same deliver functions. When a node goes, carriage.go: onLinkDown or
// the membership (hub.go: applyMembers) fail its calls in flight with
// ErrNodeDown (inbox.go: failNode).
//
// A publication:
//
//  1. publish.go: Hub.Publish finds the point (table.go: lookup). For each
//     other node whose subscriptions match (table.go: remoteSubs, from the
//     routing table) it encodes the payload once (codec.go:
//     OutPublication.Encode) and sends it with carriage.go: sendWire, as a
//     request goes.
//  2. publish.go: fanOut matches the key against the node's local
//     subscriptions (point.go: point.subs, a topic.Trie) and offers one
//     *Publication (messages.go) to each matching subscriber (flow.go:
//     flow.offer), which puts it in the subscriber's mailbox while it has
//     fewer than its bound pending, and otherwise drops one by its policy
//     (DropNewest, DropOldest, Disconnect). The subscriber's actor counts
//     it taken when its Receive returns (flow.go: GetAutoResponse).
//  3. On each receiving node: internal/link, carriage.go: onFrame, codec.go:
//     DecodePublication, carriage.go: deliverPublication, then publish.go:
//     fanOut as in 2.
//
// With Config.Recorder (metrics), Request, RequestAll, RequestAsync and
// Publish tell it, as they return, how they ended and how long they took
// (recorder.go; request.go and publish.go: Hub.sent, deferred only when
// there is a Recorder).
//
// A Hub is the package's handle on one actor system. It holds no global state:
// several hubs may live in one process, and Stop leaves no goroutine behind.
package exchange
