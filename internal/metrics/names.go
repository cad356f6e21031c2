package metrics

import "go.opentelemetry.io/otel/attribute"

// Names of the messaging semantic conventions' metrics (semconv v1.26 and
// later; the pinned OpenTelemetry v1.21.0 does not define them).
const (
	// ClientSentMessages counts the requests and publications this node's
	// callers made, failed ones with error.type.
	ClientSentMessages = "messaging.client.sent.messages"
	// ClientOperationDuration is the duration of a request (until its reply
	// or error) or a publication (until it is handed over), in seconds: of
	// every call while an exchange's calls take exchange.SampleBelow (50 µs)
	// or more, of one in exchange.SampleOneIn, at random, counted for that
	// many, while they are faster (ClientSentMessages counts them exactly).
	ClientOperationDuration = "messaging.client.operation.duration"
	// ClientConsumedMessages counts the publications handed to this node's
	// subscribers (exchange.Stats.Delivered).
	ClientConsumedMessages = "messaging.client.consumed.messages"
	// ProcessDuration is how long a handler of package actors took to
	// answer a request, or a subscriber function to take a publication, in
	// seconds: of every call while a handler's take exchange.SampleBelow or
	// more, otherwise of one in exchange.SampleOneIn, counted for that many
	// (its count is within SampleOneIn-1 of the calls of each handler;
	// ProcessMessages counts them exactly).
	ProcessDuration = "messaging.process.duration"
)

// Names of bourse's own metrics.
const (
	// ProcessMessages counts the requests answered by this node's handlers
	// of package actors (messaging.operation.name "process") and the
	// publications taken by its subscriber functions ("deliver"), failed
	// ones with error.type: exactly, where ProcessDuration samples.
	ProcessMessages = "bourse.process.messages"
	// Handlers is the number of handler connections of a req-resp
	// exchange, per node they are on, as this node's routing table lists
	// them.
	Handlers = "bourse.exchange.handlers"
	// LeaderChanges counts the changes of the leader this node routes to
	// (exchange.Stats.LeaderChanges).
	LeaderChanges = "bourse.exchange.leader.changes"
	// PublishNetworkMessages counts the network messages this node sent to
	// other nodes' subscribers (exchange.Stats.RemoteSent): divided by
	// messaging.client.sent.messages{messaging.operation.name="publish"},
	// the network messages per publication.
	PublishNetworkMessages = "bourse.publish.network.messages"
	// PublishReceived counts the publications that came from other nodes
	// (exchange.Stats.Received).
	PublishReceived = "bourse.publish.received"
	// Dropped counts the publications dropped, by bourse.drop.reason:
	// no_subscribers (exchange.Stats.Unrouted), node_down
	// (exchange.Stats.RemoteDropped: the node was down or its link broke)
	// and overflow (exchange.Stats.Overflowed: a subscriber had its limit
	// of pending publications).
	// Requests that fail say why in error.type on the client metrics.
	Dropped = "bourse.dropped.messages"
	// ProbationEvents counts probation's events on this node's handlers,
	// by bourse.probation.event: ejected, probe, probe_failed, readmitted
	// (exchange.Stats.Health).
	ProbationEvents = "bourse.probation.events"
	// ProbationOut is the number of handlers out of this node's rotation.
	ProbationOut = "bourse.probation.out"
	// LinkFrames and LinkBytes count the data link's frames and bytes, by
	// bourse.link.direction (sent, received); LinkWrites the system calls
	// that wrote them; LinkBroken the connections to or from other nodes
	// that broke (exchange.LinkStats).
	LinkFrames = "bourse.link.frames"
	LinkBytes  = "bourse.link.bytes"
	LinkWrites = "bourse.link.writes"
	LinkBroken = "bourse.link.broken_connections"
	// LinkRoundTrip is the data link's smoothed round-trip time to each
	// peer it has a sample for, by bourse.link.peer, in seconds
	// (exchange.LinkPeerStats.SmoothedRTT: a ping a second, queued
	// behind the frames each way).
	LinkRoundTrip = "bourse.link.round_trip_time"
)

// Attribute keys.
const (
	MessagingSystem          = attribute.Key("messaging.system")
	MessagingDestinationName = attribute.Key("messaging.destination.name")
	MessagingOperationName   = attribute.Key("messaging.operation.name")
	ErrorType                = attribute.Key("error.type")
	HandlerNode              = attribute.Key("bourse.handler.node")
	DropReason               = attribute.Key("bourse.drop.reason")
	ProbationEvent           = attribute.Key("bourse.probation.event")
	LinkDirection            = attribute.Key("bourse.link.direction")
	LinkPeer                 = attribute.Key("bourse.link.peer") // a peer's data-link address
)

// System is the messaging.system of every metric.
var System = MessagingSystem.String("bourse")

// durationBounds are the upper bounds of the duration histograms' explicit
// buckets, in seconds: 50 µs to 10 s, and a last bucket above. (The
// pinned Prometheus exporter exports no exponential histograms.)
var durationBounds = [...]float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}
