package strategies_test

import (
	"errors"
	"testing"

	"github.com/bourse-go/bourse/strategies"
)

// targets returns the decisions of n picks of an unkeyed request.
func targets(t *testing.T, p strategies.Picker, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		d, err := p.Pick(strategies.Request{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Broadcast {
			out[i] = -1
			continue
		}
		out[i] = d.Target
	}
	return out
}

func TestSimpleStrategies(t *testing.T) {
	tests := []struct {
		name string
		s    strategies.Strategy
		// first are the targets of the first picks on 3 members (-1 for a
		// broadcast); after are those of the next picks once a 4th member
		// joins.
		first, after []int
	}{
		{"default", strategies.Broadcast(), []int{-1, -1, -1, -1}, []int{-1, -1}},
		{"consensus", strategies.Consensus(), []int{0, 0, 0, 0}, []int{0, 0}},
		// The rotation continues across a rebuild rather than restarting
		// at the leader.
		{"round-robin", strategies.RoundRobin(), []int{0, 1, 2, 0, 1}, []int{1, 2, 3, 0, 1}},
		{"consensus-round-robin", strategies.ConsensusRoundRobin(), []int{0, 1, 2, 0, 1}, []int{1, 2, 3, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := targets(t, tt.s.Build(members(3)), len(tt.first)); !equalInts(got, tt.first) {
				t.Fatalf("3 members: targets %v, want %v", got, tt.first)
			}
			if got := targets(t, tt.s.Build(members(4)), len(tt.after)); !equalInts(got, tt.after) {
				t.Fatalf("4 members: targets %v, want %v", got, tt.after)
			}
			if _, err := tt.s.Build(nil).Pick(strategies.Request{}); !errors.Is(err, strategies.ErrNoHandlers) {
				t.Fatalf("empty group: %v, want ErrNoHandlers", err)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Round-robin strategies are independent of each other: one exchange's
// traffic does not shift another's rotation.
func TestRoundRobinPerStrategy(t *testing.T) {
	a, b := strategies.RoundRobin(), strategies.RoundRobin()
	pa, pb := a.Build(members(2)), b.Build(members(2))
	_ = targets(t, pa, 3)
	if got := targets(t, pb, 2); !equalInts(got, []int{0, 1}) {
		t.Fatalf("second strategy's targets %v, want [0 1]", got)
	}
}
