package exchange_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
)

// A payload of the wrong type keeps its identity across the wire: a
// *WrongTypeError comes back as one, with its types, however it was wrapped.
func TestWrongTypeErrorRoundTrip(t *testing.T) {
	wt := &exchange.WrongTypeError{Of: "request", Want: "*pb.Order", Got: "*wrapperspb.StringValue"}
	tests := []struct {
		name    string
		err     error
		want    *exchange.WrongTypeError // nil: not a *WrongTypeError on arrival
		wrongTy bool                     // errors.Is(back, ErrWrongType)
		msg     string                   // the message that arrives
	}{
		{"typed", wt, wt, true, "bourse: wrong type of request: want *pb.Order, got *wrapperspb.StringValue"},
		{"wrapped", fmt.Errorf("place order: %w", wt), wt, true, "bourse: wrong type of request: want *pb.Order, got *wrapperspb.StringValue"},
		{"in a RequestError", &exchange.RequestError{Exchange: "orders", Err: wt}, wt, true, "bourse: wrong type of request: want *pb.Order, got *wrapperspb.StringValue"},
		{"nil payload", &exchange.WrongTypeError{Of: "reply", Want: "*pb.Ack", Got: "nil"},
			&exchange.WrongTypeError{Of: "reply", Want: "*pb.Ack", Got: "nil"}, true, "bourse: wrong type of reply: want *pb.Ack, got nil"},
		{"bare sentinel", fmt.Errorf("decode: %w", exchange.ErrWrongType), nil, true, "decode: bourse: invalid argument: wrong payload type"},
		{"other invalid argument", fmt.Errorf("%w: bad quantity", exchange.ErrInvalid), nil, false, "bourse: invalid argument: bad quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := exchange.ErrorToWire("orders", tt.err)
			want := boursepb.Code_CODE_INVALID
			if tt.wrongTy {
				want = boursepb.Code_CODE_WRONG_TYPE
			}
			if w.GetCode() != want {
				t.Fatalf("code = %v, want %v", w.GetCode(), want)
			}
			back := exchange.ErrorFromWire(w)
			if !errors.Is(back, exchange.ErrInvalid) {
				t.Errorf("%v: not ErrInvalid", back)
			}
			if got := errors.Is(back, exchange.ErrWrongType); got != tt.wrongTy {
				t.Errorf("errors.Is(%v, ErrWrongType) = %v, want %v", back, got, tt.wrongTy)
			}
			if back.Error() != tt.msg {
				t.Errorf("message %q, want %q", back.Error(), tt.msg)
			}
			var got *exchange.WrongTypeError
			switch ok := errors.As(back, &got); {
			case tt.want == nil && ok:
				t.Errorf("came back as %#v, want no WrongTypeError", got)
			case tt.want != nil && (!ok || *got != *tt.want):
				t.Errorf("came back as %#v, want %#v", back, tt.want)
			}
		})
	}
	// A WrongTypeError answered by a handler is not turned into a
	// HandlerError: it is the exchange's own error.
	if code := exchange.CodeOf(wt); code != boursepb.Code_CODE_WRONG_TYPE {
		t.Errorf("CodeOf = %v", code)
	}
	if (&exchange.WrongTypeError{Want: "A", Got: "B"}).Error() != "bourse: wrong type of payload: want A, got B" {
		t.Error("empty Of")
	}
}
