package deploy

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/internal/suggest"
)

// Instance is what a kind's constructor builds: what actors.Broker.Serve
// takes to start one instance of the service, a Handler and its options.
// The runtime (cluster.Node.Deploy) serves it on the spec's exchange, adding
// the spec's service tag and a connection tag of the instance's own
// (cluster.InstanceTagPrefix + service + "/" + key), which wins over one
// given in Options.
type Instance struct {
	// Handler answers the instance's requests (actors.HandlerFunc,
	// actors.TypedFunc, or a type of your own). When it also has a method
	// Stop(context.Context) error, the runtime calls it after the
	// instance is disconnected, to release what the constructor acquired.
	Handler actors.Handler
	// Options are Serve's options: actors.OnLeading for leader-only work,
	// actors.OnLeader, actors.OnSlave, actors.WithConnectOptions.
	Options []actors.ServeOption
}

// Constructor builds the instance of spec numbered slot (see Placement.Slot)
// on the node it runs on. It is the service's start-up: an error is the
// instance's failure to start, which the runtime reports to the caller
// of Deploy, naming the node. ctx bounds the start-up; it is not the
// instance's lifetime (the Handler's ctx is).
//
// The signature is kept small on purpose: the spec (with its Params) and
// the slot are all that differ between instances; what a node has of its
// own (its name, its broker, a database handle) the code that registers
// the kind captures in the closure, since every node registers its kinds
// itself. What it returns is exactly what Serve takes, so that a kind is
// any handler a user can already serve by hand; an actor (Broker.Connect)
// can be added later as another field of Instance.
type Constructor func(ctx context.Context, spec Spec, slot int) (Instance, error)

// Kinds maps kind names to constructors, so that a Spec (and a YAML file)
// can name the service it deploys, as an exchange names its strategy in a
// strategies.Registry. The zero value is an empty registry ready for use.
// A Kinds is safe for concurrent use by multiple goroutines.
type Kinds struct {
	mu    sync.RWMutex
	ctors map[string]Constructor
}

// NewKinds returns an empty registry.
func NewKinds() *Kinds { return &Kinds{} }

// Register adds c under name. It returns an error wrapping ErrDuplicateKind
// when name is taken, and one wrapping ErrInvalidKind when name is not a
// valid kind name (the syntax of Spec.Name) or c is nil. It may be called
// concurrently with every other method.
func (k *Kinds) Register(name string, c Constructor) error {
	if p := checkIdent(name); p != "" {
		return fmt.Errorf("%w: name %s", ErrInvalidKind, p)
	}
	if c == nil {
		return fmt.Errorf("%w: kind %q: nil constructor", ErrInvalidKind, name)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.ctors[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicateKind, name)
	}
	if k.ctors == nil {
		k.ctors = map[string]Constructor{}
	}
	k.ctors[name] = c
	return nil
}

// Lookup returns the constructor registered under name.
func (k *Kinds) Lookup(name string) (Constructor, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	c, ok := k.ctors[name]
	return c, ok
}

// Names returns the registered names, sorted.
func (k *Kinds) Names() []string {
	k.mu.RLock()
	names := make([]string, 0, len(k.ctors))
	for n := range k.ctors {
		names = append(names, n)
	}
	k.mu.RUnlock()
	slices.Sort(names)
	return names
}

// Check returns nil when name is registered, and otherwise an
// *UnknownKindError (wrapping ErrUnknownKind) listing the known kinds and
// the nearest one.
func (k *Kinds) Check(name string) error {
	if _, ok := k.Lookup(name); ok {
		return nil
	}
	names := k.Names()
	return &UnknownKindError{Name: name, Known: names, Suggestion: suggest.Closest(name, names)}
}

// New builds the instance of spec numbered slot with the constructor of
// spec.Kind: an *UnknownKindError when none is registered, the
// constructor's error when it fails, an error wrapping ErrInvalidKind when
// it returns no Handler. The constructor runs without the registry's lock
// held. New does not validate spec.
func (k *Kinds) New(ctx context.Context, spec Spec, slot int) (Instance, error) {
	c, ok := k.Lookup(spec.Kind)
	if !ok {
		return Instance{}, k.Check(spec.Kind)
	}
	in, err := c(ctx, spec, slot)
	if err != nil {
		return Instance{}, err
	}
	if in.Handler == nil {
		return Instance{}, fmt.Errorf("%w: kind %q built instance %d of %q with no handler", ErrInvalidKind, spec.Kind, slot, spec.Name)
	}
	return in, nil
}
