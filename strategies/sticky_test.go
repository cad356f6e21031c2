package strategies_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/bourse-go/bourse/strategies"
)

// members returns n members with IDs "h-00", "h-01", ... in seniority order.
func members(n int) []strategies.Member {
	ms := make([]strategies.Member, n)
	for i := range ms {
		ms[i] = strategies.Member{ID: fmt.Sprintf("h-%02d", i), Seq: uint64(i + 1)}
	}
	return ms
}

// randomKeys returns n distinct-looking keys from a fixed seed, so the
// figures the tests log are reproducible.
func randomKeys(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "key-" + strconv.FormatUint(r.Uint64(), 36)
	}
	return keys
}

func newSticky(t testing.TB, p strategies.Params) strategies.Strategy {
	t.Helper()
	s, err := strategies.Builtin().New(strategies.NameSticky, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assignment returns the ID of the member each key goes to.
func assignment(t testing.TB, s strategies.Strategy, ms []strategies.Member, keys []string) []string {
	t.Helper()
	p := s.Build(ms)
	out := make([]string, len(keys))
	for i, k := range keys {
		d, err := p.Pick(strategies.Request{Key: k})
		if err != nil {
			t.Fatalf("Pick(%q): %v", k, err)
		}
		if d.Target < 0 || d.Target >= len(ms) {
			t.Fatalf("Pick(%q): target %d of %d", k, d.Target, len(ms))
		}
		out[i] = ms[d.Target].ID
	}
	return out
}

func moved(a, b []string) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func TestStickyBoundedLoad(t *testing.T) {
	const n, nkeys = 10, 100_000
	keys := randomKeys(nkeys)
	ms := members(n)
	got := assignment(t, newSticky(t, nil), ms, keys)
	count := map[string]int{}
	for _, id := range got {
		count[id]++
	}
	avg := float64(nkeys) / n
	maxLoad, minLoad := 0, nkeys
	for _, m := range ms {
		maxLoad = max(maxLoad, count[m.ID])
		minLoad = min(minLoad, count[m.ID])
	}
	ratio := float64(maxLoad) / avg
	t.Logf("%d members, %d keys: max/avg = %.4f, min/avg = %.4f", n, nkeys, ratio, float64(minLoad)/avg)
	if ratio > strategies.DefaultLoadFactor {
		t.Errorf("max/avg = %.4f, want <= %v", ratio, strategies.DefaultLoadFactor)
	}
}

func TestStickyJoinMovesAboutOneNth(t *testing.T) {
	const nkeys = 100_000
	keys := randomKeys(nkeys)
	s := newSticky(t, nil)
	before := assignment(t, s, members(10), keys)
	after := assignment(t, s, members(11), keys)
	frac := float64(moved(before, after)) / nkeys
	toNew := 0
	for i := range after {
		if after[i] == "h-10" {
			toNew++
		}
	}
	t.Logf("10 -> 11 members: %.4f of the keys moved (1/11 = %.4f), %.4f to the new member", frac, 1.0/11, float64(toNew)/nkeys)
	if bound := 1.0/11 + 0.03; frac > bound {
		t.Errorf("moved %.4f of the keys, want <= %.4f", frac, bound)
	}
}

func TestStickyLeaveMovesOnlyItsKeys(t *testing.T) {
	const nkeys = 100_000
	keys := randomKeys(nkeys)
	s := newSticky(t, nil)
	ms := members(10)
	before := assignment(t, s, ms, keys)
	const gone = 3
	rest := slices.Delete(slices.Clone(ms), gone, gone+1)
	after := assignment(t, s, rest, keys)
	own, others := 0, 0
	for i := range keys {
		switch {
		case before[i] == ms[gone].ID:
			own++
		case before[i] != after[i]:
			others++
		}
	}
	frac := float64(moved(before, after)) / nkeys
	t.Logf("10 -> 9 members: %.4f of the keys moved; the leaver had %.4f, others' keys moved: %.4f", frac, float64(own)/nkeys, float64(others)/nkeys)
	if margin := 0.03; float64(others)/nkeys > margin {
		t.Errorf("%.4f of the keys of remaining members moved, want <= %v", float64(others)/nkeys, margin)
	}
}

// Two nodes of a cluster build their strategies independently; given the same
// members they must send every key to the same member.
func TestStickyClusterDeterminism(t *testing.T) {
	keys := randomKeys(100_000)
	ms := members(10)
	a := assignment(t, newSticky(t, nil), ms, keys)
	b := assignment(t, newSticky(t, nil), ms, keys)
	if n := moved(a, b); n != 0 {
		t.Fatalf("%d of %d keys differ between two strategies built alike", n, len(keys))
	}
}

// The key -> member mapping is by Member.ID: the order of members given to
// Build does not change it.
func TestStickyMemberOrder(t *testing.T) {
	keys := randomKeys(20_000)
	ms := members(10)
	want := assignment(t, newSticky(t, nil), ms, keys)
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 5; i++ {
		shuffled := slices.Clone(ms)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if n := moved(want, assignment(t, newSticky(t, nil), shuffled, keys)); n != 0 {
			t.Fatalf("shuffle %d: %d keys changed member", i, n)
		}
	}
}

// A lower load factor tightens the bound, at the price of more movement.
func TestStickyLoadFactor(t *testing.T) {
	const n, nkeys = 10, 100_000
	keys := randomKeys(nkeys)
	for _, lf := range []float64{1.05, 1.1, 1.5} {
		t.Run(strconv.FormatFloat(lf, 'f', -1, 64), func(t *testing.T) {
			s := newSticky(t, strategies.Params{"load_factor": lf})
			got := assignment(t, s, members(n), keys)
			count := map[string]int{}
			for _, id := range got {
				count[id]++
			}
			maxLoad := 0
			for _, c := range count {
				maxLoad = max(maxLoad, c)
			}
			ratio := float64(maxLoad) / (nkeys / n)
			frac := float64(moved(got, assignment(t, s, members(n+1), keys))) / nkeys
			t.Logf("load_factor %v: max/avg = %.4f, 10 -> 11 members moved %.4f", lf, ratio, frac)
			// The bound holds on partitions; keys add sampling noise
			// of about 1/sqrt(keys per member) = 1%.
			if ratio > lf+0.02 {
				t.Errorf("max/avg = %.4f, want <= %v (+0.02 noise)", ratio, lf)
			}
		})
	}
}

func TestStickyKeylessRoundRobin(t *testing.T) {
	p := newSticky(t, nil).Build(members(3))
	if got, want := targets(t, p, 7), []int{0, 1, 2, 0, 1, 2, 0}; !equalInts(got, want) {
		t.Fatalf("keyless targets %v, want %v", got, want)
	}
}

func TestStickySmallGroups(t *testing.T) {
	keys := randomKeys(1000)
	for _, tt := range []struct {
		name   string
		params strategies.Params
		n      int
	}{
		{"one member", nil, 1},
		{"two members", nil, 2},
		{"fewer partitions than members", strategies.Params{"partitions": 4}, 10},
		{"one partition", strategies.Params{"partitions": 1, "vnodes": 1}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := assignment(t, newSticky(t, tt.params), members(tt.n), keys)
			used := map[string]bool{}
			for _, id := range got {
				used[id] = true
			}
			t.Logf("%d members, %d used", tt.n, len(used))
		})
	}
}

// A user hash of poor quality (small consecutive integers) is mixed before
// use, so it still spreads; equal hashes stick together.
func TestStickyFunSpreadsSmallHashes(t *testing.T) {
	const n, users = 10, 50_000
	byUser := func(req strategies.Request) uint64 {
		id, _ := strconv.ParseUint(req.Tag, 10, 64)
		return id
	}
	s, err := strategies.StickyFun(byUser)(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Build(members(n))
	count := make([]int, n)
	for u := 0; u < users; u++ {
		req := strategies.Request{Tag: strconv.Itoa(u), Key: "ignored-" + strconv.Itoa(u%7)}
		d, err := p.Pick(req)
		if err != nil {
			t.Fatal(err)
		}
		count[d.Target]++
		req.Key = "other"
		if d2, _ := p.Pick(req); d2.Target != d.Target {
			t.Fatalf("user %d went to %d then %d", u, d.Target, d2.Target)
		}
	}
	for i, c := range count {
		if r := float64(c) / (users / n); r > 1.27 || r < 0.5 {
			t.Errorf("member %d got %.2f of its share: %v", i, r, count)
		}
	}
}

// TestStickyGolden pins the key -> member mapping of the default parameters.
// Nodes of a cluster running different versions must agree on it: if this
// test fails, keys would move between nodes during a rolling upgrade. Change
// the expectations only with a release note.
func TestStickyGolden(t *testing.T) {
	ms := members(10)
	p := newSticky(t, nil).Build(ms)
	want := map[string]string{
		"a":               "h-07",
		"user-42":         "h-01",
		"order:2024-0001": "h-08",
		"z":               "h-00",
		"tenant/eu/17":    "h-01",
		"ключ":            "h-03",
	}
	for key, id := range want {
		d, err := p.Pick(strategies.Request{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		if got := ms[d.Target].ID; got != id {
			t.Errorf("key %q -> %s, want %s", key, got, id)
		}
	}
}
