package actors_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCall(t *testing.T) {
	b := newBroker(t, actors.WithLogger(quietLogger()))
	ctx := ctxT(t)
	for _, s := range []actors.Spec{
		{Name: "echo", Kind: actors.ReqResp, Strategy: "round-robin"},
		{Name: "int", Kind: actors.ReqResp, Strategy: "round-robin"},
		{Name: "empty", Kind: actors.ReqResp, Strategy: "round-robin"},
		{Name: "fails", Kind: actors.ReqResp, Strategy: "round-robin"},
		{Name: "nobody", Kind: actors.ReqResp, Strategy: "round-robin"},
	} {
		if err := b.Declare(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	serve := func(name string, h actors.HandlerFunc) {
		if _, err := b.Serve(ctx, name, h); err != nil {
			t.Fatal(err)
		}
	}
	serve("echo", func(_ context.Context, r *actors.Request) (proto.Message, error) { return r.Payload, nil })
	serve("int", func(context.Context, *actors.Request) (proto.Message, error) { return wrapperspb.Int64(7), nil })
	serve("empty", func(context.Context, *actors.Request) (proto.Message, error) { return nil, nil })
	serve("fails", func(context.Context, *actors.Request) (proto.Message, error) { return nil, errors.New("disk full") })

	tests := []struct {
		name     string
		exchange string
		want     string // the reply's value, when no error
		wantErr  error  // errors.Is
		wrong    *actors.WrongTypeError
		msg      string // the error's message
	}{
		{name: "right type", exchange: "echo", want: "hi"},
		{name: "wrong type", exchange: "int", wantErr: actors.ErrWrongType,
			wrong: &actors.WrongTypeError{Of: "reply", Want: "*wrapperspb.StringValue", Got: "*wrapperspb.Int64Value"},
			msg:   `bourse: exchange "int": wrong type of reply: want *wrapperspb.StringValue, got *wrapperspb.Int64Value`},
		{name: "no message", exchange: "empty"},
		{name: "handler error", exchange: "fails", wantErr: actors.ErrHandler,
			msg: `bourse: exchange "fails": handler failed: disk full`},
		{name: "no handlers", exchange: "nobody", wantErr: actors.ErrNoHandlers,
			msg: `bourse: exchange "nobody": no handlers`},
		{name: "unknown exchange", exchange: "nope", wantErr: actors.ErrUnknownExchange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := actors.Call[*wrapperspb.StringValue](ctx, b, tt.exchange, wrapperspb.String("hi"))
			if tt.wantErr == nil {
				if err != nil || got.GetValue() != tt.want {
					t.Fatalf("Call = %v, %v; want %q", got, err, tt.want)
				}
				return
			}
			if got != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Call = %v, %v; want nil and %v", got, err, tt.wantErr)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err.Error(), tt.msg)
			}
			var wt *actors.WrongTypeError
			if errors.As(err, &wt) != (tt.wrong != nil) || (tt.wrong != nil && *wt != *tt.wrong) {
				t.Errorf("WrongTypeError %+v, want %+v", wt, tt.wrong)
			}
			if tt.wrong != nil && !errors.Is(err, actors.ErrInvalid) {
				t.Errorf("%v does not match ErrInvalid", err)
			}
		})
	}
	// Any message satisfies proto.Message.
	if got, err := actors.Call[proto.Message](ctx, b, "int", wrapperspb.String("x")); err != nil || got.(*wrapperspb.Int64Value).GetValue() != 7 {
		t.Fatalf("Call[proto.Message] = %v, %v", got, err)
	}
}

func TestServeFunc(t *testing.T) {
	b := newBroker(t, actors.WithLogger(quietLogger()))
	ctx := ctxT(t)
	if err := b.Declare(ctx, actors.Spec{Name: "greet", Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		t.Fatal(err)
	}
	svc, err := actors.ServeFunc(ctx, b, "greet", func(_ context.Context, name *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		switch name.GetValue() {
		case "nobody":
			return nil, errors.New("no such user")
		case "nil":
			return nil, nil
		case "boom":
			panic("nil map")
		}
		return wrapperspb.String("hello, " + name.GetValue()), nil
	}, actors.WithConnectOptions(actors.ServiceTag("eu")))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		req     proto.Message
		opts    []actors.CallOption
		want    string
		wantErr error
		wrong   *actors.WrongTypeError
		msg     string
	}{
		{name: "right type", req: wrapperspb.String("ann"), want: "hello, ann"},
		{name: "service tag", req: wrapperspb.String("bob"), opts: []actors.CallOption{actors.WithServiceTag("eu")}, want: "hello, bob"},
		{name: "other service tag", req: wrapperspb.String("bob"), opts: []actors.CallOption{actors.WithServiceTag("us")}, wantErr: actors.ErrNoHandlers},
		{name: "wrong request type", req: wrapperspb.Int64(1), wantErr: actors.ErrWrongType,
			wrong: &actors.WrongTypeError{Of: "request", Want: "*wrapperspb.StringValue", Got: "*wrapperspb.Int64Value"},
			msg:   `bourse: exchange "greet": wrong type of request: want *wrapperspb.StringValue, got *wrapperspb.Int64Value`},
		{name: "no request payload", req: nil, wantErr: actors.ErrWrongType,
			wrong: &actors.WrongTypeError{Of: "request", Want: "*wrapperspb.StringValue", Got: "nil"}},
		{name: "handler error", req: wrapperspb.String("nobody"), wantErr: actors.ErrHandler,
			msg: `bourse: exchange "greet": handler failed: no such user`},
		{name: "handler panics", req: wrapperspb.String("boom"), wantErr: actors.ErrHandler},
		{name: "nil reply", req: wrapperspb.String("nil")},
		{name: "still serving after all that", req: wrapperspb.String("cy"), want: "hello, cy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := actors.Call[*wrapperspb.StringValue](ctx, b, "greet", tt.req, tt.opts...)
			if tt.wantErr == nil {
				if err != nil || got.GetValue() != tt.want || (tt.want == "" && got != nil) {
					t.Fatalf("Call = %v, %v; want %q", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Call = %v, %v; want %v", got, err, tt.wantErr)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err.Error(), tt.msg)
			}
			var wt *actors.WrongTypeError
			if errors.As(err, &wt) != (tt.wrong != nil) || (tt.wrong != nil && *wt != *tt.wrong) {
				t.Errorf("WrongTypeError %+v, want %+v", wt, tt.wrong)
			}
		})
	}

	// The service is a Service like Serve's: Stop stops it.
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := actors.Call[*wrapperspb.StringValue](ctx, b, "greet", wrapperspb.String("x")); !errors.Is(err, actors.ErrNoHandlers) {
		t.Fatalf("after Stop: %v, want ErrNoHandlers", err)
	}
	var nilFn func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	if _, err := actors.ServeFunc(ctx, b, "greet", nilFn); !errors.Is(err, actors.ErrInvalid) {
		t.Fatalf("nil function: %v, want ErrInvalid", err)
	}
	if _, err := actors.ServeFunc(ctx, b, "nope", func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return nil, nil
	}); !errors.Is(err, actors.ErrUnknownExchange) {
		t.Fatalf("unknown exchange: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSubscribeFuncTyped(t *testing.T) {
	var logs syncBuffer
	b := newBroker(t, actors.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := ctxT(t)
	if err := b.Declare(ctx, actors.Spec{Name: "prices", Kind: actors.PubSub}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	if _, err := actors.SubscribeFunc(ctx, b, "prices", "prices.#", func(key string, px *wrapperspb.DoubleValue) {
		got <- fmt.Sprintf("%s=%v", key, px.GetValue())
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     string
		payload proto.Message
		want    string // "" when dropped
	}{
		{"right type", "prices.nyse.AAPL", wrapperspb.Double(189.5), "prices.nyse.AAPL=189.5"},
		{"wrong type", "prices.nyse.MSFT", wrapperspb.String("402.1"), ""},
		{"after a wrong one", "prices.lse.AAPL", wrapperspb.Double(189.4), "prices.lse.AAPL=189.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.Publish(ctx, "prices", tt.key, tt.payload); err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				waitUntil(t, "the dropped publication's log", func() bool {
					return strings.Contains(logs.String(), "wrong type of publication: want *wrapperspb.DoubleValue, got *wrapperspb.StringValue")
				})
				return
			}
			select {
			case g := <-got:
				if g != tt.want {
					t.Fatalf("got %q, want %q", g, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("publication never arrived")
			}
		})
	}
	select {
	case g := <-got:
		t.Fatalf("unexpected %q", g)
	default:
	}
	var nilFn func(string, *wrapperspb.DoubleValue)
	if _, err := actors.SubscribeFunc(ctx, b, "prices", "#", nilFn); !errors.Is(err, actors.ErrInvalid) {
		t.Fatalf("nil function: %v, want ErrInvalid", err)
	}
}
