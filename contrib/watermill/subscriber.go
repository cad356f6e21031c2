package watermill

import (
	"context"
	"errors"
	"fmt"
	"sync"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/contrib/watermill/watermillpb"
)

// Subscriber is a message.Subscriber on bourse pub-sub exchanges: topic T is
// exchange T, declared on first use. For each topic it holds one bourse
// subscription, from SubscribeInitialize or the first Subscribe until Close,
// and a queue of the messages it received. Every Subscribe call on a topic
// is a consumer of that queue: consumers of one Subscriber share its
// messages (each goes to one consumer at a time, the next one after an Ack),
// while distinct Subscribers, on this node or others, each receive every
// message. Its methods are safe for concurrent use.
type Subscriber struct {
	b   *actors.Broker
	cfg SubscriberConfig
	log wm.LoggerAdapter
	pid *actor.PID // receives the publications of every topic

	// life ends with Close: it ends the queues and the subscriptions being
	// made.
	life   context.Context
	cancel context.CancelFunc

	decl declarations
	wg   sync.WaitGroup // one per queue's dispatcher

	mu     sync.Mutex
	closed bool
	topics map[string]*topicState

	done     chan struct{} // closed when the first Close has finished
	closeErr error
}

var (
	_ message.Subscriber           = (*Subscriber)(nil)
	_ message.SubscribeInitializer = (*Subscriber)(nil)
)

// topicState is a Subscriber's hold on one topic. q is set at creation;
// sub and err once ready is closed.
type topicState struct {
	q     *queue
	ready chan struct{}
	sub   *actors.Subscription
	err   error
}

// NewSubscriber returns a Subscriber on broker b (on a cluster node,
// cluster.Node.Broker). cfg is checked with Validate; a nil logger logs
// nothing. It spawns one actor on b's actor system, which Close stops.
func NewSubscriber(b *actors.Broker, cfg SubscriberConfig, logger wm.LoggerAdapter) (*Subscriber, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: bourse/watermill: NewSubscriber: nil broker", actors.ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = wm.NopLogger{}
	}
	life, cancel := context.WithCancel(context.Background())
	s := &Subscriber{b: b, cfg: cfg.withDefaults(), log: logger, life: life, cancel: cancel,
		decl: declarations{b: b}, topics: map[string]*topicState{}, done: make(chan struct{})}
	s.pid = b.System().Root.SpawnPrefix(actor.PropsFromFunc(s.receive), "bourse$watermill$")
	return s, nil
}

// SubscribeInitialize subscribes to topic without consuming: messages
// published from then on, from any node, wait in the Subscriber's queue for
// a later Subscribe. It returns once the subscription is in place on every
// node of the cluster (bourse's Subscribe), or when the Subscriber closes;
// Initialize is the same bounded by a context. Calling it again for a topic
// does nothing.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	return s.Initialize(context.Background(), topic)
}

// Initialize is SubscribeInitialize bounded by ctx.
func (s *Subscriber) Initialize(ctx context.Context, topic string) error {
	_, err := s.topic(ctx, topic)
	return err
}

// Subscribe returns a channel of topic's messages, subscribing first when
// SubscribeInitialize has not. Each message must be acked or nacked before
// the channel yields the next: Ack removes it for good; Nack puts it back at
// the head of the topic's queue, so that it comes again before any other.
// A message's context ends at its Ack or Nack, when ctx ends, or at Close.
//
// When ctx ends, the channel closes: at once if no message is out, or else
// after that message's Ack or Nack (a message the channel offered but
// nobody took stays queued). Close closes every channel at once; messages
// still queued, or out without an Ack, are dropped with the Subscriber.
//
// Subscribe blocks only while it subscribes (see SubscribeInitialize),
// bounded by ctx. It fails with ErrSubscriberClosed after Close, and with
// bourse's errors wrapped (ErrExchangeExists when topic is a req-resp
// exchange, ErrStopped).
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	q, err := s.topic(ctx, topic)
	if err != nil {
		return nil, err
	}
	c := &consumer{ctx: ctx, out: make(chan *message.Message)}
	select {
	case q.add <- c:
		return c.out, nil
	case <-q.life.Done():
		return nil, ErrSubscriberClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("bourse/watermill: subscribe to %q: %w", topic, ctx.Err())
	}
}

// topic returns topic's queue, declaring the exchange and subscribing the
// first time. Concurrent first calls for one topic subscribe once.
func (s *Subscriber) topic(ctx context.Context, topic string) (*queue, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrSubscriberClosed
	}
	t := s.topics[topic]
	first := t == nil
	if first {
		t = &topicState{q: newQueue(s.life, topic, s.cfg.Buffer, s.log), ready: make(chan struct{})}
		s.topics[topic] = t
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t.q.run()
		}()
	}
	s.mu.Unlock()
	if first {
		t.sub, t.err = s.open(ctx, topic)
		if t.err != nil {
			t.q.stop()
			s.mu.Lock()
			if s.topics[topic] == t {
				delete(s.topics, topic)
			}
			s.mu.Unlock()
		}
		close(t.ready)
	}
	select {
	case <-t.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("bourse/watermill: subscribe to %q: %w", topic, ctx.Err())
	}
	if t.err != nil {
		return nil, t.err
	}
	return t.q, nil
}

func (s *Subscriber) open(ctx context.Context, topic string) (*actors.Subscription, error) {
	ctx, cancel := joinContext(ctx, s.life)
	defer cancel()
	if err := s.decl.declare(ctx, topic); err != nil {
		return nil, fmt.Errorf("bourse/watermill: subscribe to %q: %w", topic, s.closedErr(err))
	}
	sub, err := s.b.Subscribe(ctx, topic, s.cfg.Pattern, s.pid)
	if err != nil {
		return nil, fmt.Errorf("bourse/watermill: subscribe to %q: %w", topic, s.closedErr(err))
	}
	return sub, nil
}

// closedErr is ErrSubscriberClosed when err came from Close ending a call.
func (s *Subscriber) closedErr(err error) error {
	if s.life.Err() != nil {
		return ErrSubscriberClosed
	}
	return err
}

// receive is the Subscriber's actor: it queues each publication for its
// topic's consumers.
func (s *Subscriber) receive(c actor.Context) {
	p, ok := c.Message().(*actors.Publication)
	if !ok {
		return
	}
	s.mu.Lock()
	t := s.topics[p.Exchange]
	s.mu.Unlock()
	if t == nil {
		return // unsubscribed meanwhile
	}
	env, ok := p.Payload.(*watermillpb.Envelope)
	if !ok {
		s.log.Error("dropped a publication that is not a Watermill message", nil,
			wm.LogFields{"topic": p.Exchange, "key": p.Key, "type": fmt.Sprintf("%T", p.Payload)})
		return
	}
	t.q.push(&item{uuid: env.GetUuid(), metadata: env.GetMetadata(), payload: env.GetPayload()})
}

// Close ends the Subscriber: every channel Subscribe returned closes, the
// contexts of messages out end, the bourse subscriptions end and the
// Subscriber's actor stops. Queued messages are dropped. It is Shutdown
// without a deadline: bourse's Unsubscribe answers from this node, so it
// does not wait for the cluster.
func (s *Subscriber) Close() error {
	return s.Shutdown(context.Background())
}

// Shutdown is Close bounded by ctx: when ctx ends first, it returns an error
// wrapping ctx.Err(), and what remains ends by itself. It is idempotent and
// safe for concurrent use: later calls wait for the first (or their own ctx)
// and return its result.
func (s *Subscriber) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	topics := make([]*topicState, 0, len(s.topics))
	for _, t := range s.topics {
		topics = append(topics, t)
	}
	s.mu.Unlock()
	if !first {
		select {
		case <-s.done:
			return s.closeErr
		default:
		}
		select {
		case <-s.done:
			return s.closeErr
		case <-ctx.Done():
			return fmt.Errorf("bourse/watermill: close: %w", ctx.Err())
		}
	}
	s.cancel() // closes the channels, ends subscriptions being made
	var errs []error
	for _, t := range topics {
		select {
		case <-t.ready:
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
			continue
		}
		if t.sub != nil {
			if err := t.sub.Unsubscribe(ctx); err != nil && !errors.Is(err, actors.ErrStopped) {
				errs = append(errs, fmt.Errorf("unsubscribe from %q: %w", t.q.topic, err))
			}
		}
	}
	s.b.System().Root.Stop(s.pid)
	waited := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	if err := errors.Join(errs...); err != nil {
		s.closeErr = fmt.Errorf("bourse/watermill: close: %w", err)
	}
	close(s.done)
	return s.closeErr
}
