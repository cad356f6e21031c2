package deploy

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// What the runtime (cluster.Node.Deploy and its reconciler) reports.

// State is the state of one instance on its node.
type State string

// The states of an instance.
const (
	// StateStarting: its constructor runs, or it connects.
	StateStarting State = "starting"
	// StateRunning: it is connected to its exchange and takes requests.
	StateRunning State = "running"
	// StateStopping: it is disconnecting (undeployed, moved, or its
	// leadership ended).
	StateStopping State = "stopping"
	// StateFailed: it could not start; Failure says why. A kept spec
	// (KeepPartial) tries again later.
	StateFailed State = "failed"
)

// Running is one instance of a service as its node reports it.
type Running struct {
	// Service is the spec's name, Node the node it runs on.
	Service, Node string
	// Key identifies the instance in its service: its slot ("0", "1", ...)
	// for replicas and the cluster singleton, "@" and the node's name for a
	// node singleton.
	Key string
	// Slot is its slot (for a node singleton, its place among the eligible
	// nodes when it started).
	Slot int
	// State is its state; Err is its failure when StateFailed.
	State State
	Err   error
	// ConnID is the id of its connection to the exchange, once running.
	ConnID string
}

// EventType says what happened to an instance.
type EventType int

// The event types.
const (
	// Placed: an instance started on this node and is connected.
	Placed EventType = iota + 1
	// Removed: an instance stopped on this node (undeployed, moved
	// elsewhere, or its leadership ended).
	Removed
	// Failed: an instance could not start on this node.
	Failed
)

func (t EventType) String() string {
	switch t {
	case Placed:
		return "placed"
	case Removed:
		return "removed"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is a change of an instance on the node that reports it
// (cluster.Node.WatchDeploy).
type Event struct {
	Type EventType
	// Service, Key and Slot name the instance (see Running); Node is the
	// node it runs on; ConnID its connection (Placed and Removed).
	Service, Key, Node, ConnID string
	Slot                       int
	// Err is the failure (Failed), or why it stopped (Removed; nil when
	// undeployed or moved).
	Err error
	// At is when it happened, on this host's clock (with its monotonic
	// reading: compare Ats of one process with Sub). For a cluster
	// singleton it bounds the time it acts: Placed's At is when it began
	// to connect (the earliest it could answer), Removed's when it stopped
	// acting (its leadership or lease ended), even though the events come
	// a little later.
	At time.Time
}

// The runtime's sentinels.
var (
	// ErrStartFailed: an instance's constructor failed, or it could not be
	// connected to its exchange. A *NodeError names the node.
	ErrStartFailed = errors.New("bourse: deploy: instance failed to start")
	// ErrConflict: a service of that name is deployed with another spec.
	// Undeploy it first, or deploy under another name.
	ErrConflict = errors.New("bourse: deploy: service deployed with another spec")
	// ErrNotDeployed: no service of that name is deployed.
	ErrNotDeployed = errors.New("bourse: deploy: service not deployed")
)

// NodeError is one node's failure to run its part of a deployment.
type NodeError struct {
	// Node names the node; Service and Key the instance ("" for the
	// node's whole part, e.g. when it could not be reached).
	Node, Service, Key string
	// Err is the cause: it wraps ErrStartFailed, ErrUnknownKind,
	// ErrInvalidKind, a broker sentinel (actors.ErrUnknownExchange,
	// actors.ErrNodeDown, ...), or the constructor's error as its message.
	Err error
}

func (e *NodeError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("node %s: %s/%s: %v", e.Node, e.Service, e.Key, e.Err)
	}
	return fmt.Sprintf("node %s: %v", e.Node, e.Err)
}

// Unwrap returns the cause.
func (e *NodeError) Unwrap() error { return e.Err }

// Error is the error of a Deploy that did not complete: one *NodeError per
// failing node and instance, and Err, the deployment's own end (ctx.Err()
// when its context ended, nil otherwise). errors.Is and errors.As see
// through it to every cause.
type Error struct {
	// Service is the spec's name.
	Service string
	// Failures are the nodes' failures, ordered by node and key.
	Failures []*NodeError
	// Err is why the deployment stopped when it is not (only) the
	// failures: ctx.Err(), or nil.
	Err error
	// RolledBack reports that what started was stopped again and the spec
	// removed (the spec did not ask for KeepPartial).
	RolledBack bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bourse: deploy %q", e.Service)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if len(e.Failures) > 0 {
		fmt.Fprintf(&b, ": %d failure(s)", len(e.Failures))
		for _, f := range e.Failures {
			fmt.Fprintf(&b, "; %v", f)
		}
	}
	if e.RolledBack {
		b.WriteString(" (rolled back)")
	} else {
		b.WriteString(" (kept what started)")
	}
	return b.String()
}

// Unwrap returns Err and every failure.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, len(e.Failures)+1)
	if e.Err != nil {
		out = append(out, e.Err)
	}
	for _, f := range e.Failures {
		out = append(out, f)
	}
	return out
}

var (
	_ error = (*NodeError)(nil)
	_ error = (*Error)(nil)
)
