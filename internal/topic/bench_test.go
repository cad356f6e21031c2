package topic

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func reportRate(b *testing.B, values int) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
	if values >= 0 {
		b.ReportMetric(float64(values)/float64(b.N), "values/op")
	}
}

func BenchmarkMatch(b *testing.B) {
	long := strings.Repeat("x.", 127) + "b"
	cases := []struct {
		name, pattern, key string
	}{
		{"literal", "prices.nyse.AAPL", "prices.nyse.AAPL"},
		{"star", "prices.*.AAPL", "prices.nyse.AAPL"},
		{"hash", "prices.#", "prices.nyse.AAPL"},
		{"hash-first", "#.AAPL", "prices.nyse.AAPL"},
		{"miss", "prices.*.MSFT", "prices.nyse.AAPL"},
		{"worst-128-words", "#.#.#.#.#.a", long},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.key)))
			for b.Loop() {
				Match(c.pattern, c.key)
			}
			reportRate(b, -1)
		})
	}
}

// manyPatterns returns a trie with n distinct patterns, mostly literal (70%),
// some with '*' (10%), '#' at the end (10%) and '#' at the start (10%), and
// keys that each match a few of them.
func manyPatterns(n int) (*Trie[int], []string) {
	var tr Trie[int]
	for i := range n {
		var p string
		switch i % 10 {
		case 7:
			p = fmt.Sprintf("prices.*.SYM%d", i)
		case 8:
			p = fmt.Sprintf("prices.ex%d.SYM%d.#", i%50, i)
		case 9:
			p = fmt.Sprintf("#.SYM%d", i)
		default:
			p = fmt.Sprintf("prices.ex%d.SYM%d", i%50, i)
		}
		if _, err := tr.Add(p, i); err != nil {
			panic(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, 1024)
	for i := range keys {
		j := r.IntN(n)
		keys[i] = fmt.Sprintf("prices.ex%d.SYM%d", j%50, j)
	}
	return &tr, keys
}

func BenchmarkTrieMatch(b *testing.B) {
	b.Run("10k-patterns", func(b *testing.B) {
		tr, keys := manyPatterns(10_000)
		dst := make([]int, 0, 16)
		values := 0
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			dst = tr.Match(keys[i%len(keys)], dst[:0])
			values += len(dst)
			i++
		}
		reportRate(b, values)
	})
	b.Run("10k-patterns-miss", func(b *testing.B) {
		tr, _ := manyPatterns(10_000)
		dst := make([]int, 0, 16)
		b.ReportAllocs()
		for b.Loop() {
			dst = tr.Match("news.ex3.SYM12345678", dst[:0])
		}
		reportRate(b, 0)
	})

	// 50,000 values under four patterns that all match "prices.nyse.AAPL";
	// every value is under one pattern, every tenth under all four.
	var big Trie[int]
	patterns := []string{"prices.#", "prices.*.AAPL", "prices.nyse.AAPL", "#.AAPL"}
	for v := range 50_000 {
		big.Add(patterns[v%4], v)
		if v%10 == 0 {
			for _, p := range patterns {
				big.Add(p, v)
			}
		}
	}
	for _, c := range []struct{ name, key string }{
		{"50k-values-4-patterns", "prices.nyse.AAPL"}, // deduplicated across four nodes
		{"50k-values-1-pattern", "prices.nyse.MSFT"},  // only prices.#: a plain copy
	} {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]int, 0, 50_000)
			values := 0
			b.ReportAllocs()
			for b.Loop() {
				dst = big.Match(c.key, dst[:0])
				values += len(dst)
			}
			reportRate(b, values)
		})
	}
}

func BenchmarkTrieHasMatch(b *testing.B) {
	tr, keys := manyPatterns(10_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tr.HasMatch(keys[i%len(keys)])
		i++
	}
	reportRate(b, -1)
}

func BenchmarkTrieAddRemove(b *testing.B) {
	tr, _ := manyPatterns(10_000)
	b.ReportAllocs()
	for b.Loop() {
		tr.Add("prices.*.SYM42.#", 1)
		tr.Remove("prices.*.SYM42.#", 1)
	}
}
