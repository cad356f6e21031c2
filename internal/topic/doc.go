// Package topic implements AMQP-topic-style routing keys and subscription
// patterns for the pub-sub exchange (requirement R17).
//
// # Routing keys
//
// A routing key is one or more non-empty words separated by '.', such as
// "prices.nyse.AAPL". A word is any sequence of bytes other than '.', '*' and
// '#'; the key as a whole is at most [MaxLen] (255) bytes. The empty key is
// invalid, and so are keys with an empty word ("a..b", ".a", "a.").
// [ValidateKey] checks these rules.
//
// # Patterns
//
// A pattern is one or more words separated by '.', at most [MaxLen] bytes. Each
// word is a literal word (same rules as a key word), or exactly "*", which
// matches exactly one key word, or exactly "#", which matches zero or more
// key words. Wildcards must be whole words: "a*" and "#b" are invalid.
// [ValidatePattern] checks these rules. Examples:
//
//	"#"       matches every key
//	"a.#"     matches "a", "a.b", "a.b.c"
//	"#.a"     matches "a", "x.a", "x.y.a"
//	"a.*.c"   matches "a.b.c" only (not "a.c", not "a.b.b.c")
//	"a.#.#"   means the same as "a.#"
//
// [Match] matches one pattern against one key without allocating. [Trie]
// indexes many patterns, each with a set of values (for the exchange: the
// subscribers or nodes interested in the pattern), and returns the values
// whose patterns match a key. A Trie counts references: adding the same
// (pattern, value) twice takes two removals, and Add and Remove report when a
// pattern appears and disappears, so that the exchange subscribes upstream
// once per distinct pattern. A Trie is not safe for concurrent use: the
// caller locks (its read-only methods may share a read lock).
//
// # Errors
//
// Validation errors are [*Error] values that wrap [ErrInvalidKey] or
// [ErrInvalidPattern] (test with errors.Is) and name the input, the problem
// and the byte offset of the offending word, for example:
//
//	bourse: invalid pattern "a.b*": wildcard must be a whole word (at byte 2)
//
// # Cost
//
// Matching never backtracks exponentially: [Match] is O(words(pattern) ×
// words(key)) in the worst case and linear in the common case, and
// [Trie.Match] simulates all matching trie paths at once, so its cost is
// bounded by the number of trie nodes times the words in the key, and is
// proportional to the few nodes a typical key reaches.
package topic
