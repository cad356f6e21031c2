package config

import (
	"slices"
	"testing"
)

func TestSplitPath(t *testing.T) {
	for path, want := range map[string][]string{
		"exchanges[2].strategy":                               {"exchanges", "2", "strategy"},
		`node.labels["bourse.io/zone"]`:                       {"node", "labels", "bourse.io/zone"},
		`services[1].selector.match_labels["a.b"]`:            {"services", "1", "selector", "match_labels", "a.b"},
		`services[0].selector.match_expressions[2].values[1]`: {"services", "0", "selector", "match_expressions", "2", "values", "1"},
		`node.labels["unclosed`:                               {"node", "labels", `"unclosed`},
		"":                                                    nil,
	} {
		if got := splitPath(path); !slices.Equal(got, want) {
			t.Errorf("splitPath(%q) = %q, want %q", path, got, want)
		}
	}
}
