package watermill_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/bourse-go/bourse/actors"
	watermill "github.com/bourse-go/bourse/contrib/watermill"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func newBroker(t *testing.T) *actors.Broker {
	t.Helper()
	b, err := actors.New(actors.WithLogger(slogger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return b
}

func newPubSub(t *testing.T, b *actors.Broker) (*watermill.Publisher, *watermill.Subscriber) {
	t.Helper()
	pub, err := watermill.NewPublisher(b, watermill.PublisherConfig{}, wm.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	sub := newSub(t, b)
	t.Cleanup(func() { _ = pub.Close() })
	return pub, sub
}

func newSub(t *testing.T, b *actors.Broker) *watermill.Subscriber {
	t.Helper()
	sub, err := watermill.NewSubscriber(b, watermill.SubscriberConfig{}, wm.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func publish(t *testing.T, pub message.Publisher, topic string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := pub.Publish(topic, message.NewMessage(id, []byte(id))); err != nil {
			t.Fatal(err)
		}
	}
}

func next(t *testing.T, msgs <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m, ok := <-msgs:
		if !ok {
			t.Fatal("channel closed")
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message after 5s")
		return nil
	}
}

func none(t *testing.T, msgs <-chan *message.Message) {
	t.Helper()
	select {
	case m, ok := <-msgs:
		if ok {
			t.Fatalf("got %s, want nothing", m.UUID)
		}
	case <-time.After(50 * time.Millisecond):
	}
}

// A Nack puts the message back at the head of the line.
func TestNackRedeliversFirst(t *testing.T) {
	b := newBroker(t)
	pub, sub := newPubSub(t, b)
	if err := sub.SubscribeInitialize("t"); err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "t", "1", "2", "3")
	msgs, err := sub.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 5; i++ {
		m := next(t, msgs)
		got = append(got, m.UUID)
		if i == 0 || i == 2 {
			m.Nack()
			select {
			case <-m.Context().Done():
			case <-time.After(5 * time.Second):
				t.Fatal("context not ended after Nack")
			}
			continue
		}
		m.Ack()
	}
	if want := "1 1 2 2 3"; join(got) != want {
		t.Errorf("deliveries %q, want %q", join(got), want)
	}
	none(t, msgs)
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

// Consumers of one Subscriber share its messages; another Subscriber gets
// them all; a consumer nobody reads holds nothing back.
func TestConsumersShareSubscribersCopy(t *testing.T) {
	b := newBroker(t)
	pub, sub := newPubSub(t, b)
	other := newSub(t, b)
	ctx := context.Background()
	idle, err := sub.Subscribe(ctx, "t") // never read
	if err != nil {
		t.Fatal(err)
	}
	_ = idle
	reader, err := sub.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	all, err := other.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "t", "1", "2", "3")
	for _, want := range []string{"1", "2", "3"} {
		if m := next(t, reader); m.UUID != want {
			t.Errorf("reader got %s, want %s", m.UUID, want)
		} else {
			m.Ack()
		}
		if m := next(t, all); m.UUID != want {
			t.Errorf("other subscriber got %s, want %s", m.UUID, want)
		} else {
			m.Ack()
		}
	}
}

// A consumer whose context ends keeps its message until its Ack or Nack,
// then its channel closes; a Nacked one goes to the next consumer.
func TestConsumerContextEnds(t *testing.T) {
	b := newBroker(t)
	pub, sub := newPubSub(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	msgs, err := sub.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "t", "1", "2")
	m := next(t, msgs)
	cancel()
	<-m.Context().Done() // derives from the Subscribe context
	none(t, msgs)        // still open, no second message
	m.Nack()
	select {
	case _, ok := <-msgs:
		if ok {
			t.Fatal("channel yielded after its context ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after the Nack")
	}
	msgs, err = sub.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1", "2"} {
		if m := next(t, msgs); m.UUID != want {
			t.Errorf("got %s, want %s", m.UUID, want)
		} else {
			m.Ack()
		}
	}
}

// Close is idempotent and safe for concurrent use; it closes the channels
// and ends what comes after.
func TestClose(t *testing.T) {
	b := newBroker(t)
	pub, sub := newPubSub(t, b)
	msgs, err := sub.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "t", "1")
	m := next(t, msgs)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := sub.Close(); err != nil {
				t.Errorf("Subscriber.Close: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			if err := pub.Close(); err != nil {
				t.Errorf("Publisher.Close: %v", err)
			}
		}()
	}
	wg.Wait()
	if _, ok := <-msgs; ok {
		t.Error("channel open after Close")
	}
	select {
	case <-m.Context().Done():
	default:
		t.Error("message context not ended by Close")
	}
	if _, err := sub.Subscribe(context.Background(), "t"); !errors.Is(err, watermill.ErrSubscriberClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrSubscriberClosed", err)
	}
	if err := sub.SubscribeInitialize("u"); !errors.Is(err, watermill.ErrSubscriberClosed) {
		t.Errorf("SubscribeInitialize after Close: %v, want ErrSubscriberClosed", err)
	}
	if err := pub.Publish("t", message.NewMessage("2", nil)); !errors.Is(err, watermill.ErrPublisherClosed) {
		t.Errorf("Publish after Close: %v, want ErrPublisherClosed", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sub.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after Close: %v, want the first call's nil", err)
	}
}

// bourse's errors come back wrapped; a publication of another type on a
// topic is dropped, not delivered.
func TestBourseErrorsAndForeignPayloads(t *testing.T) {
	b := newBroker(t)
	pub, sub := newPubSub(t, b)
	ctx := context.Background()
	if err := b.Declare(ctx, actors.Spec{Name: "rr", Kind: actors.ReqResp}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("rr", message.NewMessage("1", nil)); !errors.Is(err, actors.ErrExchangeExists) {
		t.Errorf("Publish to a req-resp exchange: %v, want ErrExchangeExists", err)
	}
	if _, err := sub.Subscribe(ctx, "rr"); !errors.Is(err, actors.ErrExchangeExists) {
		t.Errorf("Subscribe to a req-resp exchange: %v, want ErrExchangeExists", err)
	}
	keyed, err := watermill.NewPublisher(b, watermill.PublisherConfig{KeyFunc: func(string, *message.Message) string { return "a.*" }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer keyed.Close()
	if err := keyed.Publish("t", message.NewMessage("1", nil)); !errors.Is(err, actors.ErrInvalid) {
		t.Errorf("Publish with a malformed key: %v, want ErrInvalid", err)
	}
	msgs, err := sub.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "t", "native", wrapperspb.String("not a watermill message")); err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "t", "2")
	if m := next(t, msgs); m.UUID != "2" {
		t.Errorf("got %s, want 2", m.UUID)
	}
}

// A Subscriber's pattern selects routing keys within a topic.
func TestPattern(t *testing.T) {
	b := newBroker(t)
	key := func(_ string, m *message.Message) string { return "orders." + m.Metadata.Get("region") }
	pub, err := watermill.NewPublisher(b, watermill.PublisherConfig{KeyFunc: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := watermill.NewSubscriber(b, watermill.SubscriberConfig{Pattern: "orders.eu"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"us", "eu"} {
		m := message.NewMessage(r, nil)
		m.Metadata.Set("region", r)
		if err := pub.Publish("t", m); err != nil {
			t.Fatal(err)
		}
	}
	if m := next(t, msgs); m.UUID != "eu" {
		t.Errorf("got %s, want eu", m.UUID)
	}
	none(t, msgs)
}
