package exchange

import (
	"errors"
	"fmt"
	"strings"

	boursepb "github.com/bourse-go/bourse/proto"
)

// ErrWrongType means a payload is not of the type a typed call or handler
// expects (see actors.Call, actors.ServeFunc): a request of the wrong type
// reached a typed handler, or a reply of the wrong type came back to a typed
// call. *WrongTypeError carries the two types. ErrWrongType wraps
// ErrInvalid; it has a wire code of its own, and an error wrapping it comes
// back from another node as the same: a *WrongTypeError as a
// *WrongTypeError.
var ErrWrongType = fmt.Errorf("%w: wrong payload type", ErrInvalid)

// WrongTypeError is a payload of the wrong type. errors.Is holds for
// ErrWrongType and ErrInvalid.
type WrongTypeError struct {
	// Of is what the payload is: "request", "reply" or "publication".
	Of string
	// Want is the Go type expected, as %T prints it (*pb.Order).
	Want string
	// Got is the Go type that came, or "nil" for none.
	Got string
}

// wrongTypePrefix starts every WrongTypeError's message; ErrorFromWire
// recognises it.
const wrongTypePrefix = "bourse: wrong type of "

func (e *WrongTypeError) Error() string {
	of := e.Of
	if of == "" {
		of = "payload"
	}
	return wrongTypePrefix + of + ": want " + e.Want + ", got " + e.Got
}

// Unwrap returns ErrWrongType.
func (e *WrongTypeError) Unwrap() error { return ErrWrongType }

// A WrongTypeError travels as CODE_WRONG_TYPE with its own message, from
// which the receiving node rebuilds it.

// wrongTypeToWire returns the wire form of err when it wraps a
// *WrongTypeError, else nil. (Any other error wrapping ErrWrongType gets
// CODE_WRONG_TYPE from CodeOf.)
func wrongTypeToWire(exchange string, err error) *boursepb.Error {
	var wt *WrongTypeError
	if !errors.As(err, &wt) {
		return nil
	}
	return &boursepb.Error{Code: boursepb.Code_CODE_WRONG_TYPE, Message: wt.Error(), Exchange: exchange}
}

// wrongTypeFromWire rebuilds the error wrapping ErrWrongType that e carries
// (a *WrongTypeError when it was one), or returns nil when e is not one.
func wrongTypeFromWire(e *boursepb.Error) error {
	if e.GetCode() != boursepb.Code_CODE_WRONG_TYPE {
		return nil
	}
	rest, ok := strings.CutPrefix(e.GetMessage(), wrongTypePrefix)
	if !ok {
		return &RemoteError{Exchange: e.GetExchange(), Message: e.GetMessage(), Err: ErrWrongType}
	}
	of, rest, ok := strings.Cut(rest, ": want ")
	if !ok {
		return nil
	}
	want, got, ok := strings.Cut(rest, ", got ")
	if !ok {
		return nil
	}
	return &WrongTypeError{Of: of, Want: want, Got: got}
}
