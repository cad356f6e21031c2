package deploy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/errs"
)

func validSpec() deploy.Spec {
	return deploy.Spec{Name: "books", Exchange: "orders", Kind: "order-book", Mode: deploy.ModeReplicas, Total: 8, MaxPerNode: 2,
		Selector: deploy.Selector{MatchLabels: map[string]string{"tier": "trading"},
			MatchExpressions: []deploy.Requirement{{Key: "zone", Op: deploy.In, Values: []string{"eu-1", "eu-2"}}}}}
}

// TestSpecValidate: every rule names its field, wraps errs.ErrInvalid and
// says what is wanted.
func TestSpecValidate(t *testing.T) {
	if err := validSpec().Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	for _, m := range []deploy.Mode{deploy.ModeNodeSingleton, deploy.ModeClusterSingleton} {
		s := validSpec()
		s.Mode, s.Total, s.MaxPerNode = m, 0, 0
		if err := s.Validate(); err != nil {
			t.Errorf("valid %s spec: %v", m, err)
		}
	}
	tests := []struct {
		name, field, want string
		change            func(*deploy.Spec)
	}{
		{"empty name", "Name", "is empty", func(s *deploy.Spec) { s.Name = "" }},
		{"bad name", "Name", `"-books" has '-' at 0`, func(s *deploy.Spec) { s.Name = "-books" }},
		{"long name", "Name", "longer than 128 bytes", func(s *deploy.Spec) { s.Name = strings.Repeat("b", 129) }},
		{"empty exchange", "Exchange", "is empty", func(s *deploy.Spec) { s.Exchange = "" }},
		{"long exchange", "Exchange", "longer than 255 bytes", func(s *deploy.Spec) { s.Exchange = strings.Repeat("e", 256) }},
		{"empty kind", "Kind", "is empty", func(s *deploy.Spec) { s.Kind = "" }},
		{"bad kind", "Kind", `has ' ' at 5`, func(s *deploy.Spec) { s.Kind = "order book" }},
		{"empty mode", "Mode", "is empty (known: node-singleton, cluster-singleton, replicas)", func(s *deploy.Spec) { s.Mode = "" }},
		{"unknown mode", "Mode", `unknown mode "replica" (known: node-singleton, cluster-singleton, replicas); did you mean "replicas"?`, func(s *deploy.Spec) { s.Mode = "replica" }},
		{"total 0", "Total", "is 0, want 1..4096 instances", func(s *deploy.Spec) { s.Total = 0 }},
		{"total negative", "Total", "is -3, want 1..4096", func(s *deploy.Spec) { s.Total = -3 }},
		{"total too big", "Total", "is 4097, want 1..4096", func(s *deploy.Spec) { s.Total = 4097 }},
		{"max per node negative", "MaxPerNode", "is -1, want 0 (no bound) or more", func(s *deploy.Spec) { s.MaxPerNode = -1 }},
		{"total for a singleton", "Total", "only mode replicas takes a total", func(s *deploy.Spec) { s.Mode, s.MaxPerNode = deploy.ModeClusterSingleton, 0 }},
		{"max per node for a singleton", "MaxPerNode", "only mode replicas takes a bound per node", func(s *deploy.Spec) { s.Mode, s.Total = deploy.ModeNodeSingleton, 0 }},
		{"selector label key", `Selector.MatchLabels["Tier/x"]`, `key "Tier/x": prefix "Tier" is not a DNS subdomain`, func(s *deploy.Spec) { s.Selector.MatchLabels = map[string]string{"Tier/x": "a"} }},
		{"selector label value", `Selector.MatchLabels["tier"]`, "value is empty", func(s *deploy.Spec) { s.Selector.MatchLabels["tier"] = "" }},
		{"selector expression key", "Selector.MatchExpressions[0].Key", "is empty", func(s *deploy.Spec) { s.Selector.MatchExpressions[0].Key = "" }},
		{"selector In without values", "Selector.MatchExpressions[0].Values", "In needs one value at least", func(s *deploy.Spec) { s.Selector.MatchExpressions[0].Values = nil }},
		{"selector bad value", "Selector.MatchExpressions[0].Values[1]", `"eu 2" has ' ' at 2`, func(s *deploy.Spec) { s.Selector.MatchExpressions[0].Values[1] = "eu 2" }},
		{"selector Exists with values", "Selector.MatchExpressions[0].Values", "has 2 values: Exists takes none", func(s *deploy.Spec) { s.Selector.MatchExpressions[0].Op = deploy.Exists }},
		{"selector unknown operator", "Selector.MatchExpressions[0].Op", `unknown operator "NotIm" (known: In, NotIn, Exists, DoesNotExist); did you mean "NotIn"?`, func(s *deploy.Spec) { s.Selector.MatchExpressions[0].Op = "NotIm" }},
		{"selector operator's case", "Selector.MatchExpressions[0].Op", `"in": write "In"`, func(s *deploy.Spec) { s.Selector.MatchExpressions[0].Op = "in" }},
		{"long service tag", "ServiceTag", "longer than 255 bytes", func(s *deploy.Spec) { s.ServiceTag = strings.Repeat("t", 256) }},
		{"empty param key", "Params", "has an empty key", func(s *deploy.Spec) { s.Params = map[string]string{"": "x"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.change(&s)
			err := s.Validate()
			var fe *errs.FieldError
			if !errors.As(err, &fe) || fe.Field != "deploy.Spec."+tt.field {
				t.Fatalf("Validate() = %v, want an *errs.FieldError for deploy.Spec.%s", err, tt.field)
			}
			if !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("Validate() = %v does not wrap errs.ErrInvalid", err)
			}
			if !strings.Contains(fe.Problem, tt.want) {
				t.Errorf("problem %q, want it to hold %q", fe.Problem, tt.want)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range deploy.Modes() {
		if got, err := deploy.ParseMode("services[0].mode", string(m)); got != m || err != nil {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	_, err := deploy.ParseMode("services[0].mode", "node_singleton")
	var fe *errs.FieldError
	if !errors.As(err, &fe) || fe.Field != "services[0].mode" || !strings.Contains(fe.Problem, `did you mean "node-singleton"?`) {
		t.Errorf("ParseMode(node_singleton) = %v", err)
	}
}

func TestSpecEqualAndString(t *testing.T) {
	a, b := validSpec(), validSpec()
	if !a.Equal(b) {
		t.Error("equal specs differ")
	}
	b.Params = map[string]string{}
	if !a.Equal(b) {
		t.Error("nil and empty params differ")
	}
	for _, change := range []func(*deploy.Spec){
		func(s *deploy.Spec) { s.Total++ },
		func(s *deploy.Spec) { s.Selector.MatchExpressions[0].Values = []string{"eu-2", "eu-1"} },
		func(s *deploy.Spec) { s.Selector.MatchLabels["x"] = "y" },
		func(s *deploy.Spec) { s.Params = map[string]string{"depth": "10"} },
		func(s *deploy.Spec) { s.ServiceTag = "eu" },
	} {
		c := validSpec()
		change(&c)
		if a.Equal(c) || c.Equal(a) {
			t.Errorf("%v equals %v", c, a)
		}
	}
	const want = "books replicas 8 (max 2/node) kind=order-book exchange=orders selector=tier=trading,zone in (eu-1,eu-2)"
	if got := a.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
