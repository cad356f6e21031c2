package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/viper"
)

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// The YAML parser's complaints about the structure of a document (its
// "parser errors", as opposed to the scanner's). yaml.v3 gives their line
// 0-based, one line early: the line before the one at fault.
var parserProblems = []string{
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
}

// tabProblem is in the scanner's complaints about a tab in an indentation
// ("found a tab character that violates indentation", "... where an
// indentation space is expected"). Their line is that of the value being
// read when the tab came, which may be lines before the tab.
const tabProblem = "found a tab character"

// yamlError turns a parse error of viper into an *Error, with the line and
// column at fault and an excerpt of the document that marks them.
func yamlError(name string, data []byte, err error) *Error {
	cause := err
	var pe viper.ConfigParseError
	if errors.As(err, &pe) {
		cause = pe.Unwrap()
	}
	e := &Error{File: name, Err: cause}
	msg := strings.TrimSpace(cause.Error())
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:")
	var parts []string
	reported, hasLine := 0, false
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if m := yamlLine.FindStringSubmatch(l); m != nil {
			if !hasLine {
				reported, _ = strconv.Atoi(m[1])
				hasLine = true
			}
			l = m[2]
		}
		if l = strings.TrimPrefix(l, "yaml: "); l != "" {
			parts = append(parts, l)
		}
	}
	msg = strings.Join(parts, "; ")
	if strings.Contains(msg, "into map[string]interface {}") {
		// The document is a list or a scalar: say so in the file's terms.
		e.Line = reported
		e.Problem = "malformed YAML: the document must be a mapping of keys (node, cluster, broker, exchanges, log)"
		return e
	}
	lines := splitLines(data)
	var note string
	e.Line, e.Column, note = locate(lines, msg, reported, hasLine)
	e.Problem = "malformed YAML: " + msg
	if note != "" {
		e.Problem = "malformed YAML: " + note + " (" + msg + ")"
	}
	e.Excerpt = excerpt(lines, e.Line, e.Column)
	return e
}

// splitLines splits a document into its lines, without their line breaks.
func splitLines(data []byte) []string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	lines := strings.Split(s, "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	return lines
}

// locate finds the line and column (1-based, in characters) of the fault
// the YAML parser reports as msg on line reported: the real line for the
// complaints yaml.v3 places one line early, the tab for a tab, the bracket
// that is never closed for a flow collection. note, when not empty, says
// what is at the place found. The column is 0 when not known.
func locate(lines []string, msg string, reported int, hasLine bool) (line, col int, note string) {
	if len(lines) == 0 {
		return reported, 0, ""
	}
	line = reported
	switch {
	case isParserProblem(msg):
		line = reported + 1 // 0-based; no line at all means line 0
	case strings.Contains(msg, tabProblem):
		if l, c := tabAfter(lines, max(reported, 1)); l > 0 {
			return l, c, "a tab in the indentation: YAML indents with spaces only"
		}
	case !hasLine:
		return 0, 0, ""
	}
	line = min(max(line, 1), len(lines))
	for _, b := range []struct{ open, close byte }{{'{', '}'}, {'[', ']'}} {
		if strings.HasPrefix(msg, "did not find expected ',' or '"+string(b.close)+"'") {
			if l, c := unclosed(lines, b.open, line); l > 0 {
				return l, c, fmt.Sprintf("this '%c' is never closed", b.open)
			}
		}
	}
	return line, firstNonBlank(lines[line-1]), ""
}

func isParserProblem(msg string) bool {
	for _, p := range parserProblems {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// tabAfter returns the first line from line on whose indentation holds a
// tab, and the tab's column; 0, 0 when there is none.
func tabAfter(lines []string, line int) (int, int) {
	for l := line; l <= len(lines); l++ {
		for i, r := range lines[l-1] {
			if r == '\t' {
				return l, utf8.RuneCountInString(lines[l-1][:i]) + 1
			}
			if r != ' ' {
				break
			}
		}
	}
	return 0, 0
}

// firstNonBlank returns the column of the first character of s that is not
// a space or a tab, 1 when there is none.
func firstNonBlank(s string) int {
	for i, r := range s {
		if r != ' ' && r != '\t' {
			return utf8.RuneCountInString(s[:i]) + 1
		}
	}
	return 1
}

// unclosed scans the document for flow brackets, skipping quoted strings,
// comments and brackets inside plain values ("a[0]"), and returns the line
// and column of the last bracket open that is never closed and opens on
// or before line; 0, 0 when there is none.
func unclosed(lines []string, open byte, line int) (int, int) {
	type pos struct {
		line, col int
		b         byte
	}
	var stack []pos
	var quote byte // the open quote, or 0
	for li, s := range lines {
		start, escaped := true, false // start: where a bracket or a quote opens a value
	scan:
		for i := 0; i < len(s); i++ { // bytes: every delimiter is ASCII
			c := s[i]
			if quote != 0 {
				switch {
				case escaped:
					escaped = false
				case quote == '"' && c == '\\':
					escaped = true
				case c == quote:
					quote = 0 // '' in a single-quoted string closes and reopens it: the same
				}
				continue
			}
			switch {
			case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
				break scan // a comment
			case c == ' ' || c == '\t':
			case (c == '"' || c == '\'') && start:
				quote, start = c, false
			case (c == '{' || c == '[') && (start || len(stack) > 0):
				stack = append(stack, pos{li + 1, utf8.RuneCountInString(s[:i]) + 1, c})
				start = true
			case (c == '}' || c == ']') && len(stack) > 0:
				if top := stack[len(stack)-1]; (top.b == '{') == (c == '}') {
					stack = stack[:len(stack)-1]
				}
				start = false
			case c == ',' && len(stack) > 0, c == ':', c == '-', c == '?':
				start = true
			default:
				start = false
			}
		}
	}
	var found pos
	for _, p := range stack {
		if p.b == open && p.line <= line {
			found = p
		}
	}
	return found.line, found.col
}

// excerpt shows the line before line and line itself, numbered, with a ^
// under col, as compilers do; "" when line is not in the document.
func excerpt(lines []string, line, col int) string {
	if line < 1 || line > len(lines) {
		return ""
	}
	width := len(strconv.Itoa(line))
	var b strings.Builder
	for l := max(line-1, 1); l <= line; l++ {
		text, shift := visible(lines[l-1], col)
		if l < line && strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&b, "%*d | %s\n", width, l, text)
		if l == line && col > 0 {
			fmt.Fprintf(&b, "%*s | %s^\n", width, "", strings.Repeat(" ", col-1-shift))
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// maxExcerpt is the most characters of a line an excerpt shows.
const maxExcerpt = 120

// visible returns s as an excerpt shows it: tabs as →, other control
// characters as ?, and at most maxExcerpt characters around col (with …
// where it cuts). shift is how many characters were cut before col, less
// the … that stands for them.
func visible(s string, col int) (string, int) {
	s = strings.ToValidUTF8(s, "?")
	runes := []rune(s)
	for i, r := range runes {
		switch {
		case r == '\t':
			runes[i] = '→'
		case unicode.IsControl(r):
			runes[i] = '?'
		}
	}
	from, to := 0, len(runes)
	if to > maxExcerpt {
		from = max(0, min(col-1-maxExcerpt/2, to-maxExcerpt))
		to = from + maxExcerpt
	}
	out := string(runes[from:to])
	shift := from
	if from > 0 {
		out = "…" + out
		shift--
	}
	if to < len(runes) {
		out += "…"
	}
	return out, shift
}
