package deploy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/internal/suggest"
)

// Operator is the test of a Requirement, spelled as Kubernetes spells it.
type Operator string

// The operators.
const (
	// In: the label is set to one of Values.
	In Operator = "In"
	// NotIn: the label is not set, or set to none of Values.
	NotIn Operator = "NotIn"
	// Exists: the label is set (Values empty).
	Exists Operator = "Exists"
	// DoesNotExist: the label is not set (Values empty).
	DoesNotExist Operator = "DoesNotExist"
)

// Operators returns the operators, in the order above.
func Operators() []Operator { return []Operator{In, NotIn, Exists, DoesNotExist} }

// ParseOperator returns the operator named s, ignoring case ("in" is In).
// For another name it returns an *errs.FieldError for field, listing the
// operators and the nearest one.
func ParseOperator(field, s string) (Operator, error) {
	var names []string
	for _, op := range Operators() {
		if strings.EqualFold(s, string(op)) {
			return op, nil
		}
		names = append(names, string(op))
	}
	return "", errs.Field(field, "unknown operator %q%s", s, known(s, names))
}

// Requirement is one test of a node's labels.
type Requirement struct {
	// Key is the label's key.
	Key string
	// Op is the test.
	Op Operator
	// Values are the values In and NotIn compare with (one at least);
	// empty for Exists and DoesNotExist.
	Values []string
}

// Matches reports whether labels pass r. r is assumed valid (see
// Selector.Validate).
func (r Requirement) Matches(labels map[string]string) bool {
	v, set := labels[r.Key]
	switch r.Op {
	case In:
		return set && slices.Contains(r.Values, v)
	case NotIn:
		return !set || !slices.Contains(r.Values, v)
	case Exists:
		return set
	case DoesNotExist:
		return !set
	}
	return false
}

// Selector picks nodes by their labels (cluster.Config.Labels), as a
// Kubernetes label selector does: a node matches when it has every label
// of MatchLabels with that value and passes every requirement of
// MatchExpressions. The zero Selector matches every node. It is data, not
// a function, so that every node evaluates it the same way, and so that it
// can travel in a message and be read from YAML.
type Selector struct {
	// MatchLabels: each key must be set to its value.
	MatchLabels map[string]string
	// MatchExpressions: each requirement must hold.
	MatchExpressions []Requirement
}

// Empty reports whether s selects every node.
func (s Selector) Empty() bool { return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0 }

// Matches reports whether a node with labels is selected. s is assumed
// valid (see Validate); a nil labels map is a node without labels.
func (s Selector) Matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// Validate reports the first problem of s as an *errs.FieldError named
// under field ("deploy.Spec.Selector"): a key or value that is not a label
// (see CheckLabelKey), an unknown operator, In or NotIn without values,
// Exists or DoesNotExist with some.
func (s Selector) Validate(field string) error {
	for _, k := range slices.Sorted(maps.Keys(s.MatchLabels)) {
		f := field + ".MatchLabels[" + strconv.Quote(k) + "]"
		if p := CheckLabelKey(k); p != "" {
			return errs.Field(f, "key %s%s", p, LabelSyntax)
		}
		if p := CheckLabelValue(s.MatchLabels[k]); p != "" {
			return errs.Field(f, "value %s%s", p, LabelSyntax)
		}
	}
	for i, r := range s.MatchExpressions {
		f := fmt.Sprintf("%s.MatchExpressions[%d]", field, i)
		if p := CheckLabelKey(r.Key); p != "" {
			return errs.Field(f+".Key", "%s%s", p, LabelSyntax)
		}
		switch r.Op {
		case In, NotIn:
			if len(r.Values) == 0 {
				return errs.Field(f+".Values", "is empty: %s needs one value at least", r.Op)
			}
			for j, v := range r.Values {
				if p := CheckLabelValue(v); p != "" {
					return errs.Field(fmt.Sprintf("%s.Values[%d]", f, j), "%s%s", p, LabelSyntax)
				}
			}
		case Exists, DoesNotExist:
			if len(r.Values) > 0 {
				return errs.Field(f+".Values", "has %d values: %s takes none", len(r.Values), r.Op)
			}
		default:
			if _, err := ParseOperator(f+".Op", string(r.Op)); err != nil {
				return err
			}
			// Known under another case: Matches compares exactly.
			return errs.Field(f+".Op", "%q: write %q", r.Op, mustOperator(string(r.Op)))
		}
	}
	return nil
}

func mustOperator(s string) Operator {
	op, _ := ParseOperator("", s)
	return op
}

// String renders s as Kubernetes' set-based selector syntax:
// "disk=ssd,zone in (eu-1,eu-2),!gpu"; "" for the empty selector. The
// order is fixed (labels by key, then the expressions in order), so equal
// selectors render alike.
func (s Selector) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.MatchLabels)) {
		parts = append(parts, k+"="+s.MatchLabels[k])
	}
	for _, r := range s.MatchExpressions {
		switch r.Op {
		case In:
			parts = append(parts, r.Key+" in ("+strings.Join(r.Values, ",")+")")
		case NotIn:
			parts = append(parts, r.Key+" notin ("+strings.Join(r.Values, ",")+")")
		case Exists:
			parts = append(parts, r.Key)
		case DoesNotExist:
			parts = append(parts, "!"+r.Key)
		default:
			parts = append(parts, fmt.Sprintf("%s %s (%s)", r.Key, r.Op, strings.Join(r.Values, ",")))
		}
	}
	return strings.Join(parts, ",")
}

// known renders the valid values for an error message: " (known: a, b)",
// followed by `; did you mean "b"?` when one is close to got.
func known(got string, names []string) string {
	s := " (known: " + strings.Join(names, ", ") + ")"
	if m := suggest.Closest(got, names); m != "" {
		s += fmt.Sprintf("; did you mean %q?", m)
	}
	return s
}
