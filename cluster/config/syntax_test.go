package config

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestExcerptMarksTheColumn: the ^ stands under the character at col, in
// long lines (cut around it) and after characters of several bytes.
func TestExcerptMarksTheColumn(t *testing.T) {
	long := strings.Repeat("a", 200) + "X" + strings.Repeat("b", 200)
	tests := []struct {
		name string
		line string
		col  int
	}{
		{"short", "  key: {X", 9},
		{"non-ASCII before", "  nœud: é{X", 11},
		{"long, fault in the middle", long, 201},
		{"long, fault near the start", "X" + long, 1},
		{"long, fault at the end", long + "X", utf8.RuneCountInString(long) + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := []rune(tt.line)[tt.col-1]; r != 'X' {
				t.Fatalf("test case: column %d is %q", tt.col, r)
			}
			ex := strings.Split(excerpt([]string{"first", tt.line}, 2, tt.col), "\n")
			if len(ex) != 3 {
				t.Fatalf("excerpt has %d lines:\n%s", len(ex), strings.Join(ex, "\n"))
			}
			text, marker := []rune(ex[1]), []rune(ex[2])
			at := len(marker) - 1
			if marker[at] != '^' || at >= len(text) || text[at] != 'X' {
				t.Errorf("the marker is not under X:\n%s", strings.Join(ex, "\n"))
			}
			if len(text) > maxExcerpt+len("2 | ")+2 {
				t.Errorf("excerpt line of %d characters", len(text))
			}
		})
	}
}

// TestUnclosed skips brackets in quotes, comments and plain values.
func TestUnclosed(t *testing.T) {
	lines := []string{
		`a: "{[" # {`,
		`b: x[0]`,
		`c: 'it''s {'`,
		`d: {e: [1, 2], f: {g: 1}`,
		`h: 1`,
	}
	if l, c := unclosed(lines, '{', 5); l != 4 || c != 4 {
		t.Errorf("unclosed = %d:%d, want 4:4", l, c)
	}
	if l, _ := unclosed(lines, '[', 5); l != 0 {
		t.Errorf("unclosed '[' = line %d, want none", l)
	}
}
