// Package suggest finds the known name that a mistyped one most likely
// meant, for the "did you mean" of bourse's configuration errors.
package suggest

import "strings"

// Closest returns the name of known that s is most likely a typo of, ignoring
// case: at most 2 edits away, and fewer edits than half of s. It returns ""
// otherwise.
func Closest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := Distance(strings.ToLower(s), strings.ToLower(k)); d < bestD && 2*d < len(s) {
			best, bestD = k, d
		}
	}
	return best
}

// Distance is the optimal string alignment distance between a and b
// (Levenshtein's, with a swap of neighbours as one edit: "hots" is one edit
// from "host"), in bytes: keys and names are ASCII.
func Distance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
