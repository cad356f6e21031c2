package strategies_test

import (
	"strconv"
	"testing"

	"github.com/bourse-go/bourse/strategies"
)

// BenchmarkPick measures the data path: one Pick per request on a group of
// 10, from one goroutine and from GOMAXPROCS goroutines at once.
func BenchmarkPick(b *testing.B) {
	keys := make([]strategies.Request, 1024)
	for i := range keys {
		keys[i] = strategies.Request{Exchange: "orders", Key: "order-" + strconv.Itoa(i*7919)}
	}
	reg := strategies.Builtin()
	for _, c := range pickCases {
		s, err := reg.New(c.name, c.params)
		if err != nil {
			b.Fatal(err)
		}
		p := s.Build(members(10))
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := p.Pick(keys[i&1023]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "picks/s")
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := p.Pick(keys[i&1023]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "picks/s")
		})
	}
}

// BenchmarkStickyBuild measures the control path: one Build of the default
// sticky strategy per membership change.
func BenchmarkStickyBuild(b *testing.B) {
	for _, n := range []int{2, 10, 100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := newSticky(b, nil)
			ms := make([]strategies.Member, n)
			for i := range ms {
				ms[i].ID = "handler-" + strconv.Itoa(i)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Build(ms)
			}
		})
	}
}

// BenchmarkLocalFirstPick measures local-first's Pick with a view of the
// load, when a local handler has room and when the request spills.
func BenchmarkLocalFirstPick(b *testing.B) {
	for _, tc := range []struct {
		name string
		free [10]int
	}{
		{"local", [10]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"spill", [10]int{0, 0, 0, 2, 1, 3, 1, 1, 1, 2}},
	} {
		v := &fakeLoad{free: tc.free}
		p := strategies.LocalFirst(strategies.OverloadWait).(strategies.LoadAware).BuildLoad(members(10), v)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Pick(strategies.Request{Exchange: "x"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
