package topic_test

import (
	"errors"
	"fmt"
	"slices"

	"github.com/bourse-go/bourse/internal/topic"
)

func ExampleMatch() {
	fmt.Println(topic.Match("prices.*.AAPL", "prices.nyse.AAPL"))
	fmt.Println(topic.Match("prices.#", "prices"))
	fmt.Println(topic.Match("a.*.c", "a.b.b.c"))
	// Output:
	// true
	// true
	// false
}

func ExampleValidatePattern() {
	err := topic.ValidatePattern("a.b*")
	fmt.Println(err)
	fmt.Println(errors.Is(err, topic.ErrInvalidPattern))
	// Output:
	// bourse: invalid pattern "a.b*": wildcard must be a whole word (at byte 2)
	// true
}

func ExampleTrie() {
	var subs topic.Trie[string] // zero value ready to use
	newPattern, _ := subs.Add("prices.#", "node1")
	fmt.Println("subscribe upstream:", newPattern)
	newPattern, _ = subs.Add("prices.#", "node2")
	fmt.Println("subscribe upstream:", newPattern)
	subs.Add("prices.*.AAPL", "node1")

	// node1 matches through both patterns but is delivered once.
	got := subs.Match("prices.nyse.AAPL", nil)
	slices.Sort(got)
	fmt.Println(got)

	fmt.Println("unsubscribe upstream:", subs.Remove("prices.#", "node1"))
	fmt.Println("unsubscribe upstream:", subs.Remove("prices.#", "node2"))
	fmt.Println(subs.Patterns(), subs.Len())
	// Output:
	// subscribe upstream: true
	// subscribe upstream: false
	// [node1 node2]
	// unsubscribe upstream: false
	// unsubscribe upstream: true
	// [prices.*.AAPL] 1
}
