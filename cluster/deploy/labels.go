package deploy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Label syntax, as Kubernetes has it (one charset for the node labels of
// cluster.Config.Labels and for the keys and values a Selector names):
//
//   - a key is a name, optionally prefixed by a DNS subdomain and a slash:
//     "zone", "bourse.io/zone";
//   - a name (and a value) is 1 to 63 characters of ASCII letters, digits,
//     '-', '_' and '.', beginning and ending with a letter or digit;
//   - a prefix is at most 253 characters of lowercase DNS labels separated
//     by dots, each 1 to 63 lowercase letters, digits and '-', beginning
//     and ending with a letter or digit.
//
// Keys and values are case-sensitive. Unlike Kubernetes, a value may not be
// empty: a label with nothing to match is a mistake in a configuration file
// more often than a meaning.
const (
	MaxLabelName   = 63
	MaxLabelPrefix = 253
)

// CheckLabelKey returns "" when key is a valid label key, and otherwise
// what is wrong with it, in words that fit after the key in an error
// message.
func CheckLabelKey(key string) string {
	if key == "" {
		return "is empty"
	}
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		name, prefix = key, ""
	}
	if hasPrefix {
		if p := checkPrefix(prefix); p != "" {
			return fmt.Sprintf("%q: prefix %s", key, p)
		}
	}
	if p := checkName(name); p != "" {
		if hasPrefix {
			return fmt.Sprintf("%q: name after the prefix %s", key, p)
		}
		return fmt.Sprintf("%q %s", key, p)
	}
	return ""
}

// CheckLabelValue is CheckLabelKey for a value.
func CheckLabelValue(value string) string {
	if value == "" {
		return "is empty"
	}
	if p := checkName(value); p != "" {
		return fmt.Sprintf("%q %s", value, p)
	}
	return ""
}

// CheckLabels returns the first problem of labels, in the order of sorted
// keys, and the key at fault: ("", "") when every key and value is valid.
// A problem of a value is reported for its key.
func CheckLabels(labels map[string]string) (key, problem string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if p := CheckLabelKey(k); p != "" {
			return k, "key " + p + LabelSyntax
		}
		if p := CheckLabelValue(labels[k]); p != "" {
			return k, "value " + p + LabelSyntax
		}
	}
	return "", ""
}

// LabelSyntax ends a problem of label syntax in an error message: what a
// key and a value must look like.
const LabelSyntax = " (want 1-63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit; a key may have a DNS prefix and a slash, as in bourse.io/zone)"

func checkName(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > MaxLabelName {
		return fmt.Sprintf("is %d characters long, more than %d", len(s), MaxLabelName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c):
		case (c == '-' || c == '_' || c == '.') && i > 0 && i < len(s)-1:
		default:
			return fmt.Sprintf("has %q at %d", c, i)
		}
	}
	return ""
}

func checkPrefix(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > MaxLabelPrefix {
		return fmt.Sprintf("is %d characters long, more than %d", len(s), MaxLabelPrefix)
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" || len(part) > MaxLabelName {
			return fmt.Sprintf("%q is not a DNS subdomain", s)
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			lower := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
			if !lower && !(c == '-' && i > 0 && i < len(part)-1) {
				return fmt.Sprintf("%q is not a DNS subdomain (lowercase letters, digits, '-' and '.')", s)
			}
		}
	}
	return ""
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
