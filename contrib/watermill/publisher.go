package watermill

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sync"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/contrib/watermill/watermillpb"
)

// Publisher is a message.Publisher that publishes on bourse pub-sub
// exchanges: topic T goes to exchange T, declared on first use. Its methods
// are safe for concurrent use.
type Publisher struct {
	b   *actors.Broker
	cfg PublisherConfig
	log wm.LoggerAdapter

	// life ends with Close: it bounds the declarations Publish makes.
	life   context.Context
	cancel context.CancelFunc

	decl declarations

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup // Publish calls under way
	done     chan struct{}  // closed when Close has finished
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher on broker b (on a cluster node,
// cluster.Node.Broker). cfg is checked with Validate; a nil logger logs
// nothing. It starts nothing: Close ends what Publish started.
func NewPublisher(b *actors.Broker, cfg PublisherConfig, logger wm.LoggerAdapter) (*Publisher, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: bourse/watermill: NewPublisher: nil broker", actors.ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = wm.NopLogger{}
	}
	life, cancel := context.WithCancel(context.Background())
	return &Publisher{b: b, cfg: cfg.withDefaults(), log: logger, life: life, cancel: cancel,
		decl: declarations{b: b}, done: make(chan struct{})}, nil
}

// Publish publishes msgs, in order, on the exchange named topic, declaring it
// (as an actors.PubSub exchange) the first time this Publisher sees topic.
// Each message travels as a *watermillpb.Envelope (UUID, metadata, payload)
// under the configured routing key; its context bounds its publication and
// does not travel. Publish returns once every message is handed to bourse,
// which does not wait for delivery: a topic with no subscriber anywhere
// drops them (bourse keeps no log).
//
// It may be called by several goroutines at once; messages of one goroutine
// reach each subscriber in the order they were published. It fails with
// ErrPublisherClosed after Close, and stops at the first message bourse
// refuses (an error wrapping bourse's sentinel: ErrExchangeExists when topic
// is a req-resp exchange, ErrInvalid for a malformed key, ErrStopped).
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPublisherClosed
	}
	p.inflight.Add(1)
	p.mu.Unlock()
	defer p.inflight.Done()

	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := joinContext(msgs[0].Context(), p.life)
	err := p.decl.declare(ctx, topic)
	cancel()
	if err != nil {
		return fmt.Errorf("bourse/watermill: publish to %q: %w", topic, err)
	}
	for _, msg := range msgs {
		key := p.cfg.Key
		if p.cfg.KeyFunc != nil {
			key = p.cfg.KeyFunc(topic, msg)
		}
		env := &watermillpb.Envelope{Uuid: msg.UUID, Metadata: maps.Clone(map[string]string(msg.Metadata)), Payload: bytes.Clone(msg.Payload)}
		if err := p.b.Publish(msg.Context(), topic, key, env); err != nil {
			return fmt.Errorf("bourse/watermill: publish %s to %q: %w", msg.UUID, topic, err)
		}
		p.log.Trace("published", wm.LogFields{"topic": topic, "uuid": msg.UUID, "key": key})
	}
	return nil
}

// Close ends the Publisher: later Publish calls fail with ErrPublisherClosed,
// a declaration under way is abandoned, and Close returns once every Publish
// call under way has returned. It is idempotent and safe for concurrent use:
// every call returns nil once the first one has finished. Messages already
// handed to bourse are not called back. Close does not stop the broker.
func (p *Publisher) Close() error {
	p.mu.Lock()
	first := !p.closed
	p.closed = true
	p.mu.Unlock()
	if !first {
		<-p.done
		return nil
	}
	p.cancel()
	p.inflight.Wait()
	close(p.done)
	return nil
}

// joinContext returns a context that ends when either a or b ends, and
// carries a's values.
func joinContext(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// declarations declares each topic's exchange once per Publisher or
// Subscriber: bourse's Declare is idempotent but takes the hub's lock and,
// the first time on a node, a round trip to the exchange's authority.
type declarations struct {
	b    *actors.Broker
	mu   sync.Mutex
	done map[string]bool
}

func (d *declarations) declare(ctx context.Context, topic string) error {
	d.mu.Lock()
	ok := d.done[topic]
	d.mu.Unlock()
	if ok {
		return nil
	}
	if err := d.b.Declare(ctx, actors.Spec{Name: topic, Kind: actors.PubSub}); err != nil {
		return err
	}
	d.mu.Lock()
	if d.done == nil {
		d.done = map[string]bool{}
	}
	d.done[topic] = true
	d.mu.Unlock()
	return nil
}
