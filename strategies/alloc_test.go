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
