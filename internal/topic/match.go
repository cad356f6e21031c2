package topic

import "strings"

// word returns the word of s that starts at byte i (0 <= i <= len(s)) and the
// start of the following word, which is len(s)+1 when w is the last word.
func word(s string, i int) (w string, next int) {
	if j := strings.IndexByte(s[i:], '.'); j >= 0 {
		return s[i : i+j], i + j + 1
	}
	return s[i:], len(s) + 1
}

// Match reports whether pattern matches key. Both are assumed valid (see
// ValidatePattern and ValidateKey); invalid input gives an unspecified result
// but never panics.
//
// Match does not allocate. It walks both strings once, and when a word does
// not match it lets the last '#' seen absorb one more key word and retries
// from there (the classic glob algorithm, with '#' as the star), so the worst
// case is O(words(pattern) × words(key)), never exponential.
//
// Match is safe for concurrent use.
func Match(pattern, key string) bool {
	p, k := 0, 0          // start of the current word of pattern and key; past the end when > len
	hashP, hashK := -1, 0 // after the last '#': where to resume in pattern and key on a mismatch
	for k <= len(key) {
		if p <= len(pattern) {
			pw, pn := word(pattern, p)
			if pw == "#" {
				// Try '#' as zero words first; remember it for backtracking.
				hashP, hashK, p = pn, k, pn
				continue
			}
			kw, kn := word(key, k)
			if pw == "*" || pw == kw {
				p, k = pn, kn
				continue
			}
		}
		if hashP < 0 {
			return false
		}
		// Let the last '#' absorb one more key word and retry what follows it.
		// Earlier '#'s need no retry: the last one can absorb anything they could.
		_, hashK = word(key, hashK)
		p, k = hashP, hashK
	}
	// The key is used up: the rest of the pattern must be '#'s (zero words each).
	for p <= len(pattern) {
		pw, pn := word(pattern, p)
		if pw != "#" {
			return false
		}
		p = pn
	}
	return true
}
