package exchange

import (
	"context"
	"errors"
	"fmt"

	"github.com/bourse-go/bourse/errs"
	boursepb "github.com/bourse-go/bourse/proto"
	"github.com/bourse-go/bourse/strategies"
)

// Sentinel errors. Every error the package returns wraps one of them, and each
// maps to a boursepb.Code so that it keeps its identity across the wire.
var (
	// ErrNoHandlers means no handler is connected to the exchange (for the
	// request's service tag). It is returned at once, never after a wait.
	ErrNoHandlers = strategies.ErrNoHandlers
	// ErrRejected means the exchange's strategy refused the request.
	ErrRejected = strategies.ErrRejected
	// ErrNoLeader means a leader-only exchange (consensus) has no leader at
	// the moment: the leader's node was declared down and the successor is
	// not appointed yet (a silent leader's lease must run out first), or this
	// node is on the minority side of a partition. Returned at once.
	ErrNoLeader = strategies.ErrNoLeader
	// ErrOverloaded means the request found no room: its handler's queue
	// was full (Concurrency, QueueLimit, Config.Handlers), or, under
	// local-first with the overload policy "fail", no handler had free
	// capacity. Returned at once; the handler never saw the request.
	ErrOverloaded = strategies.ErrOverloaded
	// ErrTimeout means the caller's context ended before the reply came.
	ErrTimeout = errors.New("bourse: request timed out")
	// ErrHandler means the handler answered with an error (see HandlerError).
	ErrHandler = errors.New("bourse: handler failed")
	// ErrUnknownExchange means no exchange of that name is declared.
	ErrUnknownExchange = errors.New("bourse: unknown exchange")
	// ErrWrongKind means the call does not fit the exchange's kind (a request
	// to a pub-sub exchange, a publication to a req-resp one).
	ErrWrongKind = errors.New("bourse: wrong exchange kind")
	// ErrExchangeExists means an exchange of that name is declared with a
	// different kind or strategy.
	ErrExchangeExists = errors.New("bourse: exchange already declared differently")
	// ErrAlreadyConnected means the actor is already connected to the exchange
	// under that connection tag.
	ErrAlreadyConnected = errors.New("bourse: already connected")
	// ErrNodeDown means the node hosting the handler went away while the
	// request was in flight.
	ErrNodeDown = errors.New("bourse: node down")
	// ErrStopped means the hub was stopped.
	ErrStopped = errors.New("bourse: stopped")
	// ErrInvalid means an argument is malformed (empty name, nil PID, bad
	// routing key or pattern, bad exchange spec or Config). It is
	// errs.ErrInvalid, the one sentinel of bad arguments and configuration
	// in every bourse package; Spec.Validate and Config.Validate return an
	// *errs.FieldError naming the field.
	ErrInvalid = errs.ErrInvalid
	// ErrRedirectLoop means fun strategies redirected a request more than
	// Config.MaxRedirects times.
	ErrRedirectLoop = errors.New("bourse: too many redirects")
)

// errUndelivered: the request reached the handler's node after the
// handler's actor had stopped, so no handler saw it. It matches
// ErrNoHandlers. Request sends such a request again to the handler its
// strategy picks then (see maxResends); callers see it only when that
// fails too.
var errUndelivered = &undelivered{}

type undelivered struct{}

func (*undelivered) Error() string {
	return "bourse: no handlers: its handler stopped before it got the request"
}
func (*undelivered) Unwrap() error { return ErrNoHandlers }

// codes maps each sentinel to its wire code, in the order CodeOf tries them:
// an error that wraps two sentinels gets the code of the first one listed.
// The more specific causes come first (a node that went down, a timeout)
// and the argument errors last.
var codes = []struct {
	code boursepb.Code
	err  error
}{
	{boursepb.Code_CODE_NODE_DOWN, ErrNodeDown},
	{boursepb.Code_CODE_TIMEOUT, ErrTimeout},
	{boursepb.Code_CODE_STOPPED, ErrStopped},
	{boursepb.Code_CODE_NO_LEADER, ErrNoLeader},
	{boursepb.Code_CODE_OVERLOADED, ErrOverloaded},
	{boursepb.Code_CODE_UNDELIVERED, errUndelivered}, // before ErrNoHandlers, which it wraps
	{boursepb.Code_CODE_NO_HANDLERS, ErrNoHandlers},
	{boursepb.Code_CODE_REJECTED, ErrRejected},
	{boursepb.Code_CODE_REDIRECT_LOOP, ErrRedirectLoop},
	{boursepb.Code_CODE_UNKNOWN_EXCHANGE, ErrUnknownExchange},
	{boursepb.Code_CODE_WRONG_KIND, ErrWrongKind},
	{boursepb.Code_CODE_EXCHANGE_EXISTS, ErrExchangeExists},
	{boursepb.Code_CODE_ALREADY_CONNECTED, ErrAlreadyConnected},
	{boursepb.Code_CODE_WRONG_TYPE, ErrWrongType}, // before ErrInvalid, which it wraps
	{boursepb.Code_CODE_INVALID, ErrInvalid},
	{boursepb.Code_CODE_SLOW_CONSUMER, ErrSlowConsumer},
	{boursepb.Code_CODE_HANDLER, ErrHandler},
}

// CodeOf returns the wire code of err's sentinel: of the first sentinel in
// a fixed order when err wraps several (ErrNodeDown, ErrTimeout,
// ErrStopped, ErrNoLeader, ErrOverloaded, ErrNoHandlers, ErrRejected, ErrRedirectLoop,
// ErrUnknownExchange, ErrWrongKind, ErrExchangeExists,
// ErrAlreadyConnected, ErrInvalid, ErrSlowConsumer), so the same error always gets the same
// code. Errors wrapping none of them are handler failures (CODE_HANDLER).
func CodeOf(err error) boursepb.Code {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return boursepb.Code_CODE_HANDLER
}

// sentinelOf returns the sentinel of a wire code, or nil for CODE_HANDLER
// and codes this version does not know.
func sentinelOf(code boursepb.Code) error {
	if code == boursepb.Code_CODE_HANDLER {
		return nil
	}
	for _, c := range codes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}

// ErrorToWire turns err into its wire form, keeping its identity in Code.
func ErrorToWire(exchange string, err error) *boursepb.Error {
	if err == nil {
		return nil
	}
	var he *HandlerError
	if errors.As(err, &he) {
		return &boursepb.Error{Code: boursepb.Code_CODE_HANDLER, Message: he.Message, Exchange: exchange}
	}
	if w := wrongTypeToWire(exchange, err); w != nil {
		return w
	}
	return &boursepb.Error{Code: CodeOf(err), Message: err.Error(), Exchange: exchange}
}

// ErrorFromWire turns a wire error back into an error wrapping the sentinel its
// code names. Handler failures come back as *HandlerError.
func ErrorFromWire(e *boursepb.Error) error {
	if e == nil {
		return nil
	}
	if err := wrongTypeFromWire(e); err != nil {
		return err
	}
	sentinel := sentinelOf(e.GetCode())
	if sentinel == nil {
		return &HandlerError{Exchange: e.GetExchange(), Message: e.GetMessage()}
	}
	return &RemoteError{Exchange: e.GetExchange(), Message: e.GetMessage(), Err: sentinel}
}

// HandlerError is the error a handler answered with. Only its message crosses
// the wire; errors.Is(err, ErrHandler) holds.
type HandlerError struct {
	Exchange string
	Message  string
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("bourse: exchange %q: handler failed: %s", e.Exchange, e.Message)
}

// Unwrap returns ErrHandler.
func (e *HandlerError) Unwrap() error { return ErrHandler }

// RemoteError is an error of bourse's own (not a handler's) that came back
// from another actor or node; it wraps the sentinel named by its wire code.
type RemoteError struct {
	Exchange string
	Message  string
	Err      error
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel.
func (e *RemoteError) Unwrap() error { return e.Err }

// RequestError is the error of a call on an exchange: which exchange, and why.
type RequestError struct {
	Exchange string
	Err      error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("bourse: exchange %q: %s", e.Exchange, trimPrefix(e.Err.Error()))
}

// Unwrap returns the cause.
func (e *RequestError) Unwrap() error { return e.Err }

// TimeoutError is returned when the caller's context ends before the reply.
// errors.Is holds for ErrTimeout and for the context's own error
// (context.DeadlineExceeded or context.Canceled).
type TimeoutError struct {
	Exchange string
	Cause    error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("bourse: exchange %q: request timed out (%v)", e.Exchange, e.Cause)
}

// Unwrap returns ErrTimeout and the context's error.
func (e *TimeoutError) Unwrap() []error { return []error{ErrTimeout, e.Cause} }

func timeoutError(name string, ctx context.Context) error {
	cause := ctx.Err()
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	return &TimeoutError{Exchange: name, Cause: cause}
}

// reqErr adds the exchange's name to err unless err names it already.
func reqErr(name string, err error) error {
	var (
		re *RequestError
		he *HandlerError
		te *TimeoutError
	)
	if errors.As(err, &re) || errors.As(err, &he) || errors.As(err, &te) {
		return err
	}
	return &RequestError{Exchange: name, Err: err}
}

func trimPrefix(s string) string {
	const p = "bourse: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
