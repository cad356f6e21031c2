package topic

import (
	"strings"
	"testing"
	"time"
)

var matchTests = []struct {
	pattern, key string
	want         bool
}{
	// Literals.
	{"a", "a", true},
	{"a", "b", false},
	{"a.b.c", "a.b.c", true},
	{"a.b.c", "a.b", false},
	{"a.b", "a.b.c", false},
	{"a.b.c", "a.b.d", false},
	{"ab", "a", false},
	{"a", "ab", false},
	{"a.bc", "a.b", false},
	{"prices.nyse.AAPL", "prices.nyse.AAPL", true},
	// '*' is exactly one word.
	{"*", "a", true},
	{"*", "a.b", false},
	{"a.*", "a", false},
	{"a.*", "a.b", true},
	{"a.*", "a.b.c", false},
	{"*.b", "a.b", true},
	{"*.b", "b", false},
	{"*.*", "a.b", true},
	{"*.*", "a", false},
	{"*.*", "a.b.c", false},
	{"a.*.c", "a.b.c", true},
	{"a.*.c", "a.c", false},
	{"a.*.c", "a.b.b.c", false},
	{"a.*.c", "a.b.d", false},
	{"prices.*.AAPL", "prices.nyse.AAPL", true},
	{"prices.*.AAPL", "prices.nyse.MSFT", false},
	// '#' alone matches everything.
	{"#", "a", true},
	{"#", "a.b.c", true},
	{"#.#", "a", true},
	{"#.#", "a.b", true},
	// '#' at the end.
	{"a.#", "a", true},
	{"a.#", "a.b", true},
	{"a.#", "a.b.c", true},
	{"a.#", "b", false},
	{"a.#", "b.a", false},
	{"a.#", "ab", false},
	{"prices.#", "prices.nyse.AAPL", true},
	// '#' at the start.
	{"#.a", "a", true},
	{"#.a", "x.a", true},
	{"#.a", "x.y.a", true},
	{"#.a", "a.x", false},
	{"#.a", "xa", false},
	{"#.a", "a.a", true},
	// '#' in the middle.
	{"a.#.c", "a.c", true},
	{"a.#.c", "a.b.c", true},
	{"a.#.c", "a.b.b.c", true},
	{"a.#.c", "a.b", false},
	{"a.#.c", "a.c.d", false},
	{"a.#.c", "a.c.c", true},
	{"a.#.c", "c", false},
	{"a.#.b.c", "a.b.x.b.c", true},
	{"a.#.b.c", "a.b.c.b", false},
	// Several '#'.
	{"#.#.a", "a", true},
	{"#.a.#", "a", true},
	{"#.a.#", "x.a.y", true},
	{"#.a.#", "x.y", false},
	{"#.a.#.b.#", "a.b", true},
	{"#.a.#.b.#", "x.a.y.b.z", true},
	{"#.a.#.b.#", "b.a", false},
	{"a.#.#", "a", true},
	{"a.#.#", "a.b.c", true},
	{"a.#.#.b", "a.b", true},
	{"#.#.#.#.#.a", "x.y.z.a", true},
	{"#.#.#.#.#.a", "x.y.z.b", false},
	// '#' and '*' together.
	{"#.*", "a", true},
	{"#.*", "a.b.c", true},
	{"*.#", "a", true},
	{"*.#", "a.b", true},
	{"*.#.*", "a", false},
	{"*.#.*", "a.b", true},
	{"*.#.*", "a.b.c.d", true},
	{"#.*.#", "a", true},
	{"#.*.*", "a", false},
	{"#.*.*", "a.b", true},
	{"a.*.#", "a", false},
	{"a.*.#", "a.b", true},
	{"a.#.*", "a", false},
	{"a.#.*", "a.b.c", true},
	{"#.b.*", "a.b.c", true},
	{"#.b.*", "a.b", false},
	// A key with more words than the pattern.
	{"a.b", "a.b.c.d", false},
	{"a.*", "a.b.c.d", false},
	{"*.*.*", "a.b.c.d", false},
	// A pattern with more words than the key.
	{"a.b.c.d", "a.b", false},
	{"a.b.#", "a", false},
	// Bytes that are special elsewhere are plain in words.
	{"a b.c", "a b.c", true},
	{"é.*", "é.ü", true},
	{"a+.b", "a+.b", true},
	{"a+.b", "aa.b", false},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		if err := ValidatePattern(tt.pattern); err != nil {
			t.Fatalf("test pattern: %v", err)
		}
		if err := ValidateKey(tt.key); err != nil {
			t.Fatalf("test key: %v", err)
		}
		if got := Match(tt.pattern, tt.key); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
		// The references must agree with the table, or they check nothing.
		if got := refMatchDP(tt.pattern, tt.key); got != tt.want {
			t.Errorf("refMatchDP(%q, %q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
		if got, ok := refMatchRegexp(tt.pattern, tt.key); ok && got != tt.want {
			t.Errorf("refMatchRegexp(%q, %q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
		// The trie must agree too.
		var tr Trie[int]
		if _, err := tr.Add(tt.pattern, 1); err != nil {
			t.Fatal(err)
		}
		if got := len(tr.Match(tt.key, nil)) == 1; got != tt.want {
			t.Errorf("Trie{%q}.Match(%q) found = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
		if got := tr.HasMatch(tt.key); got != tt.want {
			t.Errorf("Trie{%q}.HasMatch(%q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
	}
}

// TestMatchInvalidInput checks that invalid input does not panic.
func TestMatchInvalidInput(t *testing.T) {
	inputs := []string{"", ".", "..", "a.", ".a", "a..b", "*", "#", "a*", "#b", "a.#."}
	var tr Trie[int]
	for _, p := range []string{"#", "a.#", "*", "#.*.#"} {
		if _, err := tr.Add(p, len(p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range inputs {
		for _, k := range inputs {
			Match(p, k)
		}
		tr.Match(p, nil)
		tr.HasMatch(p)
	}
}

// TestMatchWorstCase checks that many '#' against a long key that almost
// matches stays fast (no exponential backtracking).
func TestMatchWorstCase(t *testing.T) {
	key := strings.Repeat("x.", 127) + "b" // 255 bytes, 128 words
	patterns := []string{
		"#.#.#.#.#.a",
		"#.x.#.x.#.x.#.x.#.a",
		"#.*.#.*.#.*.#.*.#.*.#.a",
		strings.Repeat("#.", 60) + "a",
		strings.Repeat("#.x.", 30) + "a",
	}
	var tr Trie[int]
	for i, p := range patterns {
		if err := ValidatePattern(p); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Add(p, i); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for range 100 {
		for _, p := range patterns {
			if Match(p, key) {
				t.Fatalf("Match(%q, long key) = true", p)
			}
		}
		if tr.HasMatch(key) {
			t.Fatal("Trie.HasMatch(long key) = true")
		}
		if got := tr.Match(key, nil); len(got) != 0 {
			t.Fatalf("Trie.Match(long key) = %v", got)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("100 rounds took %v: matching is too slow", d)
	}
}

func TestMatchAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		Match("#.#.#.#.#.a", "x.y.z.b")
		Match("prices.*.AAPL", "prices.nyse.AAPL")
		Match("prices.#", "prices.nyse.AAPL")
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per run, want 0", allocs)
	}
}
