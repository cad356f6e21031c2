package topic

import (
	"maps"
	"slices"
	"strings"
)

// Trie indexes subscription patterns, each with a multiset of values, and
// finds the values whose patterns match a routing key. Words of the patterns
// label the edges: literal words in a map, '*' and '#' in their own slots.
//
// The zero Trie is empty and ready to use.
//
// A Trie is not safe for concurrent use: the caller locks. Match, HasMatch,
// Patterns and Len do not modify the trie, so they may run concurrently with
// each other (under a sync.RWMutex read lock, say) but not with Add or
// Remove.
type Trie[V comparable] struct {
	root node[V]
	// patterns maps each pattern that has at least one value to the node
	// holding its values.
	patterns map[string]*node[V]
	// pairs counts the distinct (pattern, value) pairs.
	pairs int
}

// smallNode is the number of values a node holds before it indexes them in a
// map (below it, a linear scan is as fast).
const smallNode = 8

type node[V comparable] struct {
	parent *node[V]
	word   string              // label of the edge from parent: a literal, "*" or "#"
	lit    map[string]*node[V] // children by literal word
	star   *node[V]            // child by '*'
	hash   *node[V]            // child by '#'
	vals   []V                 // distinct values of the pattern ending here, if any
	refs   []int               // refs[i] counts the Adds of vals[i] not yet removed
	index  map[V]int           // vals[index[v]] == v; nil while len(vals) <= smallNode
}

// isHash reports whether the edge into n is '#' (which then matches further
// key words by looping on n).
func (n *node[V]) isHash() bool { return n.word == "#" && n.parent != nil }

// find returns the position of v in n.vals, or -1.
func (n *node[V]) find(v V) int {
	if n.index != nil {
		if i, ok := n.index[v]; ok {
			return i
		}
		return -1
	}
	for i, x := range n.vals {
		if x == v {
			return i
		}
	}
	return -1
}

// child returns n's child by word w, creating it if needed.
func (n *node[V]) child(w string) *node[V] {
	slot := &n.star
	switch w {
	case "*":
	case "#":
		slot = &n.hash
	default:
		if c := n.lit[w]; c != nil {
			return c
		}
		c := &node[V]{parent: n, word: w}
		if n.lit == nil {
			n.lit = make(map[string]*node[V])
		}
		n.lit[w] = c
		return c
	}
	if *slot == nil {
		*slot = &node[V]{parent: n, word: w}
	}
	return *slot
}

// unlink removes the child c from n.
func (n *node[V]) unlink(c *node[V]) {
	switch {
	case c == n.star:
		n.star = nil
	case c == n.hash:
		n.hash = nil
	default:
		delete(n.lit, c.word)
		if len(n.lit) == 0 {
			n.lit = nil
		}
	}
}

// empty reports whether n holds no values and has no children.
func (n *node[V]) empty() bool {
	return len(n.vals) == 0 && len(n.lit) == 0 && n.star == nil && n.hash == nil
}

// Add adds one reference to v under pattern, after validating pattern (the
// error is an [*Error] wrapping [ErrInvalidPattern], and the trie is then
// unchanged). newPattern reports whether pattern had no values before, that
// is whether it is new to the trie: the exchange subscribes upstream once per
// distinct pattern.
//
// References are counted: adding the same (pattern, v) twice needs two
// Removes to take v off pattern, and Len counts the pair once.
//
// Add must not run concurrently with any other method of t.
func (t *Trie[V]) Add(pattern string, v V) (newPattern bool, err error) {
	n := t.patterns[pattern]
	if n == nil {
		if err := ValidatePattern(pattern); err != nil {
			return false, err
		}
		// Clone so that the trie does not pin the caller's larger string.
		pattern = strings.Clone(pattern)
		n = &t.root
		for i := 0; i <= len(pattern); {
			w, next := word(pattern, i)
			n = n.child(w)
			i = next
		}
		if t.patterns == nil {
			t.patterns = make(map[string]*node[V])
		}
		t.patterns[pattern] = n
		newPattern = true
	}
	if i := n.find(v); i >= 0 {
		n.refs[i]++
		return newPattern, nil
	}
	n.vals = append(n.vals, v)
	n.refs = append(n.refs, 1)
	if n.index != nil {
		n.index[v] = len(n.vals) - 1
	} else if len(n.vals) > smallNode {
		n.index = make(map[V]int, len(n.vals))
		for i, x := range n.vals {
			n.index[x] = i
		}
	}
	t.pairs++
	return newPattern, nil
}

// Remove removes one reference to v under pattern. patternGone reports that
// pattern has no values left (and is gone from the trie): the exchange then
// unsubscribes upstream. Removing a pair that is absent (or an invalid
// pattern) returns false and changes nothing. Trie nodes left empty are
// pruned.
//
// Remove must not run concurrently with any other method of t.
func (t *Trie[V]) Remove(pattern string, v V) (patternGone bool) {
	n := t.patterns[pattern]
	if n == nil {
		return false
	}
	i := n.find(v)
	if i < 0 {
		return false
	}
	if n.refs[i]--; n.refs[i] > 0 {
		return false
	}
	// Swap-delete: move the last value into slot i.
	last := len(n.vals) - 1
	if n.index != nil {
		delete(n.index, v)
		if i != last {
			n.index[n.vals[last]] = i
		}
	}
	n.vals[i], n.refs[i] = n.vals[last], n.refs[last]
	var zero V
	n.vals[last] = zero // let the garbage collector have it
	n.vals, n.refs = n.vals[:last], n.refs[:last]
	t.pairs--
	if last > 0 {
		return false
	}
	n.vals, n.refs, n.index = nil, nil, nil
	delete(t.patterns, pattern)
	for n != &t.root && n.empty() {
		n.parent.unlink(n)
		n = n.parent
	}
	return true
}

// Patterns returns the distinct patterns that have at least one value,
// sorted.
// It may run concurrently with Match, HasMatch, Patterns and Len.
func (t *Trie[V]) Patterns() []string {
	return slices.Sorted(maps.Keys(t.patterns))
}

// Len returns the number of distinct (pattern, value) pairs: a value under
// two patterns counts twice, and a pair added twice counts once.
// It may run concurrently with Match, HasMatch, Patterns and Len.
func (t *Trie[V]) Len() int { return t.pairs }
