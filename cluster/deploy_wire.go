package cluster

import (
	"errors"
	"maps"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster/deploy"
	boursepb "github.com/bourse-go/bourse/proto"
)

// specToWire and specFromWire carry a deploy.Spec between nodes without
// loss: the store keeps wire entries, and every node reads them back into
// the same Spec.
func specToWire(s deploy.Spec) *boursepb.DeploySpec {
	w := &boursepb.DeploySpec{
		Name: s.Name, Exchange: s.Exchange, Kind: s.Kind, Mode: string(s.Mode),
		Total: int32(s.Total), MaxPerNode: int32(s.MaxPerNode),
		MatchLabels: maps.Clone(s.Selector.MatchLabels), ServiceTag: s.ServiceTag,
		Params: maps.Clone(s.Params), KeepPartial: s.KeepPartial,
	}
	for _, r := range s.Selector.MatchExpressions {
		w.MatchExpressions = append(w.MatchExpressions, &boursepb.DeployRequirement{
			Key: r.Key, Op: string(r.Op), Values: append([]string(nil), r.Values...)})
	}
	return w
}

func specFromWire(w *boursepb.DeploySpec) deploy.Spec {
	s := deploy.Spec{
		Name: w.GetName(), Exchange: w.GetExchange(), Kind: w.GetKind(), Mode: deploy.Mode(w.GetMode()),
		Total: int(w.GetTotal()), MaxPerNode: int(w.GetMaxPerNode()),
		ServiceTag: w.GetServiceTag(), KeepPartial: w.GetKeepPartial(),
	}
	if len(w.GetMatchLabels()) > 0 {
		s.Selector.MatchLabels = maps.Clone(w.GetMatchLabels())
	}
	if len(w.GetParams()) > 0 {
		s.Params = maps.Clone(w.GetParams())
	}
	for _, r := range w.GetMatchExpressions() {
		s.Selector.MatchExpressions = append(s.Selector.MatchExpressions, deploy.Requirement{
			Key: r.GetKey(), Op: deploy.Operator(r.GetOp()), Values: append([]string(nil), r.GetValues()...)})
	}
	return s
}

// Failure reasons on the wire (DeployFailure.reason), each naming the
// sentinel the receiving node wraps again.
const (
	reasonStart       = "start"
	reasonUnknownKind = "unknown-kind"
	reasonInvalidKind = "invalid-kind"
	reasonServe       = "serve"
	reasonUnknownEx   = "unknown-exchange"
)

// failureToWire keeps an instance's failure's identity across nodes: the
// receiving node rebuilds an error wrapping the same sentinel.
func failureToWire(err error) *boursepb.DeployFailure {
	if err == nil {
		return nil
	}
	reason := reasonStart
	switch {
	case errors.Is(err, deploy.ErrUnknownKind):
		reason = reasonUnknownKind
	case errors.Is(err, deploy.ErrInvalidKind):
		reason = reasonInvalidKind
	case errors.Is(err, actors.ErrUnknownExchange):
		reason = reasonUnknownEx
	case errors.Is(err, errServe):
		reason = reasonServe
	}
	return &boursepb.DeployFailure{Reason: reason, Message: err.Error()}
}

func failureFromWire(f *boursepb.DeployFailure) error {
	if f == nil {
		return nil
	}
	var sentinel error
	switch f.GetReason() {
	case reasonUnknownKind:
		sentinel = deploy.ErrUnknownKind
	case reasonInvalidKind:
		sentinel = deploy.ErrInvalidKind
	case reasonUnknownEx:
		sentinel = actors.ErrUnknownExchange
	default:
		sentinel = deploy.ErrStartFailed
	}
	return &remoteFailure{msg: f.GetMessage(), err: sentinel}
}

// errServe marks a failure to connect an instance that its constructor
// built (Broker.Serve failed); it wraps deploy.ErrStartFailed.
var errServe = errors.New("serve")

// remoteFailure is an instance's failure as another node reported it: its
// message, and the sentinel it wrapped there.
type remoteFailure struct {
	msg string
	err error
}

func (e *remoteFailure) Error() string { return e.msg }
func (e *remoteFailure) Unwrap() error { return e.err }

// startError wraps a constructor's or Serve's failure so that it matches
// deploy.ErrStartFailed, keeping the cause.
type startError struct {
	serve bool
	err   error
}

func (e *startError) Error() string {
	if e.serve {
		return "connect: " + e.err.Error()
	}
	return "start: " + e.err.Error()
}

func (e *startError) Unwrap() []error {
	if e.serve {
		return []error{deploy.ErrStartFailed, errServe, e.err}
	}
	return []error{deploy.ErrStartFailed, e.err}
}
