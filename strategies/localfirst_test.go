package strategies_test

import (
	"errors"
	"testing"

	"github.com/bourse-go/bourse/strategies"
)

func TestLocalFirstParams(t *testing.T) {
	f, _ := strategies.Builtin().Lookup(strategies.NameLocalFirst)
	for _, tt := range []struct {
		params   strategies.Params
		wantErr  bool
		failFast bool
	}{
		{params: nil},
		{params: strategies.Params{"overload": "wait"}},
		{params: strategies.Params{"overload": "fail"}, failFast: true},
		{params: strategies.Params{"overload": "drop"}, wantErr: true},
		{params: strategies.Params{"overload": 1}, wantErr: true},
		{params: strategies.Params{"overlaod": "fail"}, wantErr: true},
	} {
		s, err := f(tt.params)
		if tt.wantErr {
			if !errors.Is(err, strategies.ErrInvalidParams) {
				t.Errorf("%v: err = %v, want ErrInvalidParams", tt.params, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.params, err)
		}
		full := strategies.LoadFunc{FreeOf: func(int) (int, bool) { return 0, true }}
		_, err = s.(strategies.LoadAware).BuildLoad(members(3), full).Pick(strategies.Request{})
		if got := errors.Is(err, strategies.ErrOverloaded); got != tt.failFast {
			t.Errorf("%v: everyone full: err = %v, want ErrOverloaded %v", tt.params, err, tt.failFast)
		}
	}
}

// Decisions of local-first for a view: locals are members 0 and 1.
func TestLocalFirstDecisions(t *testing.T) {
	const unknown = -1000
	for _, tt := range []struct {
		name string
		free []int
		want map[int]bool // the members a pick may go to
		all  bool         // every member of want must get some
	}{
		{"both local free", []int{1, 1, 5, 5}, map[int]bool{0: true, 1: true}, true},
		{"one local free", []int{0, 2, 5, 5}, map[int]bool{1: true}, true},
		{"locals full, remotes equal: both", []int{0, -1, 3, 3}, map[int]bool{2: true, 3: true}, true},
		{"locals full, one remote free", []int{0, 0, 0, 4}, map[int]bool{3: true}, true},
		{"locals full, one remote unknown", []int{0, 0, -2, unknown}, map[int]bool{3: true}, true},
		{"all full: least loaded", []int{-5, -3, -1, -4}, map[int]bool{2: true}, true},
		{"all full: a local least loaded", []int{-1, -3, -1, -4}, map[int]bool{0: true, 2: true}, false},
	} {
		v := strategies.LoadFunc{
			IsLocal: func(i int) bool { return i < 2 },
			FreeOf: func(i int) (int, bool) {
				if tt.free[i] == unknown {
					return 0, false
				}
				return tt.free[i], true
			},
		}
		p := strategies.LocalFirst(strategies.OverloadWait).(strategies.LoadAware).BuildLoad(members(len(tt.free)), v)
		got := map[int]int{}
		for range 400 {
			d, err := p.Pick(strategies.Request{})
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if !tt.want[d.Target] {
				t.Fatalf("%s: picked %d, want one of %v", tt.name, d.Target, tt.want)
			}
			got[d.Target]++
		}
		if tt.all {
			for i := range tt.want {
				if got[i] == 0 {
					t.Errorf("%s: member %d never picked (%v)", tt.name, i, got)
				}
			}
		}
	}
}
