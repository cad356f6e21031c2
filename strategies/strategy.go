package strategies

import (
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/bourse-go/bourse/errs"
)

// Sentinel errors. They are shared by the exchange package, which re-exports
// them, so errors.Is works whichever package a caller names.
var (
	// ErrNoHandlers means no handler is connected (for the request's service
	// tag): the request fails at once rather than waiting for its deadline.
	ErrNoHandlers = errors.New("bourse: no handlers")
	// ErrRejected means the strategy refused the request (the fun strategy's
	// user function returned an error).
	ErrRejected = errors.New("bourse: request rejected")
	// ErrNoLeader means the exchange has no leader at the moment, and the
	// strategy sends requests to the leader only: the leader's node was
	// declared down and no successor is appointed yet (its lease has not run
	// out), or this node is on the minority side of a partition. It is
	// returned at once, never after a wait.
	ErrNoLeader = errors.New("bourse: no leader")
	// ErrUnknownStrategy means no strategy is registered under that name.
	// It wraps errs.ErrInvalid, the sentinel of every bad argument.
	ErrUnknownStrategy = errs.New("bourse: unknown strategy")
	// ErrDuplicateStrategy means a strategy is already registered under that name.
	ErrDuplicateStrategy = errors.New("bourse: strategy already registered")
	// ErrInvalidParams means a strategy's parameters are wrong. It wraps
	// errs.ErrInvalid, the sentinel of every bad argument.
	ErrInvalidParams = errs.New("bourse: invalid strategy parameters")
	// ErrOverloaded means the request found no room: its handler's queue
	// was full (every handler has a concurrency limit and a bounded queue
	// of requests waiting beyond it), or, under local-first with the
	// overload policy "fail", no handler anywhere had free capacity. It is
	// returned at once, never after a wait, and keeps its identity across
	// nodes. The handler never saw the request: it is safe to send again.
	ErrOverloaded = errors.New("bourse: overloaded")
)

// Member is one connection of a handler to an exchange, as a strategy sees it.
// One handler actor may connect several times (under different connection
// tags); each connection is a Member of its own.
type Member struct {
	// ID identifies the connection, unique within the exchange and the same on
	// every node of a cluster. Strategies that hash (sticky) hash this.
	ID string
	// ServiceTag is the group the handler joined ("" for none).
	ServiceTag string
	// ConnTag is the connection tag (routing key) the handler connected under.
	ConnTag string
	// Node names the node that hosts the handler ("" in one process).
	Node string
	// Seq is the connection's seniority: lower connected earlier. Members
	// passed to Build are sorted by Seq, so Members[0] is the group's leader.
	Seq uint64
	// Options are the handler's free-form options, passed through as given.
	Options map[string]string
}

// Request is what a strategy may look at when picking. It is passed by value so
// that the data path does not allocate for it.
type Request struct {
	// Exchange is the name of the exchange the request was sent to.
	Exchange string
	// Key is the request's routing key, which sticky strategies hash. Empty for
	// requests without one.
	Key string
	// ServiceTag is the group the request was addressed to ("" for all).
	ServiceTag string
	// Tag is the caller's request tag (opaque to strategies; fun may read it).
	Tag string
	// Payload is the user's message. Strategies must not modify it; fun may
	// replace it through Decision.Payload.
	Payload proto.Message
}

// Decision is a Picker's answer.
type Decision struct {
	// Target is the index, in the members given to Build, of the handler that
	// gets the request. Ignored when Broadcast or Redirect is set.
	Target int
	// Broadcast sends the request to every member of the group.
	Broadcast bool
	// Redirect, when not empty, names another exchange the request is sent to
	// instead (fun strategy). The other exchange applies its own strategy.
	Redirect string
	// Payload, when not nil, replaces the request's payload (fun strategy).
	Payload proto.Message
}

// Picker chooses handlers for requests against one fixed membership.
type Picker interface {
	// Pick returns the decision for req. It is called from many goroutines at
	// once and must not block. It returns ErrNoHandlers when it has nothing to
	// pick (an empty group), or an error wrapping ErrRejected to refuse req.
	Pick(req Request) (Decision, error)
}

// Strategy builds Pickers for one exchange. The exchange calls Build whenever
// its membership changes; Build is never called concurrently with itself, but
// Pickers it returned earlier may still be in use while it runs.
type Strategy interface {
	// Build returns a Picker for members: the exchange's leader first when it
	// is in the group, then by Seq (so members[0] is the leader of the
	// group). members may be empty; the Picker then returns ErrNoHandlers.
	Build(members []Member) Picker
}

// Avoider is implemented by Pickers that can pick around handlers the
// exchange has taken out of rotation (probation: handlers whose requests
// keep timing out). PickAvoiding decides as Pick does, but never picks a
// member i for which avoid(i) is true; the exchange calls it only while at
// least one member is not avoided. A picker that keys requests to members
// (sticky) sends an avoided member's keys elsewhere for the time of the
// call alone, without changing its assignment, so that a member coming
// back gets its keys back.
type Avoider interface {
	PickAvoiding(req Request, avoid func(i int) bool) (Decision, error)
}

// LeaderOnly is implemented by strategies that send every request to the
// leader (consensus). While the exchange has no appointed leader that this
// node believes alive, the exchange fails their requests with ErrNoLeader
// instead of calling Build's picker.
type LeaderOnly interface {
	LeaderOnly() bool
}

// PickerFunc adapts a function to the Picker interface.
type PickerFunc func(req Request) (Decision, error)

// Pick calls f(req).
func (f PickerFunc) Pick(req Request) (Decision, error) { return f(req) }

// StrategyFunc adapts a function to the Strategy interface.
type StrategyFunc func(members []Member) Picker

// Build calls f(members).
func (f StrategyFunc) Build(members []Member) Picker { return f(members) }

// Params are a strategy's parameters as written in configuration (YAML values
// after decoding: strings, numbers, booleans, lists and maps).
type Params map[string]any

// Factory makes a Strategy for one exchange from its parameters. It returns an
// error wrapping ErrInvalidParams when the parameters are wrong.
type Factory func(params Params) (Strategy, error)
