package topic

// inlineActive is how many active trie nodes Match and HasMatch track without
// allocating.
const inlineActive = 16

// smallDedup is how many matching patterns Match deduplicates by looking the
// values up in the earlier patterns' nodes; above it, it uses a map.
const smallDedup = 8

// Match appends to dst every distinct value with at least one pattern
// matching key, and returns the extended slice. A value under several
// matching patterns is appended once (AMQP delivers one copy per queue).
// key is assumed valid (see ValidateKey); an invalid key gives an unspecified
// result but never panics.
//
// The order of the values is unspecified; it is deterministic for a given
// sequence of Add and Remove calls.
//
// Match does not allocate, beyond growing dst, unless more than 16 trie
// nodes are reached at once or more than 8 patterns match; a key typically
// reaches a handful of nodes and matches one pattern, whose values are then
// copied to dst as they are. It does not modify the trie, so it may run
// concurrently with Match, HasMatch, Patterns and Len, but not with Add or
// Remove.
func (t *Trie[V]) Match(key string, dst []V) []V {
	var a, b [inlineActive]*node[V]
	active := t.run(key, a[:0], b[:0])
	var first *node[V]
	count := 0
	for _, n := range active {
		if len(n.vals) > 0 {
			if first == nil {
				first = n
			}
			count++
		}
	}
	switch {
	case count == 0:
		return dst
	case count == 1:
		return append(dst, first.vals...)
	case count <= smallDedup:
		// Append a value unless an earlier matching node holds it too.
		for i, n := range active {
			for _, v := range n.vals {
				if !heldBy(active[:i], v) {
					dst = append(dst, v)
				}
			}
		}
		return dst
	default:
		seen := make(map[V]struct{})
		for _, n := range active {
			for _, v := range n.vals {
				if _, dup := seen[v]; !dup {
					seen[v] = struct{}{}
					dst = append(dst, v)
				}
			}
		}
		return dst
	}
}

// heldBy reports whether one of nodes holds v.
func heldBy[V comparable](nodes []*node[V], v V) bool {
	for _, n := range nodes {
		if len(n.vals) > 0 && n.find(v) >= 0 {
			return true
		}
	}
	return false
}

// HasMatch reports whether at least one pattern matches key. It does not
// allocate unless more than 16 trie nodes are reached at once (see Match).
// The exchange uses it to decide whether to send a publication to a node at
// all. It may run concurrently with Match, HasMatch, Patterns and Len, but
// not with Add or Remove.
func (t *Trie[V]) HasMatch(key string) bool {
	var a, b [inlineActive]*node[V]
	for _, n := range t.run(key, a[:0], b[:0]) {
		if len(n.vals) > 0 {
			return true
		}
	}
	return false
}

// run returns the trie nodes reached by key: the nodes whose pattern prefix
// matches the whole key. It simulates every path at once, one key word at a
// time (as a Thompson NFA does), so that each node is active at most once
// per word however many ways '#'s can split the key: the cost is
// O(active nodes × words), never exponential. cur and spare are empty
// buffers to work in; the result uses one of them, or a larger allocation.
//
// The set of active nodes stays free of duplicates without a lookup for most
// nodes: a node entered by a literal or '*' edge has a single way in (its
// parent's edge, and the parent is active at most once). Only a '#' node can
// be reached twice: by looping on itself (it was active before the word)
// and through its parent (active after the word), '#' matching zero words.
func (t *Trie[V]) run(key string, cur, spare []*node[V]) []*node[V] {
	cur = append(cur, &t.root)
	for h := t.root.hash; h != nil; h = h.hash {
		cur = append(cur, h)
	}
	var before map[*node[V]]bool // the '#' nodes of cur, when cur is too long to scan
	for i := 0; i <= len(key); {
		w, next := word(key, i)
		nxt := spare[:0]
		for _, x := range cur {
			if c := x.lit[w]; c != nil {
				nxt = append(nxt, c)
			}
			if x.star != nil {
				nxt = append(nxt, x.star)
			}
			if x.isHash() {
				nxt = append(nxt, x) // '#' absorbs w
			}
		}
		// '#' may match zero words: add the '#' child of every active node,
		// unless it absorbed w above, which it did if it was active before w.
		indexed := false
		for j := 0; j < len(nxt); j++ {
			h := nxt[j].hash
			if h == nil {
				continue
			}
			var wasActive bool
			if len(cur) <= inlineActive {
				wasActive = contains(cur, h)
			} else {
				if !indexed {
					if before == nil {
						before = make(map[*node[V]]bool)
					}
					clear(before)
					for _, x := range cur {
						if x.isHash() {
							before[x] = true
						}
					}
					indexed = true
				}
				wasActive = before[h]
			}
			if !wasActive {
				nxt = append(nxt, h)
			}
		}
		if len(nxt) == 0 {
			return nxt
		}
		cur, spare = nxt, cur
		i = next
	}
	return cur
}

func contains[V comparable](nodes []*node[V], n *node[V]) bool {
	for _, x := range nodes {
		if x == n {
			return true
		}
	}
	return false
}
