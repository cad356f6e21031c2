package topic

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// countNodes returns the number of nodes under n, n included.
func countNodes[V comparable](n *node[V]) int {
	if n == nil {
		return 0
	}
	c := 1 + countNodes(n.star) + countNodes(n.hash)
	for _, k := range n.lit {
		c += countNodes(k)
	}
	return c
}

// checkActiveUnique checks that run reaches each trie node at most once.
func checkActiveUnique[V comparable](t *testing.T, tr *Trie[V], key string) {
	t.Helper()
	seen := map[*node[V]]bool{}
	for _, n := range tr.run(key, nil, nil) {
		if seen[n] {
			t.Fatalf("run(%q) reaches node %q twice (patterns %q)", key, n.word, tr.Patterns())
		}
		seen[n] = true
	}
}

func sorted(v []int) []int {
	slices.Sort(v)
	return v
}

func TestTrieZeroValue(t *testing.T) {
	var tr Trie[string]
	if got := tr.Match("a.b", nil); len(got) != 0 {
		t.Errorf("Match on empty trie = %v", got)
	}
	if tr.HasMatch("a") {
		t.Error("HasMatch on empty trie = true")
	}
	if tr.Remove("a", "x") {
		t.Error("Remove on empty trie = true")
	}
	if got := tr.Patterns(); len(got) != 0 {
		t.Errorf("Patterns on empty trie = %v", got)
	}
	if tr.Len() != 0 {
		t.Errorf("Len on empty trie = %d", tr.Len())
	}
}

func TestTrieAddInvalid(t *testing.T) {
	var tr Trie[int]
	for _, p := range []string{"", "a..b", "a*", "a.#b", long256} {
		newPattern, err := tr.Add(p, 1)
		if !errors.Is(err, ErrInvalidPattern) || newPattern {
			t.Errorf("Add(%q) = %v, %v, want false, ErrInvalidPattern", p, newPattern, err)
		}
	}
	if tr.Len() != 0 || countNodes(&tr.root) != 1 {
		t.Errorf("invalid Adds changed the trie: Len %d, %d nodes", tr.Len(), countNodes(&tr.root))
	}
}

func TestTrieRefCount(t *testing.T) {
	var tr Trie[string]
	add := func(p, v string, wantNew bool) {
		t.Helper()
		newPattern, err := tr.Add(p, v)
		if err != nil || newPattern != wantNew {
			t.Fatalf("Add(%q, %q) = %v, %v, want %v, nil", p, v, newPattern, err, wantNew)
		}
	}
	remove := func(p, v string, wantGone bool) {
		t.Helper()
		if gone := tr.Remove(p, v); gone != wantGone {
			t.Fatalf("Remove(%q, %q) = %v, want %v", p, v, gone, wantGone)
		}
	}
	add("a.*", "x", true)
	add("a.*", "x", false) // second reference
	add("a.*", "y", false)
	add("a.#", "x", true)
	if tr.Len() != 3 {
		t.Errorf("Len = %d, want 3 distinct (pattern, value) pairs", tr.Len())
	}
	if got, want := tr.Patterns(), []string{"a.#", "a.*"}; !slices.Equal(got, want) {
		t.Errorf("Patterns = %q, want %q", got, want)
	}
	remove("a.*", "z", false) // absent value
	remove("b.*", "x", false) // absent pattern
	remove("a.*", "x", false) // x still has one reference
	if got := sortedStrings(tr.Match("a.b", nil)); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("Match = %q, want [x y]", got)
	}
	remove("a.*", "x", false) // y is still there
	remove("a.*", "x", false) // absent now
	if tr.Len() != 2 {
		t.Errorf("Len = %d, want 2", tr.Len())
	}
	remove("a.*", "y", true)
	if got, want := tr.Patterns(), []string{"a.#"}; !slices.Equal(got, want) {
		t.Errorf("Patterns = %q, want %q", got, want)
	}
	add("a.*", "y", true) // new again
	remove("a.*", "y", true)
	remove("a.#", "x", true)
	if tr.Len() != 0 || len(tr.Patterns()) != 0 {
		t.Errorf("after removing all: Len %d, Patterns %q", tr.Len(), tr.Patterns())
	}
	if n := countNodes(&tr.root); n != 1 {
		t.Errorf("after removing all: %d nodes, want only the root", n)
	}
}

func sortedStrings(v []string) []string {
	slices.Sort(v)
	return v
}

func TestTriePrune(t *testing.T) {
	var tr Trie[int]
	for i, p := range []string{"a.b.c", "a.b", "a.*.#", "a.#.c", "#", "x.y.z"} {
		if _, err := tr.Add(p, i); err != nil {
			t.Fatal(err)
		}
	}
	// root, a, a.b, a.b.c, a.*, a.*.#, a.#, a.#.c, #, x, x.y, x.y.z
	if n := countNodes(&tr.root); n != 12 {
		t.Fatalf("%d nodes, want 12", n)
	}
	steps := []struct {
		pattern string
		value   int
		nodes   int
	}{
		{"x.y.z", 5, 9},  // the whole x branch goes
		{"a.b", 1, 9},    // a.b stays for a.b.c
		{"a.b.c", 0, 7},  // a.b.c and a.b go
		{"a.*.#", 2, 5},  // a.*.# and a.* go
		{"#", 4, 4},      // # goes
		{"a.#.c", 3, 1},  // a.#.c, a.# and a go: only the root is left
		{"a.#.c", 3, 1},  // absent: no change
		{"#", 4, 1},      // absent: no change
		{"nope", 9, 1},   // never added
		{"a.*.#", 99, 1}, // never added
	}
	for _, s := range steps {
		tr.Remove(s.pattern, s.value)
		if n := countNodes(&tr.root); n != s.nodes {
			t.Errorf("after Remove(%q): %d nodes, want %d", s.pattern, n, s.nodes)
		}
	}
	if tr.root.lit != nil || tr.root.star != nil || tr.root.hash != nil {
		t.Error("root keeps children")
	}
}

func TestTrieDedup(t *testing.T) {
	var tr Trie[int]
	// Value 1 under four matching patterns, 2 under two, 3 under one, 4
	// under a pattern that does not match.
	for _, pv := range []struct {
		p string
		v int
	}{
		{"a.b.c", 1}, {"a.*.c", 1}, {"#", 1}, {"a.#", 1},
		{"#.c", 2}, {"a.b.c", 2}, {"*.*.*", 3}, {"b.#", 4},
	} {
		if _, err := tr.Add(pv.p, pv.v); err != nil {
			t.Fatal(err)
		}
	}
	if got := sorted(tr.Match("a.b.c", nil)); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("Match = %v, want [1 2 3]", got)
	}
	// Appends to dst, keeping what it holds.
	if got := tr.Match("a.b.c", []int{7}); len(got) != 4 || got[0] != 7 {
		t.Errorf("Match with dst [7] = %v", got)
	}
}

// TestTrieDedupMany exercises the map-based deduplication: more than
// smallDedup matching patterns, nodes with more than smallNode values.
func TestTrieDedupMany(t *testing.T) {
	var tr Trie[int]
	patterns := []string{"#", "a.#", "#.c", "a.b.c", "a.*.c", "*.b.*", "*.*.*", "#.b.#", "a.#.c", "#.*", "*.#", "a.b.#"}
	for i, p := range patterns {
		for v := range 20 {
			if _, err := tr.Add(p, (v*(i+1))%50); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := sorted(tr.Match("a.b.c", nil))
	want := bruteForce(&tr, "a.b.c")
	if !slices.Equal(got, want) {
		t.Errorf("Match = %v, want %v", got, want)
	}
}

// bruteForce matches key against every pattern of tr with Match and returns
// the distinct values, sorted.
func bruteForce(tr *Trie[int], key string) []int {
	var out []int
	for p, n := range tr.patterns {
		if Match(p, key) {
			out = append(out, n.vals...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func randomPattern(r *rand.Rand) string {
	words := []string{"a", "b", "c", "*", "#", "#"}
	n := 1 + r.IntN(5)
	w := make([]string, n)
	for i := range w {
		w[i] = words[r.IntN(len(words))]
	}
	return strings.Join(w, ".")
}

func randomKey(r *rand.Rand) string {
	words := []string{"a", "b", "c", "d"}
	n := 1 + r.IntN(6)
	w := make([]string, n)
	for i := range w {
		w[i] = words[r.IntN(len(words))]
	}
	return strings.Join(w, ".")
}

// TestTrieProperty checks Trie.Match and HasMatch against a brute force over
// all the patterns with Match, while patterns and values come and go.
func TestTrieProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type pair struct {
		p string
		v int
	}
	for round := range 50 {
		var tr Trie[int]
		refs := map[pair]int{}
		var added []pair
		for op := range 400 {
			if len(added) > 0 && r.IntN(3) == 0 {
				i := r.IntN(len(added))
				pv := added[i]
				added = slices.Delete(added, i, i+1)
				refs[pv]--
				if refs[pv] == 0 {
					delete(refs, pv)
				}
				stillThere := false
				for q := range refs {
					stillThere = stillThere || q.p == pv.p
				}
				if gone := tr.Remove(pv.p, pv.v); gone == stillThere {
					t.Fatalf("round %d op %d: Remove(%q, %d) = %v with pattern still there = %v", round, op, pv.p, pv.v, gone, stillThere)
				}
			} else {
				pv := pair{randomPattern(r), r.IntN(30)}
				wasThere := false
				for q := range refs {
					wasThere = wasThere || q.p == pv.p
				}
				newPattern, err := tr.Add(pv.p, pv.v)
				if err != nil || newPattern == wasThere {
					t.Fatalf("round %d op %d: Add(%q, %d) = %v, %v; pattern there before = %v", round, op, pv.p, pv.v, newPattern, err, wasThere)
				}
				added = append(added, pv)
				refs[pv]++
			}
			if tr.Len() != len(refs) {
				t.Fatalf("Len = %d, want %d", tr.Len(), len(refs))
			}
			for range 5 {
				key := randomKey(r)
				want := bruteForce(&tr, key)
				got := tr.Match(key, nil)
				if len(got) != len(want) || !slices.Equal(sorted(got), want) {
					t.Fatalf("round %d op %d: Match(%q) = %v, want %v (patterns %q)", round, op, key, got, want, tr.Patterns())
				}
				if has := tr.HasMatch(key); has != (len(want) > 0) {
					t.Fatalf("HasMatch(%q) = %v, want %v", key, has, len(want) > 0)
				}
				checkActiveUnique(t, &tr, key)
			}
		}
		// Empty the trie: it must prune down to the root.
		for _, pv := range added {
			tr.Remove(pv.p, pv.v)
		}
		if n := countNodes(&tr.root); n != 1 || tr.Len() != 0 || len(tr.patterns) != 0 {
			t.Fatalf("emptied trie: %d nodes, Len %d, %d patterns", n, tr.Len(), len(tr.patterns))
		}
	}
}

// TestTrieManyValues exercises the value index of big nodes, including
// swap-deletes.
func TestTrieManyValues(t *testing.T) {
	var tr Trie[int]
	const n = 100
	for v := range n {
		tr.Add("a.*", v)
		tr.Add("a.*", v)
	}
	for v := 0; v < n; v += 2 {
		tr.Remove("a.*", v)
		tr.Remove("a.*", v)
	}
	for v := 1; v < n; v += 4 {
		tr.Remove("a.*", v)
	}
	var want []int
	for v := 1; v < n; v += 2 {
		want = append(want, v)
	}
	if got := sorted(tr.Match("a.b", nil)); !slices.Equal(got, want) {
		t.Errorf("Match = %v, want %v", got, want)
	}
	for _, v := range want {
		if i := tr.patterns["a.*"].find(v); i < 0 || tr.patterns["a.*"].vals[i] != v {
			t.Fatalf("index broken for %d", v)
		}
	}
}

func TestTrieMatchAllocs(t *testing.T) {
	var tr Trie[int]
	for i, p := range []string{"prices.nyse.AAPL", "prices.*.MSFT", "prices.#", "news.#", "#.AAPL"} {
		tr.Add(p, i)
	}
	for i := range 20 {
		tr.Add("prices.*.AAPL", 100+i)
	}
	dst := make([]int, 0, 64)
	tests := []struct {
		key    string
		allocs float64
	}{
		{"news.nyse.IBM", 0},    // one matching node
		{"weather.paris", 0},    // no match
		{"prices.nyse.AAPL", 0}, // four matching nodes, deduplicated through the nodes
	}
	for _, tt := range tests {
		got := testing.AllocsPerRun(100, func() {
			dst = tr.Match(tt.key, dst[:0])
			tr.HasMatch(tt.key)
		})
		if got != tt.allocs {
			t.Errorf("Match(%q) allocates %v times, want %v", tt.key, got, tt.allocs)
		}
	}
}
