package topic

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Reference matchers, written independently of Match to check it.

// refMatchDP matches by dynamic programming over the words: ok[i][j] reports
// whether pattern words p[i:] match key words k[j:].
func refMatchDP(pattern, key string) bool {
	p, k := strings.Split(pattern, "."), strings.Split(key, ".")
	ok := make([][]bool, len(p)+1)
	for i := range ok {
		ok[i] = make([]bool, len(k)+1)
	}
	ok[len(p)][len(k)] = true
	for i := len(p) - 1; i >= 0; i-- {
		for j := len(k); j >= 0; j-- {
			switch {
			case p[i] == "#":
				// Zero words, or one word and stay on '#'.
				ok[i][j] = ok[i+1][j] || (j < len(k) && ok[i][j+1])
			case j == len(k):
				ok[i][j] = false
			case p[i] == "*" || p[i] == k[j]:
				ok[i][j] = ok[i+1][j+1]
			}
		}
	}
	return ok[0][0]
}

// refRegexp translates pattern into a regexp over "." + key: each key word is
// then preceded by a dot, so that "#" is simply any number of (dot, word).
// ok is false when the regexp package cannot express the pattern (invalid
// UTF-8).
func refRegexp(pattern string) (re *regexp.Regexp, ok bool) {
	if !utf8.ValidString(pattern) {
		return nil, false
	}
	var b strings.Builder
	b.WriteString(`^`)
	for _, w := range strings.Split(pattern, ".") {
		switch w {
		case "#":
			b.WriteString(`(?:\.[^.]+)*`)
		case "*":
			b.WriteString(`\.[^.]+`)
		default:
			b.WriteString(`\.` + regexp.QuoteMeta(w))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String()), true
}

// refMatchRegexp reports the regexp reference's answer; ok is false when the
// reference does not apply (invalid UTF-8, whose bytes the regexp package
// reads as U+FFFD).
func refMatchRegexp(pattern, key string) (match, ok bool) {
	if !utf8.ValidString(key) {
		return false, false
	}
	re, ok := refRegexp(pattern)
	if !ok {
		return false, false
	}
	return re.MatchString("." + key), true
}
