package topic

import (
	"strconv"
	"strings"
)

// MaxLen is the maximum length in bytes of a routing key or a pattern.
const MaxLen = 255

// ValidateKey reports whether key is a valid routing key: one or more
// non-empty words separated by '.', at most MaxLen bytes, with no '*' or '#'.
// The error is an [*Error] wrapping [ErrInvalidKey].
func ValidateKey(key string) error {
	return validate(key, false)
}

// ValidatePattern reports whether pattern is a valid subscription pattern:
// one or more words separated by '.', at most MaxLen bytes, each word being a
// non-empty literal without '*' and '#', or exactly "*", or exactly "#".
// The error is an [*Error] wrapping [ErrInvalidPattern].
func ValidatePattern(pattern string) error {
	return validate(pattern, true)
}

func validate(s string, pattern bool) error {
	sentinel, what := ErrInvalidKey, "key"
	if pattern {
		sentinel, what = ErrInvalidPattern, "pattern"
	}
	fail := func(pos int, reason string) error {
		return &Error{Input: s, Pos: pos, Reason: reason, Err: sentinel}
	}
	if s == "" {
		return fail(-1, "empty "+what)
	}
	if len(s) > MaxLen {
		return fail(-1, what+" is longer than "+strconv.Itoa(MaxLen)+" bytes")
	}
	for i := 0; i <= len(s); {
		w, next := word(s, i)
		switch {
		case w == "":
			return fail(i, "empty word")
		case pattern && (w == "*" || w == "#"):
			// A whole-word wildcard.
		case strings.ContainsAny(w, "*#"):
			if pattern {
				return fail(i, "wildcard must be a whole word")
			}
			return fail(i, "wildcards '*' and '#' are not allowed in a routing key")
		}
		i = next
	}
	return nil
}
