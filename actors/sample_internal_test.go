package actors

import (
	"slices"
	"testing"
	"time"

	"github.com/bourse-go/bourse/exchange"
)

// TestProcessSample drives processSample with given call durations: the
// weight each call gets (0: not timed), deterministically.
func TestProcessSample(t *testing.T) {
	const (
		fast = exchange.SampleBelow / 2
		slow = exchange.SampleBelow
	)
	// repeat returns n copies of d.
	repeat := func(d time.Duration, n int) []time.Duration { return slices.Repeat([]time.Duration{d}, n) }
	// oneIn is the weights of fast calls after a timed one: SampleOneIn-1
	// untimed, then one standing for them all.
	oneIn := append(make([]int, exchange.SampleOneIn-1), exchange.SampleOneIn)
	for _, tc := range []struct {
		name  string
		took  []time.Duration
		wants []int
	}{
		{"the first call is timed", []time.Duration{fast}, []int{1}},
		{"fast calls: one in SampleOneIn", repeat(fast, 1+2*exchange.SampleOneIn), slices.Concat([]int{1}, oneIn, oneIn)},
		{"slow calls: every one", repeat(slow, 4), []int{1, 1, 1, 1}},
		{"a slow call times the next", slices.Concat(repeat(fast, 3), []time.Duration{slow}, repeat(fast, exchange.SampleOneIn)),
			// Call 0 timed (fast); 1-3 untimed, though 3 was slow (not
			// timed, so not known); then 8 timed with weight 8, fast: one
			// in SampleOneIn again.
			slices.Concat([]int{1}, oneIn, make([]int, 3))},
		{"a timed slow call times the next", slices.Concat([]time.Duration{slow, fast, fast}, repeat(fast, exchange.SampleOneIn)),
			slices.Concat([]int{1, 1}, oneIn, []int{0})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s processSample
			var got []int
			for _, d := range tc.took {
				w := s.next()
				got = append(got, w)
				if w > 0 {
					s.took(d)
				}
			}
			if !slices.Equal(got, tc.wants) {
				t.Errorf("weights %v, want %v", got, tc.wants)
			}
		})
	}
}
