package conformance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/bourse-go/bourse/strategies"
)

// Features declares what a strategy promises beyond what every strategy must
// do. The suite checks each promise that is set, and nothing that is not.
type Features struct {
	// Broadcast: every decision sends the request to the whole group.
	Broadcast bool
	// LeaderOnly: every decision targets members[0], the group's leader,
	// including after the leader leaves and the next one takes over.
	LeaderOnly bool
	// EvenSpread: over many requests with distinct keys, each member gets
	// its share of the requests, within SpreadTolerance of the average.
	EvenSpread bool
	// SpreadTolerance is the relative deviation from the average share that
	// EvenSpread allows; 0 means 0.3 (each member gets between 0.7 and 1.3
	// times the average).
	SpreadTolerance float64
	// StickyByKey: requests with the same non-empty Key reach the same
	// member, compared by Member.ID, for as long as the membership is
	// unchanged: pick after pick, across rebuilds, across Strategies the
	// factory makes from the same params (one per node of a cluster), and
	// whatever order Build gets the members in.
	StickyByKey bool
	// Deterministic: a decision depends on the request and the membership
	// alone, not on what was picked before, so two Strategies the factory
	// makes from the same params decide alike on any request, keyed or not.
	Deterministic bool
	// MayReject: Pick may refuse a request with an error wrapping
	// strategies.ErrRejected. Without it any error from a non-empty group
	// fails the suite.
	MayReject bool
	// MayRedirect: decisions may name another exchange in Redirect.
	MayRedirect bool
	// MaxMembers is the largest group the suite builds; 0 means 16.
	MaxMembers int
	// LocalFirst: the strategy is a strategies.LoadAware that, given a
	// view of the load, sends every request to a member on the caller's
	// node while one has free capacity; otherwise to a member on another
	// node with free capacity, or of unknown capacity, never to one known
	// to be full while another is not; and when every member is full, to
	// the least loaded, or (FailsWhenFull) nowhere, with
	// strategies.ErrOverloaded.
	LocalFirst bool
	// FailsWhenFull: with LocalFirst, a request when no member has
	// capacity fails with strategies.ErrOverloaded.
	FailsWhenFull bool
}

// Run runs the suite as subtests of t.Run(name, ...). f and params make the
// strategy under test; Run calls f several times, as every node of a cluster
// would.
func Run(t *testing.T, name string, f strategies.Factory, params strategies.Params, feat Features) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		s := &suite{f: f, params: params, feat: feat}
		if s.feat.MaxMembers <= 0 {
			s.feat.MaxMembers = 16
		}
		if s.feat.SpreadTolerance <= 0 {
			s.feat.SpreadTolerance = 0.3
		}
		if feat.Broadcast && feat.LeaderOnly {
			t.Fatal("Features: Broadcast and LeaderOnly contradict each other")
		}
		// The factory itself is the first check: without a Strategy there
		// is nothing else to test.
		s.newStrategy(t)

		t.Run("EmptyGroup", s.testEmptyGroup)
		t.Run("DecisionsInRange", s.testDecisionsInRange)
		t.Run("ZeroValues", s.testZeroValues)
		t.Run("BuildKeepsMembers", s.testBuildKeepsMembers)
		t.Run("Rebuild", s.testRebuild)
		t.Run("ConcurrentPickAndBuild", s.testConcurrentPickAndBuild)
		if feat.Broadcast {
			t.Run("Broadcast", s.testBroadcast)
		}
		if feat.LeaderOnly {
			t.Run("LeaderOnly", s.testLeaderOnly)
		}
		if feat.EvenSpread {
			t.Run("EvenSpread", s.testEvenSpread)
		}
		if feat.StickyByKey {
			t.Run("StickyByKey", s.testStickyByKey)
		}
		if feat.Deterministic {
			t.Run("Deterministic", s.testDeterministic)
		}
		if feat.LocalFirst {
			t.Run("LocalFirst", s.testLocalFirst)
		}
		// Every picker that says it can pick around handlers on
		// probation (strategies.Avoider) is held to it.
		t.Run("Avoids", s.testAvoids)
	})
}

// testAvoids checks a strategies.Avoider: PickAvoiding never picks an
// avoided member while one is not avoided; when StickyByKey, a key whose
// owner is not avoided goes to its owner, and one whose owner is avoided
// goes to one stand-in, the same each time.
func (s *suite) testAvoids(t *testing.T) {
	st := s.newStrategy(t)
	reqs := requests(200)
	for n := 2; n <= s.feat.MaxMembers; n++ {
		p := build(t, st, members("m-", n))
		av, ok := p.(strategies.Avoider)
		if !ok {
			t.Skipf("%T does not implement strategies.Avoider", p)
		}
		for out := 1; out < n; out++ {
			avoid := func(i int) bool { return i < out } // the first out members are on probation
			for _, req := range reqs {
				d, err := av.PickAvoiding(req, avoid)
				if msg := s.checkDecision(d, err, n); msg != "" {
					t.Fatalf("%d members, %d avoided: %s", n, out, msg)
				}
				if !d.Broadcast && avoid(d.Target) {
					t.Fatalf("%d members, %d avoided: picked avoided member %d for %+v", n, out, d.Target, req)
				}
				if s.feat.StickyByKey && req.Key != "" {
					owner := s.mustPick(t, p, req, n).Target
					again, _ := av.PickAvoiding(req, avoid)
					switch {
					case !avoid(owner) && d.Target != owner:
						t.Fatalf("key %q: owner %d is not avoided but went to %d", req.Key, owner, d.Target)
					case again.Target != d.Target:
						t.Fatalf("key %q: stand-ins %d then %d, want one", req.Key, d.Target, again.Target)
					}
				}
			}
		}
	}
}

// testLocalFirst checks a strategies.LoadAware against fake views of the
// load: members with an even index are local.
func (s *suite) testLocalFirst(t *testing.T) {
	st := s.newStrategy(t)
	la, ok := st.(strategies.LoadAware)
	if !ok {
		t.Fatalf("%T does not implement strategies.LoadAware", st)
	}
	const unknown = -1 << 30 // a free figure that stands for "no advert"
	view := func(free []int) strategies.LoadView {
		return strategies.LoadFunc{
			IsLocal: func(i int) bool { return i%2 == 0 },
			FreeOf: func(i int) (int, bool) {
				if free[i] == unknown {
					return 0, false
				}
				return free[i], true
			},
		}
	}
	reqs := requests(100)
	for n := 2; n <= s.feat.MaxMembers; n++ {
		ms := members("m-", n)
		free := make([]int, n)
		pickAll := func(what string, avoid func(int) bool, ok func(d strategies.Decision, err error) string) map[int]int {
			t.Helper()
			p := la.BuildLoad(ms, view(free))
			got := map[int]int{}
			for _, req := range reqs {
				var (
					d   strategies.Decision
					err error
				)
				if avoid != nil {
					d, err = p.(strategies.Avoider).PickAvoiding(req, avoid)
				} else {
					d, err = pick(t, p, req)
				}
				if msg := ok(d, err); msg != "" {
					t.Fatalf("%d members, %s (free %v): %s", n, what, free, msg)
				}
				got[d.Target]++
			}
			return got
		}
		target := func(want func(i int) bool, why string) func(strategies.Decision, error) string {
			return func(d strategies.Decision, err error) string {
				if msg := s.checkDecision(d, err, n); msg != "" {
					return msg
				}
				if d.Broadcast || d.Redirect != "" || !want(d.Target) {
					return fmt.Sprintf("picked %+v, want %s", d, why)
				}
				return ""
			}
		}
		// Everyone idle: local handlers only, each of them in turn.
		for i := range free {
			free[i] = 1
		}
		got := pickAll("all idle", nil, target(func(i int) bool { return i%2 == 0 }, "a local member"))
		for i := 0; i < n; i += 2 {
			if got[i] == 0 {
				t.Fatalf("%d members, all idle: local member %d got nothing (%v)", n, i, got)
			}
		}
		// A local member avoided (probation) is not picked.
		if n >= 3 {
			pickAll("local 0 avoided", func(i int) bool { return i == 0 }, target(func(i int) bool { return i != 0 && i%2 == 0 }, "a local member other than 0"))
		}
		// Local ones full: the one other member with free capacity.
		for i := range free {
			free[i] = 0
		}
		free[1] = 3
		pickAll("locals full, member 1 free", nil, target(func(i int) bool { return i == 1 }, "member 1, the only one free"))
		// Local ones full, others unknown or full: an unknown one.
		for i := 1; i < n; i += 2 {
			free[i] = -2
		}
		free[n-1-(n%2)] = unknown // the last odd index
		pickAll("one unknown", nil, target(func(i int) bool { return i == n-1-(n%2) }, "the member of unknown capacity"))
		// Everyone full: the least loaded, or ErrOverloaded.
		for i := range free {
			free[i] = -3 - i
		}
		free[n-1] = -1
		if s.feat.FailsWhenFull {
			pickAll("all full", nil, func(d strategies.Decision, err error) string {
				if !errors.Is(err, strategies.ErrOverloaded) {
					return fmt.Sprintf("err = %v, want ErrOverloaded", err)
				}
				return ""
			})
		} else {
			pickAll("all full", nil, target(func(i int) bool { return i == n-1 }, "the least loaded member"))
		}
	}
}

type suite struct {
	f      strategies.Factory
	params strategies.Params
	feat   Features
}

func (s *suite) newStrategy(t *testing.T) strategies.Strategy {
	t.Helper()
	st, err := s.f(s.params)
	if err != nil {
		t.Fatalf("factory: %v", err)
	}
	if st == nil {
		t.Fatal("factory returned a nil Strategy and no error")
	}
	return st
}

// members returns n members as an exchange would pass them: sorted by Seq,
// with every field set. prefix keeps IDs of different calls apart.
func members(prefix string, n int) []strategies.Member {
	ms := make([]strategies.Member, n)
	for i := range ms {
		ms[i] = strategies.Member{
			ID:         prefix + strconv.Itoa(i),
			ServiceTag: "svc",
			ConnTag:    "conn-" + strconv.Itoa(i%3),
			Node:       "node-" + strconv.Itoa(i%4),
			Seq:        uint64(10 * (i + 1)),
			Options:    map[string]string{"i": strconv.Itoa(i)},
		}
	}
	return ms
}

// requests returns a varied set of requests: keyed and not, tagged and not,
// with and without a payload.
func requests(n int) []strategies.Request {
	reqs := make([]strategies.Request, 0, n+3)
	reqs = append(reqs,
		strategies.Request{},
		strategies.Request{Exchange: "x", Key: "", Tag: "", Payload: nil},
		strategies.Request{Exchange: "x", Key: "k", ServiceTag: "svc", Tag: "t", Payload: wrapperspb.String("p")},
	)
	for i := 0; i < n; i++ {
		r := strategies.Request{Exchange: "x", Key: "key-" + strconv.Itoa(i), Tag: "tag-" + strconv.Itoa(i)}
		if i%2 == 0 {
			r.Payload = wrapperspb.Int64(int64(i))
		}
		if i%5 == 0 {
			r.Key = ""
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// pick calls p.Pick, turning a panic into a test failure that names the
// request, so one bad strategy does not abort the whole test binary.
func pick(t testing.TB, p strategies.Picker, req strategies.Request) (d strategies.Decision, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Pick(%+v) panicked: %v", req, r)
		}
	}()
	return p.Pick(req)
}

func build(t testing.TB, st strategies.Strategy, ms []strategies.Member) (p strategies.Picker) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Build(%d members) panicked: %v", len(ms), r)
		}
	}()
	p = st.Build(ms)
	if p == nil {
		t.Fatalf("Build(%d members) returned a nil Picker", len(ms))
	}
	return p
}

// checkDecision reports what is wrong with the outcome of a pick for a group
// of n, or "" when it is acceptable. It does not use testing.TB so that the
// concurrent test can call it from its goroutines.
func (s *suite) checkDecision(d strategies.Decision, err error, n int) string {
	if err != nil {
		if s.feat.MayReject && errors.Is(err, strategies.ErrRejected) {
			return ""
		}
		return fmt.Sprintf("unexpected error for a group of %d: %v", n, err)
	}
	switch {
	case d.Redirect != "" && !s.feat.MayRedirect:
		return fmt.Sprintf("Redirect %q, but Features.MayRedirect is false", d.Redirect)
	case d.Redirect != "" && d.Broadcast:
		return fmt.Sprintf("both Broadcast and Redirect %q", d.Redirect)
	case d.Redirect != "" || d.Broadcast:
		return ""
	case d.Target < 0 || d.Target >= n:
		return fmt.Sprintf("Target %d outside a group of %d", d.Target, n)
	}
	return ""
}

func (s *suite) mustPick(t testing.TB, p strategies.Picker, req strategies.Request, n int) strategies.Decision {
	t.Helper()
	d, err := pick(t, p, req)
	if msg := s.checkDecision(d, err, n); msg != "" {
		t.Fatalf("Pick(%+v): %s", req, msg)
	}
	return d
}

// An empty group must fail every request at once with ErrNoHandlers.
func (s *suite) testEmptyGroup(t *testing.T) {
	st := s.newStrategy(t)
	for _, ms := range [][]strategies.Member{nil, {}} {
		p := build(t, st, ms)
		for _, req := range requests(10) {
			if _, err := pick(t, p, req); !errors.Is(err, strategies.ErrNoHandlers) {
				t.Fatalf("Pick(%+v) on an empty group: err = %v, want ErrNoHandlers", req, err)
			}
		}
	}
}

// Every decision must be something the exchange can carry out, for every
// group size.
func (s *suite) testDecisionsInRange(t *testing.T) {
	st := s.newStrategy(t)
	reqs := requests(200)
	for n := 1; n <= s.feat.MaxMembers; n++ {
		p := build(t, st, members("m-", n))
		for _, req := range reqs {
			s.mustPick(t, p, req, n)
		}
	}
}

// Zero values of every field must not make a strategy panic.
func (s *suite) testZeroValues(t *testing.T) {
	st := s.newStrategy(t)
	for _, ms := range [][]strategies.Member{
		{{}},
		{{}, {ID: "a"}},
		{{ID: "a"}, {ID: "b"}, {ID: "c"}},
	} {
		p := build(t, st, ms)
		s.mustPick(t, p, strategies.Request{}, len(ms))
		s.mustPick(t, p, strategies.Request{Key: "k"}, len(ms))
	}
}

// Build must not modify the caller's members.
func (s *suite) testBuildKeepsMembers(t *testing.T) {
	st := s.newStrategy(t)
	ms := members("m-", 7)
	want := members("m-", 7)
	p := build(t, st, ms)
	for _, req := range requests(50) {
		s.mustPick(t, p, req, len(ms))
	}
	for i := range ms {
		a, b := ms[i], want[i]
		if a.ID != b.ID || a.ServiceTag != b.ServiceTag || a.ConnTag != b.ConnTag || a.Node != b.Node || a.Seq != b.Seq || len(a.Options) != len(b.Options) || a.Options["i"] != b.Options["i"] {
			t.Fatalf("members[%d] changed: got %+v, want %+v", i, a, b)
		}
	}
}

// A Picker stays valid for its own membership after the next Build.
func (s *suite) testRebuild(t *testing.T) {
	st := s.newStrategy(t)
	a := members("m-", 6)
	// b loses the leader and m-3, keeps the rest and gains two newcomers,
	// as after a leave, a crash and two joins.
	b := append(slices.Clone(a[1:3]), a[4:]...)
	b = append(b, members("new-", 2)...)
	for i := range b[len(b)-2:] {
		b[len(b)-2+i].Seq = uint64(100 + i)
	}
	reqs := requests(100)
	pa := build(t, st, a)
	for _, req := range reqs {
		s.mustPick(t, pa, req, len(a))
	}
	pb := build(t, st, b)
	for _, req := range reqs {
		s.mustPick(t, pb, req, len(b))
		s.mustPick(t, pa, req, len(a))
	}
	pe := build(t, st, nil)
	if _, err := pick(t, pe, strategies.Request{Key: "k"}); !errors.Is(err, strategies.ErrNoHandlers) {
		t.Fatalf("after the group emptied: err = %v, want ErrNoHandlers", err)
	}
	pa2 := build(t, st, a)
	for _, req := range reqs {
		s.mustPick(t, pa2, req, len(a))
	}
}

// Pickers are used from many goroutines while Build makes their successors,
// as the exchange does. Run under -race.
func (s *suite) testConcurrentPickAndBuild(t *testing.T) {
	st := s.newStrategy(t)
	type current struct {
		p strategies.Picker
		n int
	}
	var cur atomic.Pointer[current]
	cur.Store(&current{p: build(t, st, members("m-", 3)), n: 3})

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
	)
	reqs := requests(64)
	workers := max(4, runtime.GOMAXPROCS(0))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				c := cur.Load()
				req := reqs[(i+w)%len(reqs)]
				var msg string
				func() {
					defer func() {
						if r := recover(); r != nil {
							msg = fmt.Sprintf("Pick(%+v) panicked: %v", req, r)
						}
					}()
					d, err := c.p.Pick(req)
					if c.n == 0 {
						if !errors.Is(err, strategies.ErrNoHandlers) {
							msg = fmt.Sprintf("empty group: err = %v, want ErrNoHandlers", err)
						}
						return
					}
					msg = s.checkDecision(d, err, c.n)
				}()
				if msg != "" {
					mu.Lock()
					failures = append(failures, msg)
					mu.Unlock()
					return
				}
				if i%32 == 31 {
					// Let the builder run: on few CPUs, spinning
					// pickers would otherwise starve it for whole
					// scheduler time slices.
					runtime.Gosched()
				}
			}
		}()
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 200; i++ {
		n := r.IntN(s.feat.MaxMembers + 1)
		ms := members("m-"+strconv.Itoa(r.IntN(3))+"-", n)
		cur.Store(&current{p: build(t, st, ms), n: n})
	}
	stop.Store(true)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
}

func (s *suite) testBroadcast(t *testing.T) {
	st := s.newStrategy(t)
	for _, n := range []int{1, 2, 5} {
		p := build(t, st, members("m-", n))
		for _, req := range requests(50) {
			if d := s.mustPick(t, p, req, n); !d.Broadcast {
				t.Fatalf("group of %d, Pick(%+v) = %+v, want a broadcast", n, req, d)
			}
		}
	}
}

func (s *suite) testLeaderOnly(t *testing.T) {
	st := s.newStrategy(t)
	ms := members("m-", 5)
	for len(ms) > 0 {
		p := build(t, st, ms)
		for _, req := range requests(50) {
			if d := s.mustPick(t, p, req, len(ms)); d.Broadcast || d.Redirect != "" || d.Target != 0 {
				t.Fatalf("leader %s, Pick(%+v) = %+v, want Target 0", ms[0].ID, req, d)
			}
		}
		ms = ms[1:] // the leader leaves; the next oldest leads
	}
}

func (s *suite) testEvenSpread(t *testing.T) {
	st := s.newStrategy(t)
	const n, perMember = 8, 4000
	p := build(t, st, members("m-", n))
	r := rand.New(rand.NewPCG(3, 4))
	counts := make([]int, n)
	for i := 0; i < n*perMember; i++ {
		req := strategies.Request{Key: "key-" + strconv.FormatUint(r.Uint64(), 36), Tag: strconv.Itoa(i)}
		d := s.mustPick(t, p, req, n)
		if d.Broadcast || d.Redirect != "" {
			continue
		}
		counts[d.Target]++
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	if total < n*perMember/2 {
		t.Fatalf("only %d of %d requests went to a single member", total, n*perMember)
	}
	avg := float64(total) / n
	tol := s.feat.SpreadTolerance
	for i, c := range counts {
		if dev := float64(c)/avg - 1; dev > tol || dev < -tol {
			t.Errorf("member %d got %d requests, %.1f%% off the average %.0f (tolerance %.0f%%); all: %v", i, c, 100*dev, avg, 100*tol, counts)
		}
	}
}

func (s *suite) testStickyByKey(t *testing.T) {
	s1, s2 := s.newStrategy(t), s.newStrategy(t)
	ms := members("m-", 9)
	shuffled := slices.Clone(ms)
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	pickers := []struct {
		name string
		p    strategies.Picker
		ms   []strategies.Member
	}{
		{"first build", build(t, s1, ms), ms},
		{"rebuild", build(t, s1, ms), ms},
		{"another strategy (node)", build(t, s2, ms), ms},
		{"members in another order", build(t, s2, shuffled), shuffled},
	}
	for i := 0; i < 2000; i++ {
		req := strategies.Request{Key: "key-" + strconv.Itoa(i), Tag: strconv.Itoa(i)}
		var want string
		for j, pk := range pickers {
			for rep := 0; rep < 2; rep++ {
				d := s.mustPick(t, pk.p, req, len(pk.ms))
				if d.Broadcast || d.Redirect != "" {
					t.Fatalf("Pick(%+v) = %+v: a sticky strategy must pick one member", req, d)
				}
				got := pk.ms[d.Target].ID
				if j == 0 && rep == 0 {
					want = got
				} else if got != want {
					t.Fatalf("key %q went to %s, but to %s on the %s", req.Key, want, got, pk.name)
				}
			}
		}
	}
}

func (s *suite) testDeterministic(t *testing.T) {
	s1, s2 := s.newStrategy(t), s.newStrategy(t)
	ms := members("m-", 6)
	p1, p2 := build(t, s1, ms), build(t, s2, ms)
	reqs := requests(300)
	// Give p1 a history that p2 does not have.
	for i := 0; i < 17; i++ {
		pick(t, p1, reqs[len(reqs)-1-i])
	}
	for _, req := range reqs {
		d1, err1 := pick(t, p1, req)
		d2, err2 := pick(t, p2, req)
		if msg := s.checkDecision(d1, err1, len(ms)); msg != "" {
			t.Fatalf("Pick(%+v): %s", req, msg)
		}
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("Pick(%+v): errors differ: %v and %v", req, err1, err2)
		}
		if d1.Target != d2.Target || d1.Broadcast != d2.Broadcast || d1.Redirect != d2.Redirect || !proto.Equal(d1.Payload, d2.Payload) {
			t.Fatalf("Pick(%+v): decisions differ: %+v and %+v", req, d1, d2)
		}
	}
}
