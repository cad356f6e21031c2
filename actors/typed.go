package actors

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/bourse-go/bourse/exchange"
	"google.golang.org/protobuf/proto"
)

// Typed calls, handlers and subscribers: the common case without a type
// assertion. Payloads are still proto.Message underneath; a payload of
// another type than the one named is a *WrongTypeError (ErrWrongType),
// never a panic.

// Call sends req to req-resp exchange name and waits for the reply, as
// Broker.Request does (same options, same errors), and returns the reply as
// a Resp. A reply of another type fails with a *WrongTypeError (Of
// "reply"), which matches ErrWrongType and ErrInvalid; a handler that
// answered no message gives the zero Resp and a nil error.
//
//	ack, err := actors.Call[*pb.Ack](ctx, b, "orders", order, actors.WithKey("AAPL"))
func Call[Resp proto.Message](ctx context.Context, b *Broker, name string, req proto.Message, opts ...CallOption) (Resp, error) {
	var zero Resp
	reply, err := b.hub.Request(ctx, name, req, opts...)
	if err != nil || reply == nil {
		return zero, err
	}
	r, ok := reply.(Resp)
	if !ok {
		return zero, &exchange.RequestError{Exchange: name, Err: wrongType[Resp]("reply", reply)}
	}
	return r, nil
}

// TypedFunc adapts a function of a typed request and reply to the Handler
// interface, as HandlerFunc does for untyped ones. Its ctx is Handle's: it
// ends at the caller's deadline, when the request has one. A request of another
// type than Req (or with no payload) is answered with a *WrongTypeError (Of
// "request") without calling f, and the caller receives it, on this node or
// another. A nil pointer reply is sent as no message.
type TypedFunc[Req, Resp proto.Message] func(ctx context.Context, req Req) (Resp, error)

// Handle checks the payload's type and calls f.
func (f TypedFunc[Req, Resp]) Handle(ctx context.Context, r *Request) (proto.Message, error) {
	req, ok := r.Payload.(Req)
	if !ok {
		return nil, wrongType[Req]("request", r.Payload)
	}
	resp, err := f(ctx, req)
	if err != nil {
		return nil, err
	}
	m := proto.Message(resp)
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil, nil // the same on every node: a nil pointer would arrive elsewhere as an empty message
	}
	return m, nil
}

// ServeFunc is Broker.Serve for a typed function: it spawns a service that
// hands each request of req-resp exchange name to fn as a Req, and sends
// back fn's Resp. Options, the returned *Service (Stop it to stop serving)
// and the errors are those of Serve; see TypedFunc for payloads of the wrong
// type.
//
//	svc, err := actors.ServeFunc(ctx, b, "orders", func(ctx context.Context, o *pb.Order) (*pb.Ack, error) {
//		return book.Place(o)
//	}, actors.WithConnectOptions(actors.ServiceTag("eu")))
func ServeFunc[Req, Resp proto.Message](ctx context.Context, b *Broker, name string, fn func(ctx context.Context, req Req) (Resp, error), opts ...ServeOption) (*Service, error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: nil handler function", ErrInvalid)
	}
	return b.Serve(ctx, name, TypedFunc[Req, Resp](fn), opts...)
}

// SubscribeFunc is Broker.SubscribeFunc for a typed function: fn receives
// each publication's routing key and its payload as a T, from an actor of
// its own (calls never overlap, in publication order). A publication of
// another type is not passed to fn: it is logged, at warning level with a
// *WrongTypeError, and dropped. Unsubscribing does not stop the actor; Stop
// of the broker does.
//
//	sub, err := actors.SubscribeFunc(ctx, b, "prices", "prices.*.AAPL", func(key string, t *pb.Tick) { ... })
func SubscribeFunc[T proto.Message](ctx context.Context, b *Broker, name, pattern string, fn func(key string, msg T), opts ...SubscribeOption) (*Subscription, error) {
	if fn == nil {
		return nil, fmt.Errorf("%w: nil subscriber function", ErrInvalid)
	}
	return b.SubscribeFunc(ctx, name, pattern, func(p *Publication) {
		msg, ok := p.Payload.(T)
		if !ok {
			b.hub.Logger().Warn("bourse: publication of the wrong type dropped", slog.String("exchange", p.Exchange),
				slog.String("key", p.Key), slog.Any("error", wrongType[T]("publication", p.Payload)))
			return
		}
		fn(p.Key, msg)
	}, opts...)
}

// wrongType describes payload, which is not a T.
func wrongType[T any](of string, payload any) *WrongTypeError {
	got := "nil"
	if payload != nil {
		got = fmt.Sprintf("%T", payload)
	}
	return &WrongTypeError{Of: of, Want: reflect.TypeFor[T]().String(), Got: got}
}
