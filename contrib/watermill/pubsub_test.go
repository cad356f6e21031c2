package watermill_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/cluster/static"
	watermill "github.com/bourse-go/bourse/contrib/watermill"
	"github.com/bourse-go/bourse/contrib/watermill/watermillpb"
)

// features is what the adapter promises; the package doc justifies each
// field.
var features = tests.Features{
	ConsumerGroups:                      false,
	ExactlyOnceDelivery:                 true,
	GuaranteedOrder:                     true,
	GuaranteedOrderWithSingleSubscriber: false,
	Persistent:                          false,
	RestartServiceCommand:               nil,
	RequireSingleInstance:               true,
	NewSubscriberReceivesOldMessages:    false,
	ContextPreserved:                    false,
}

// TestPubSubOneNode runs Watermill's suite with publishers and subscribers
// on one broker.
func TestPubSubOneNode(t *testing.T) {
	b, err := actors.New(actors.WithLogger(slogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	constructor := func(t *testing.T) (message.Publisher, message.Subscriber) {
		pub, err := watermill.NewPublisher(b, watermill.PublisherConfig{}, logger())
		if err != nil {
			t.Fatal(err)
		}
		sub, err := watermill.NewSubscriber(b, watermill.SubscriberConfig{}, logger())
		if err != nil {
			t.Fatal(err)
		}
		return pub, sub
	}
	// t.Run, so that the broker stops after the suite's parallel tests.
	t.Run("suite", func(t *testing.T) {
		tests.TestPubSub(t, features, constructor, nil)
	})
}

// TestPubSubTwoNodes runs Watermill's suite with every subscriber on one
// cluster node (this process) and every publisher on another (a child
// process): the suite's Publisher here asks the child, through a bourse
// req-resp exchange, to publish with a Publisher of its own. One node per
// process, as bourse runs: protoactor remote's Start writes grpc's global
// logger, which the race detector reports when two nodes share a process
// (cluster/clustertest.Isolate).
func TestPubSubTwoNodes(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	child := clustertest.Start(t, "publisher", "NODE_NAME=pub")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, err := child.Value(ctx, "address")
	if err != nil {
		t.Fatal(err)
	}
	cfg := nodeConfig("sub")
	cfg.Discovery = static.New(addr)
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	b := n.Broker()
	for len(n.Members()) < 2 {
		if ctx.Err() != nil {
			t.Fatalf("the nodes did not meet: %v", n.Members())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.Declare(ctx, actors.Spec{Name: remoteExchange, Kind: actors.ReqResp}); err != nil {
		t.Fatal(err)
	}
	if _, err := child.Value(ctx, "ready"); err != nil {
		t.Fatal(err)
	}
	// The child's handler is connected: wait until this node routes to it.
	for {
		if hs, _ := b.Handlers(remoteExchange); len(hs) > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the child's publishing service never reached this node")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var seq sync.Mutex
	next := 0
	constructor := func(t *testing.T) (message.Publisher, message.Subscriber) {
		seq.Lock()
		next++
		id := fmt.Sprint(next)
		seq.Unlock()
		sub, err := watermill.NewSubscriber(b, watermill.SubscriberConfig{}, logger())
		if err != nil {
			t.Fatal(err)
		}
		return &remotePublisher{b: b, id: id}, sub
	}
	t.Run("suite", func(t *testing.T) {
		tests.TestPubSub(t, features, constructor, nil)
	})
	// Every message came from the other node.
	var published, received uint64
	for _, s := range b.Exchanges() {
		if st, err := b.Stats(s.Name); err == nil && s.Kind == actors.PubSub {
			published += st.Published
			received += st.Received
		}
	}
	t.Logf("this node published %d messages and received %d from the other node", published, received)
	if published != 0 || received == 0 {
		t.Errorf("published here %d, received from the other node %d; want 0 and more than 0", published, received)
	}
}

// remoteExchange is the req-resp exchange the child's publishing service
// serves.
const remoteExchange = "watermill-test-publisher"

// Metadata keys of a request to the child's publishing service; the child
// removes them before it publishes.
const (
	metaOp        = "_test.op" // "publish" or "close"
	metaPublisher = "_test.publisher"
	metaTopic     = "_test.topic"
)

// remotePublisher is a message.Publisher whose messages are published by a
// watermill.Publisher on the child's node: each of its instances has one
// there.
type remotePublisher struct {
	b  *actors.Broker
	id string
}

func (p *remotePublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		md := map[string]string{metaOp: "publish", metaPublisher: p.id, metaTopic: topic}
		for k, v := range msg.Metadata {
			md[k] = v
		}
		env := &watermillpb.Envelope{Uuid: msg.UUID, Metadata: md, Payload: msg.Payload}
		if _, err := p.b.Request(msg.Context(), remoteExchange, env, actors.WithTimeout(30*time.Second)); err != nil {
			return err
		}
	}
	return nil
}

func (p *remotePublisher) Close() error {
	env := &watermillpb.Envelope{Metadata: map[string]string{metaOp: "close", metaPublisher: p.id}}
	_, err := p.b.Request(context.Background(), remoteExchange, env, actors.WithTimeout(30*time.Second))
	return err
}

func nodeConfig(name string) cluster.Config {
	cfg := cluster.DefaultConfig()
	cfg.Cluster = "watermill-test"
	cfg.Node = name
	cfg.HeartbeatInterval = 50 * time.Millisecond
	cfg.SuspectAfter = time.Second
	cfg.Logger = slogger()
	return cfg
}

// runPublisherNode is the "publisher" child: a node that serves
// remoteExchange, publishing each request's message with the
// watermill.Publisher its metadata names (made on first use).
func runPublisherNode(ctx context.Context, c *clustertest.Child) error {
	cfg := nodeConfig(os.Getenv("NODE_NAME"))
	if os.Getenv("BOURSE_TEST_LOG") == "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	// The service's actor uses pubs until the node stops.
	pubs := map[string]*watermill.Publisher{}
	defer func() {
		for _, p := range pubs {
			_ = p.Close()
		}
	}()
	defer n.Stop(context.Background())
	c.Set("address", n.Address())
	b := n.Broker()
	if err := b.Declare(ctx, actors.Spec{Name: remoteExchange, Kind: actors.ReqResp}); err != nil {
		return err
	}
	serve := func(ctx context.Context, env *watermillpb.Envelope) (*watermillpb.Envelope, error) {
		md := env.GetMetadata()
		id := md[metaPublisher]
		p := pubs[id]
		switch md[metaOp] {
		case "close":
			if p != nil {
				return &watermillpb.Envelope{}, p.Close()
			}
			return &watermillpb.Envelope{}, nil
		case "publish":
			if p == nil {
				if p, err = watermill.NewPublisher(b, watermill.PublisherConfig{}, logger()); err != nil {
					return nil, err
				}
				pubs[id] = p
			}
			topic := md[metaTopic]
			msg := message.NewMessage(env.GetUuid(), env.GetPayload())
			for k, v := range md {
				if !strings.HasPrefix(k, "_test.") {
					msg.Metadata.Set(k, v)
				}
			}
			return &watermillpb.Envelope{}, p.Publish(topic, msg)
		}
		return nil, fmt.Errorf("unknown op %q", md[metaOp])
	}
	if _, err := actors.ServeFunc(ctx, b, remoteExchange, serve); err != nil {
		return err
	}
	c.Set("ready", "1")
	<-ctx.Done()
	return nil
}
