package deploy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bourse-go/bourse/errs"
)

// Mode says how many instances of a service run, and where.
type Mode string

// The modes, as configuration files spell them.
const (
	// ModeNodeSingleton: one instance on every eligible node.
	ModeNodeSingleton Mode = "node-singleton"
	// ModeClusterSingleton: one instance in the cluster, on one eligible
	// node.
	ModeClusterSingleton Mode = "cluster-singleton"
	// ModeReplicas: Total instances on the eligible nodes, at most
	// MaxPerNode on one.
	ModeReplicas Mode = "replicas"
)

// Modes returns the modes, in the order above.
func Modes() []Mode { return []Mode{ModeNodeSingleton, ModeClusterSingleton, ModeReplicas} }

// ParseMode returns the mode named s. For another name it returns an
// *errs.FieldError for field, listing the modes and the nearest one.
func ParseMode(field, s string) (Mode, error) {
	var names []string
	for _, m := range Modes() {
		if s == string(m) {
			return m, nil
		}
		names = append(names, string(m))
	}
	return "", errs.Field(field, "unknown mode %q%s", s, known(s, names))
}

// Limits of a Spec.
const (
	// MaxNameLen bounds Spec.Name and Spec.Kind: identifiers in
	// configuration files, logs and connection tags.
	MaxNameLen = 128
	// MaxExchangeLen is exchange.Spec's bound on exchange names.
	MaxExchangeLen = 255
	// MaxTotal bounds Spec.Total: placement is computed on every node at
	// every membership change, in time proportional to Total × nodes.
	MaxTotal = 4096
)

// Spec describes a service the cluster places: what it is (Kind, built by
// the constructor registered under that name in a Kinds), where its
// instances connect (the req-resp exchange Exchange, under ServiceTag), how
// many run and where (Mode, Total, MaxPerNode, Selector).
//
// A Spec is plain data, so that it can be read from YAML, sent between
// nodes and compared (Equal): every node computes the same placement from
// the same Spec.
type Spec struct {
	// Name names the service, unique in the cluster: 1 to 128 ASCII
	// letters, digits, '-', '_' and '.', beginning with a letter or digit.
	Name string
	// Exchange is the req-resp exchange every instance connects to.
	Exchange string
	// Kind names the constructor of the service's instances in a Kinds
	// registry (same syntax as Name). Whether it is registered is checked
	// where the registry is (Kinds.Check), not by Validate.
	Kind string
	// Mode is ModeNodeSingleton, ModeClusterSingleton or ModeReplicas.
	Mode Mode
	// Total is the number of instances, 1 to MaxTotal, for ModeReplicas;
	// it must be 0 for the singletons (their mode says how many).
	Total int
	// MaxPerNode bounds the instances on one node, for ModeReplicas; 0
	// means no bound. It must be 0 for the singletons.
	MaxPerNode int
	// Selector picks the eligible nodes by their labels; the zero
	// Selector picks every node.
	Selector Selector
	// ServiceTag, when set, is the service tag the instances connect
	// under (actors.ServiceTag): callers reach this service alone among
	// the exchange's handlers with actors.WithServiceTag.
	ServiceTag string
	// Params are the kind's parameters, as text: the constructor reads
	// them. Strings, so that a spec travels between nodes and compares
	// without loss; keys must not be empty.
	Params map[string]string
	// KeepPartial keeps what started when a Deploy fails or its ctx ends:
	// the spec stays in the cluster and the nodes whose instances failed
	// try again (see cluster.Node.Deploy). By default a failed Deploy
	// removes the spec and stops every instance it started.
	KeepPartial bool
}

// Validate reports the first problem of s as an *errs.FieldError naming the
// field ("deploy.Spec.Total"), wrapping errs.ErrInvalid.
func (s Spec) Validate() error {
	field := func(f string) string { return "deploy.Spec." + f }
	if p := checkIdent(s.Name); p != "" {
		return errs.Field(field("Name"), "%s", p)
	}
	switch {
	case s.Exchange == "":
		return errs.Field(field("Exchange"), "is empty: name the req-resp exchange the instances connect to")
	case len(s.Exchange) > MaxExchangeLen:
		return errs.Field(field("Exchange"), "%.20q... is longer than %d bytes", s.Exchange, MaxExchangeLen)
	}
	if p := checkIdent(s.Kind); p != "" {
		return errs.Field(field("Kind"), "%s", p)
	}
	if _, err := ParseMode(field("Mode"), string(s.Mode)); err != nil {
		if s.Mode == "" {
			return errs.Field(field("Mode"), "is empty%s", known("", modeNames()))
		}
		return err
	}
	switch s.Mode {
	case ModeReplicas:
		switch {
		case s.Total < 1 || s.Total > MaxTotal:
			return errs.Field(field("Total"), "is %d, want 1..%d instances", s.Total, MaxTotal)
		case s.MaxPerNode < 0:
			return errs.Field(field("MaxPerNode"), "is %d, want 0 (no bound) or more", s.MaxPerNode)
		}
	default:
		switch {
		case s.Total != 0:
			return errs.Field(field("Total"), "is %d: only mode %s takes a total (%s says how many)", s.Total, ModeReplicas, s.Mode)
		case s.MaxPerNode != 0:
			return errs.Field(field("MaxPerNode"), "is %d: only mode %s takes a bound per node", s.MaxPerNode, ModeReplicas)
		}
	}
	if err := s.Selector.Validate(field("Selector")); err != nil {
		return err
	}
	if len(s.ServiceTag) > MaxExchangeLen {
		return errs.Field(field("ServiceTag"), "%.20q... is longer than %d bytes", s.ServiceTag, MaxExchangeLen)
	}
	if _, ok := s.Params[""]; ok {
		return errs.Field(field("Params"), "has an empty key")
	}
	return nil
}

func modeNames() []string {
	var names []string
	for _, m := range Modes() {
		names = append(names, string(m))
	}
	return names
}

// Equal reports whether s and o describe the same deployment (a nil and an
// empty map or list are the same).
func (s Spec) Equal(o Spec) bool {
	if s.Name != o.Name || s.Exchange != o.Exchange || s.Kind != o.Kind || s.Mode != o.Mode ||
		s.Total != o.Total || s.MaxPerNode != o.MaxPerNode || s.ServiceTag != o.ServiceTag || s.KeepPartial != o.KeepPartial ||
		!maps.Equal(s.Params, o.Params) || !maps.Equal(s.Selector.MatchLabels, o.Selector.MatchLabels) ||
		len(s.Selector.MatchExpressions) != len(o.Selector.MatchExpressions) {
		return false
	}
	for i, r := range s.Selector.MatchExpressions {
		q := o.Selector.MatchExpressions[i]
		if r.Key != q.Key || r.Op != q.Op || !slices.Equal(r.Values, q.Values) {
			return false
		}
	}
	return true
}

// String renders s on one line, for logs: "books replicas 8 (max 2/node)
// kind=order-book exchange=orders selector=zone in (eu)".
func (s Spec) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", s.Name, s.Mode)
	if s.Mode == ModeReplicas {
		fmt.Fprintf(&b, " %d", s.Total)
		if s.MaxPerNode > 0 {
			fmt.Fprintf(&b, " (max %d/node)", s.MaxPerNode)
		}
	}
	fmt.Fprintf(&b, " kind=%s exchange=%s", s.Kind, s.Exchange)
	if !s.Selector.Empty() {
		fmt.Fprintf(&b, " selector=%s", s.Selector)
	}
	return b.String()
}

// checkIdent checks a name or kind: 1 to MaxNameLen ASCII letters, digits,
// '-', '_' and '.', beginning with a letter or digit (the rule of strategy
// names). It returns the problem, "" when there is none.
func checkIdent(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > MaxNameLen {
		return fmt.Sprintf("%.20q... is longer than %d bytes", s, MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && (i == 0 || c != '-' && c != '_' && c != '.') {
			return fmt.Sprintf("%q has %q at %d (want letters, digits, '-', '_' or '.', beginning with a letter or digit)", s, c, i)
		}
	}
	return ""
}
