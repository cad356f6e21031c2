// Package watermill is a Watermill (github.com/ThreeDotsLabs/watermill)
// message.Publisher and message.Subscriber on bourse's pub-sub exchanges, so
// that services written with Watermill's router and handlers run on bourse
// unchanged. It is a module of its own: bourse's core does not depend on
// Watermill.
//
//	import (
//		wm "github.com/ThreeDotsLabs/watermill"
//		"github.com/bourse-go/bourse/contrib/watermill"
//	)
//
//	pub, err := watermill.NewPublisher(node.Broker(), watermill.PublisherConfig{}, logger)
//	sub, err := watermill.NewSubscriber(node.Broker(), watermill.SubscriberConfig{}, logger)
//	msgs, err := sub.Subscribe(ctx, "orders")
//	err = pub.Publish("orders", message.NewMessage(wm.NewUUID(), payload))
//
// Both take a *actors.Broker: cluster.Node.Broker on a node, actors.New in
// one process.
//
// # Topics
//
// A Watermill topic is the bourse pub-sub exchange of the same name,
// declared (actors.Spec{Name: topic, Kind: actors.PubSub}) by a Publisher or
// Subscriber the first time it uses the topic; declaring it beforehand, in
// code or in YAML, is allowed and changes nothing. One exchange per topic,
// rather than one exchange for all topics with the topic as routing key,
// because:
//
//   - Watermill topics are free-form ("orders_created", "topic-<uuid>"), and
//     exchange names take any string up to 255 bytes, while routing keys are
//     dotted words without '*' or '#'.
//   - Each exchange has its own authority, placed by hashing its name over
//     the cluster's nodes: topics spread the control plane instead of
//     loading one node, and each has its own counters (Broker.Stats).
//   - bourse code subscribes to, or publishes on, a topic as to any
//     exchange, with watermillpb.Envelope as the payload.
//
// The cost: a node declares an exchange per topic it touches, and bourse
// has no call to remove one, so a service that makes topics without bound
// grows its exchange table without bound.
//
// Within a topic the routing key is free: every publication carries
// PublisherConfig.Key ("watermill" by default) or KeyFunc's key, and a
// Subscriber receives the keys that match SubscriberConfig.Pattern ("#",
// all, by default), so bourse's patterns filter a topic.
//
// # Messages
//
// A message travels as a *watermillpb.Envelope: its UUID, metadata and
// payload. Its context stays in the publishing process (it bounds the
// publication); a received message's context derives from the Subscribe
// call's, and ends at its Ack or Nack.
//
// # Delivery
//
// A Subscriber holds one bourse subscription per topic, made by
// SubscribeInitialize or the first Subscribe, which return once every node
// of the cluster routes the topic's publications to it, and kept until
// Close; what arrives waits in the Subscriber's queue for the topic
// (SubscriberConfig.Buffer messages at most). Each Subscribe call is a
// consumer of that queue: a message goes to one consumer, which gets the
// next one only after its Ack; Nack puts the message back at the head of
// the queue, before any other. Distinct Subscribers, on one node or on
// several, each receive every message.
//
// bourse keeps no log and does not retry: a message published while no
// Subscriber holds a subscription to its topic is lost, and so are those
// queued in a Subscriber that closes or whose node dies, or on their way to
// a node that dies. Delivery is at most once per Subscriber, and in order
// for the messages of one publishing goroutine.
//
// # Watermill's test suite
//
// The package passes tests.TestPubSub of Watermill v1.5.1
// (pubsub/tests), with publishers and subscribers on one node and on two
// nodes (pubsub_test.go), declaring these tests.Features:
//
//   - ConsumerGroups: false. Every Subscriber receives every message; no
//     group shares a topic's messages between Subscribers (only the
//     consumers of one Subscriber share its queue).
//   - ExactlyOnceDelivery: true. A publication reaches each Subscriber at
//     most once: bourse neither retries nor duplicates it, and a lost node
//     loses its messages rather than repeating them. A message out to a
//     consumer comes back only after its Nack (a consumer whose context
//     ends first keeps it until its Ack or Nack), and never after its Ack.
//     With no loss on healthy paths, each message is delivered once;
//     across failures, at most once. In the suite the flag turns off
//     duplicate removal on reads, checks that an acked message does not
//     come back (TestNoAck), and skips TestConcurrentClose, which also
//     needs Persistent: it publishes while no subscriber exists and expects
//     a later one to receive the messages.
//   - GuaranteedOrder: true. Messages of one publishing goroutine reach each
//     Subscriber in publication order, on one node and between nodes
//     (bourse's Publish); a consumer gets the next message only after it
//     acked the previous, and a Nack puts the message back first. Order is
//     per consumer: consumers of one Subscriber share its messages, and
//     messages of different goroutines are not ordered between them.
//   - GuaranteedOrderWithSingleSubscriber: false. Order holds whatever the
//     number of Subscribers; the suite reads it only when
//     RequireSingleInstance is false.
//   - Persistent: false. Messages live in memory, in the Subscribers' queues;
//     nothing survives a Close or a node's death, and a topic without a
//     subscriber drops what is published to it.
//   - RestartServiceCommand: nil. There is no broker process to restart:
//     bourse runs inside the service. Node failures are bourse's own tests'
//     (cluster, chaos).
//   - RequireSingleInstance: true. The suite publishes and only then makes
//     the Subscribers that read (TestConcurrentSubscribe,
//     TestPublishSubscribeInOrder); a Subscriber made after a publication
//     never receives it, so those tests must read from the Subscriber that
//     called SubscribeInitialize before publishing.
//   - NewSubscriberReceivesOldMessages: false. No log to replay (as
//     Persistent).
//   - ContextPreserved: false. A Go context cannot cross a node; the message
//     context a consumer gets derives from its Subscribe context.
//   - GenerateTopicFunc, GenerateIDFunc: nil. The suite's topic names
//     ("topic-<uuid>") are valid exchange names.
//   - ForceShort: false. The full suite takes a few seconds.
package watermill
