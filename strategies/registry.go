package strategies

import (
	"fmt"
	"sort"
	"sync"
)

// Names of the built-in strategies, as configuration files spell them.
const (
	NameDefault             = "default"
	NameRoundRobin          = "round-robin"
	NameConsensus           = "consensus"
	NameConsensusRoundRobin = "consensus-round-robin"
	NameSticky              = "sticky"
	NameStickyFun           = "sticky-fun"
	NameFun                 = "fun"
	// NameLocalFirst ("local-first") is declared in localfirst.go.
)

// maxNameLen bounds strategy names; they are identifiers in configuration
// files, not free text.
const maxNameLen = 128

// Registry maps strategy names to factories, so that configuration can name a
// strategy and users can add their own. The zero value is an empty registry
// ready for use. A Registry is safe for concurrent use by multiple goroutines.
type Registry struct {
	mu        sync.RWMutex
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Builtin returns a new registry holding the built-in strategies. Each call
// returns a registry of its own, so registering a user strategy in one never
// shows in another (there is no process-wide registry to mutate).
func Builtin() *Registry {
	// Filled directly rather than through Register: these names are known to
	// be valid and distinct (TestBuiltinNames checks), so there is no error
	// to handle and no reason for a panic.
	return &Registry{factories: map[string]Factory{
		NameDefault:             defaultFactory,
		NameRoundRobin:          roundRobinFactory,
		NameConsensus:           consensusFactory,
		NameConsensusRoundRobin: consensusRoundRobinFactory,
		NameSticky:              stickyFactory,
		NameStickyFun:           stickyFunFactory,
		NameFun:                 funFactory,
		NameLocalFirst:          localFirstFactory,
	}}
}

// Register adds f under name. It returns an error wrapping
// ErrDuplicateStrategy when name is taken, and ErrInvalidRegistration when
// name is not a valid strategy name (see validName) or f is nil. It may be
// called concurrently with every other method.
func (r *Registry) Register(name string, f Factory) error {
	if err := validName(name); err != nil {
		return err
	}
	if f == nil {
		return fmt.Errorf("%w: strategy %q: nil factory", ErrInvalidRegistration, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.factories[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicateStrategy, name)
	}
	if r.factories == nil {
		r.factories = make(map[string]Factory)
	}
	r.factories[name] = f
	return nil
}

// Lookup returns the factory registered under name.
func (r *Registry) Lookup(name string) (Factory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.factories[name]
	return f, ok
}

// New makes the strategy registered under name from p. For an unknown name it
// returns an *UnknownStrategyError (wrapping ErrUnknownStrategy) listing the
// known names; otherwise it returns what the factory returns. The factory runs
// without the registry's lock held.
func (r *Registry) New(name string, p Params) (Strategy, error) {
	f, ok := r.Lookup(name)
	if !ok {
		return nil, &UnknownStrategyError{Name: name, Known: r.Names()}
	}
	s, err := f(p)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("%w: strategy %q: factory returned a nil Strategy", ErrInvalidRegistration, name)
	}
	return s, nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	r.mu.RUnlock()
	sort.Strings(names)
	return names
}

// validName accepts names of 1 to 128 ASCII letters, digits, '-', '_' and
// '.', starting with a letter or digit: names that survive YAML unquoted, log
// lines and metric labels.
func validName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidRegistration)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%w: name %.20q... is longer than %d bytes", ErrInvalidRegistration, name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return fmt.Errorf("%w: name %q: character %q at %d (want letters, digits, '-', '_' or '.', starting with a letter or digit)", ErrInvalidRegistration, name, c, i)
		}
	}
	return nil
}
