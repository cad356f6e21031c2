package topic

import (
	"slices"
	"strings"
	"testing"
)

func FuzzMatch(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.pattern, tt.key)
	}
	f.Add("#.#.#.#.#.a", strings.Repeat("x.", 100)+"a")
	f.Add("#.x.#.x.#", "x.x.y.x")
	f.Add("a.*.#.*", "a.b")
	f.Add("\xff.#", "\xff.\xfe")
	f.Add("\ufffd.*", "\xff.b")
	f.Fuzz(func(t *testing.T, pattern, key string) {
		if ValidatePattern(pattern) != nil || ValidateKey(key) != nil {
			// Invalid input must not panic, whatever the answer.
			Match(pattern, key)
			return
		}
		got := Match(pattern, key)
		if want := refMatchDP(pattern, key); got != want {
			t.Fatalf("Match(%q, %q) = %v, dynamic programming says %v", pattern, key, got, want)
		}
		if want, ok := refMatchRegexp(pattern, key); ok && got != want {
			t.Fatalf("Match(%q, %q) = %v, regexp says %v", pattern, key, got, want)
		}
		var tr Trie[int]
		if _, err := tr.Add(pattern, 1); err != nil {
			t.Fatal(err)
		}
		if has := tr.HasMatch(key); has != got {
			t.Fatalf("Trie{%q}.HasMatch(%q) = %v, Match says %v", pattern, key, has, got)
		}
		if vals := tr.Match(key, nil); (len(vals) == 1) != got || len(vals) > 1 {
			t.Fatalf("Trie{%q}.Match(%q) = %v, Match says %v", pattern, key, vals, got)
		}
	})
}

// FuzzTrie adds the valid lines of patterns to a trie (the value of line i is
// i%4, so values share patterns), removes some of them as ops says, and checks
// Match, HasMatch, Patterns and Len against a brute force over the patterns
// with Match.
func FuzzTrie(f *testing.F) {
	f.Add("a.b\na.*\n#\na.#\n#.b", "a.b", []byte{0, 2})
	f.Add("#.#\n#\n#.*.#\n*.#.*", "x.y.z", []byte{1, 1, 3})
	f.Add("prices.*.AAPL\nprices.#\nprices.nyse.AAPL\nprices.*.AAPL", "prices.nyse.AAPL", []byte{3})
	f.Add("a.#.b\na.#.#.b\n#.a.#.b.#\n#.*.#.*", "a.b.a.b", []byte{})
	f.Fuzz(func(t *testing.T, patterns, key string, ops []byte) {
		if ValidateKey(key) != nil {
			return
		}
		lines := strings.Split(patterns, "\n")
		if len(lines) > 64 {
			lines = lines[:64]
		}
		type pair struct {
			p string
			v int
		}
		var tr Trie[int]
		refs := map[pair]int{}
		var added []pair
		for i, p := range lines {
			pv := pair{p, i % 4}
			_, err := tr.Add(p, pv.v)
			if (err == nil) != (ValidatePattern(p) == nil) {
				t.Fatalf("Add(%q) = %v, ValidatePattern disagrees", p, err)
			}
			if err == nil {
				refs[pv]++
				added = append(added, pv)
			}
		}
		for _, op := range ops {
			if len(added) == 0 {
				break
			}
			i := int(op) % len(added)
			pv := added[i]
			added = slices.Delete(added, i, i+1)
			if refs[pv]--; refs[pv] == 0 {
				delete(refs, pv)
			}
			tr.Remove(pv.p, pv.v)
		}
		var wantPatterns []string
		wantSet := map[int]bool{}
		for pv := range refs {
			wantPatterns = append(wantPatterns, pv.p)
			if Match(pv.p, key) {
				wantSet[pv.v] = true
			}
		}
		slices.Sort(wantPatterns)
		wantPatterns = slices.Compact(wantPatterns)
		if got := tr.Patterns(); !slices.Equal(got, wantPatterns) {
			t.Fatalf("Patterns = %q, want %q", got, wantPatterns)
		}
		if tr.Len() != len(refs) {
			t.Fatalf("Len = %d, want %d", tr.Len(), len(refs))
		}
		got := tr.Match(key, nil)
		gotSet := map[int]bool{}
		for _, v := range got {
			if gotSet[v] {
				t.Fatalf("Match(%q) = %v: %d twice", key, got, v)
			}
			gotSet[v] = true
		}
		if len(gotSet) != len(wantSet) {
			t.Fatalf("Match(%q) = %v, want the values %v (patterns %q)", key, got, wantSet, wantPatterns)
		}
		for v := range wantSet {
			if !gotSet[v] {
				t.Fatalf("Match(%q) = %v, want the values %v (patterns %q)", key, got, wantSet, wantPatterns)
			}
		}
		if has := tr.HasMatch(key); has != (len(wantSet) > 0) {
			t.Fatalf("HasMatch(%q) = %v, want %v", key, has, len(wantSet) > 0)
		}
		checkActiveUnique(t, &tr, key)
		// Removing everything prunes the trie down to the root.
		for _, pv := range added {
			tr.Remove(pv.p, pv.v)
		}
		if n := countNodes(&tr.root); n != 1 || tr.Len() != 0 {
			t.Fatalf("emptied trie: %d nodes, Len %d", n, tr.Len())
		}
	})
}
