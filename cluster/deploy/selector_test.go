package deploy_test

import (
	"testing"

	"github.com/bourse-go/bourse/cluster/deploy"
)

func TestSelectorMatches(t *testing.T) {
	eu := map[string]string{"zone": "eu-1", "disk": "ssd"}
	us := map[string]string{"zone": "us-1"}
	req := func(key string, op deploy.Operator, values ...string) deploy.Selector {
		return deploy.Selector{MatchExpressions: []deploy.Requirement{{Key: key, Op: op, Values: values}}}
	}
	tests := []struct {
		name       string
		sel        deploy.Selector
		eu, us, no bool // matches eu, us, a node without labels
	}{
		{"empty selects all", deploy.Selector{}, true, true, true},
		{"label equality", deploy.Selector{MatchLabels: map[string]string{"zone": "eu-1"}}, true, false, false},
		{"two labels", deploy.Selector{MatchLabels: map[string]string{"zone": "eu-1", "disk": "hdd"}}, false, false, false},
		{"In", req("zone", deploy.In, "eu-1", "eu-2"), true, false, false},
		{"NotIn: an unset label is not in", req("zone", deploy.NotIn, "eu-1"), false, true, true},
		{"Exists", req("disk", deploy.Exists), true, false, false},
		{"DoesNotExist", req("disk", deploy.DoesNotExist), false, true, true},
		{"labels and expressions both hold", deploy.Selector{MatchLabels: map[string]string{"disk": "ssd"},
			MatchExpressions: []deploy.Requirement{{Key: "zone", Op: deploy.NotIn, Values: []string{"us-1"}}}}, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.sel.Validate("sel"); err != nil {
				t.Fatal(err)
			}
			if got := [3]bool{tt.sel.Matches(eu), tt.sel.Matches(us), tt.sel.Matches(nil)}; got != [3]bool{tt.eu, tt.us, tt.no} {
				t.Errorf("%s matches eu, us, none = %v, want %v", tt.sel, got, [3]bool{tt.eu, tt.us, tt.no})
			}
		})
	}
}

func TestParseOperator(t *testing.T) {
	for s, want := range map[string]deploy.Operator{"In": deploy.In, "in": deploy.In, "notin": deploy.NotIn, "EXISTS": deploy.Exists, "DoesNotExist": deploy.DoesNotExist} {
		if got, err := deploy.ParseOperator("op", s); got != want || err != nil {
			t.Errorf("ParseOperator(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	if _, err := deploy.ParseOperator("op", "Exist"); err == nil || err.Error() != `bourse: op: unknown operator "Exist" (known: In, NotIn, Exists, DoesNotExist); did you mean "Exists"?` {
		t.Errorf("ParseOperator(Exist) = %v", err)
	}
}
