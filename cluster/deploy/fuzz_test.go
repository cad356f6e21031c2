package deploy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/errs"
)

// FuzzPlace: whatever the spec and the members, Place does not panic; it
// returns Spec.Validate's error when the spec is invalid, a documented
// error when it cannot place a valid one, and otherwise an assignment that
// keeps every rule (checkAssignment), the same for the members in reverse.
func FuzzPlace(f *testing.F) {
	f.Add("books", "replicas", 8, 2, "n1,n2,n3,n4", "eu", "In")
	f.Add("engine", "cluster-singleton", 0, 0, "a,b,c", "us", "NotIn")
	f.Add("feed", "node-singleton", 0, 0, "a,b,a", "", "Exists")
	f.Add("x", "replicas", 9, 2, "n1,n2,n3,n4", "eu", "DoesNotExist")
	f.Add("", "replica", -1, -1, ",", "e u", "in")
	f.Fuzz(func(t *testing.T, name, mode string, total, maxPerNode int, nodes, zone, op string) {
		s := deploy.Spec{Name: name, Exchange: "x", Kind: "k", Mode: deploy.Mode(mode), Total: total % 10000, MaxPerNode: maxPerNode}
		if zone != "" || op != "" {
			r := deploy.Requirement{Key: "zone", Op: deploy.Operator(op)}
			if r.Op == deploy.In || r.Op == deploy.NotIn {
				r.Values = []string{zone}
			}
			s.Selector.MatchExpressions = []deploy.Requirement{r}
		}
		var members []deploy.Candidate
		for i, n := range strings.Split(nodes, ",") {
			if i >= 64 {
				break
			}
			labels := map[string]string{}
			if i%2 == 0 {
				labels["zone"] = zone
			}
			members = append(members, deploy.Candidate{Node: n, Labels: labels})
		}
		a, err := deploy.Place(s, members)
		if verr := s.Validate(); verr != nil {
			if err == nil || err.Error() != verr.Error() {
				t.Fatalf("Place of an invalid spec = %v, want Validate's error %v", err, verr)
			}
			return
		}
		if err != nil {
			var fe *errs.FieldError
			var pe *deploy.PlaceError
			switch {
			case !errors.Is(err, errs.ErrInvalid):
				t.Fatalf("Place = %v, which does not wrap errs.ErrInvalid", err)
			case errors.As(err, &pe) && (errors.Is(err, deploy.ErrNoEligibleNode) || errors.Is(err, deploy.ErrCannotFit)):
			case errors.As(err, &fe) && strings.HasPrefix(fe.Field, "deploy.Place.members["):
			default:
				t.Fatalf("Place = %v (%T), not a documented error", err, err)
			}
			return
		}
		checkAssignment(t, s, members, a)
		reversed := make([]deploy.Candidate, len(members))
		for i, m := range members {
			reversed[len(members)-1-i] = m
		}
		b, err := deploy.Place(s, reversed)
		if err != nil || len(a.Placements) != len(b.Placements) {
			t.Fatalf("reversed members: %v, %v; want %v", b, err, a)
		}
		for i := range a.Placements {
			if a.Placements[i] != b.Placements[i] {
				t.Fatalf("reversed members: %v; want %v", b, a)
			}
		}
	})
}
