package strategies_test

import (
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/bourse-go/bourse/strategies"
)

// pickCases are the strategies of the data path, each with the params that
// make it work, for the allocation test and the benchmarks.
var pickCases = []struct {
	name   string
	params strategies.Params
}{
	{strategies.NameDefault, nil},
	{strategies.NameRoundRobin, nil},
	{strategies.NameConsensus, nil},
	{strategies.NameConsensusRoundRobin, nil},
	{strategies.NameSticky, nil},
	{strategies.NameStickyFun, strategies.Params{"hash": strategies.HashFunc(func(r strategies.Request) uint64 { return uint64(len(r.Key)) })}},
	{strategies.NameFun, strategies.Params{"fun": strategies.FunFunc(modKey)}},
}

// Pick runs for every request; it must not allocate.
func TestPickDoesNotAllocate(t *testing.T) {
	reg := strategies.Builtin()
	reqs := []strategies.Request{
		{Exchange: "x", Key: "order-12345", Tag: "t", Payload: wrapperspb.String("p")},
		{Exchange: "x"},
	}
	for _, c := range pickCases {
		s, err := reg.New(c.name, c.params)
		if err != nil {
			t.Fatal(err)
		}
		p := s.Build(members(10))
		for _, req := range reqs {
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := p.Pick(req); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%s: Pick(key %q) allocates %v times", c.name, req.Key, allocs)
			}
		}
	}
}

// fakeLoad is a view of 10 members: the first 3 local, with free[i] as
// their capacity; the rest on other nodes.
type fakeLoad struct{ free [10]int }

func (f *fakeLoad) Local(i int) bool       { return i < 3 }
func (f *fakeLoad) Free(i int) (int, bool) { return f.free[i], true }

// local-first's Pick with a view must not allocate either, whichever
// branch it takes: a local handler, a spill, or everyone full.
func TestLocalFirstPickDoesNotAllocate(t *testing.T) {
	for _, tc := range []struct {
		name string
		free [10]int
	}{
		{"local", [10]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"spill", [10]int{0, 0, 0, 0, 0, 0, 0, 0, 0, 2}},
		{"all full", [10]int{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}},
	} {
		v := &fakeLoad{free: tc.free}
		p := strategies.LocalFirst(strategies.OverloadWait).(strategies.LoadAware).BuildLoad(members(10), v)
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := p.Pick(strategies.Request{Exchange: "x"}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Pick allocates %v times", tc.name, allocs)
		}
	}
}
