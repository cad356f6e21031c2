package topic

import (
	"errors"
	"strings"
	"testing"
)

var (
	long255 = strings.Repeat("a.", 127) + "b" // 255 bytes
	long256 = long255 + "c"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key    string
		pos    int    // -1 when valid is true, else Error.Pos
		reason string // "" when valid
	}{
		{"a", -1, ""},
		{"a.b.c", -1, ""},
		{"prices.nyse.AAPL", -1, ""},
		{"a b.c-d.é", -1, ""},
		{"\xff.\x00", -1, ""},
		{long255, -1, ""},
		{"", -1, "empty key"},
		{long256, -1, "key is longer than 255 bytes"},
		{".", 0, "empty word"},
		{".a", 0, "empty word"},
		{"a.", 2, "empty word"},
		{"a..b", 2, "empty word"},
		{"*", 0, "wildcards '*' and '#' are not allowed in a routing key"},
		{"#", 0, "wildcards '*' and '#' are not allowed in a routing key"},
		{"a.*", 2, "wildcards '*' and '#' are not allowed in a routing key"},
		{"a.b#c", 2, "wildcards '*' and '#' are not allowed in a routing key"},
	}
	for _, tt := range tests {
		err := ValidateKey(tt.key)
		checkValidation(t, "ValidateKey", tt.key, err, ErrInvalidKey, tt.pos, tt.reason)
	}
}

func TestValidatePattern(t *testing.T) {
	tests := []struct {
		pattern string
		pos     int
		reason  string
	}{
		{"a", -1, ""},
		{"a.b.c", -1, ""},
		{"*", -1, ""},
		{"#", -1, ""},
		{"#.#", -1, ""},
		{"a.*.c", -1, ""},
		{"a.#", -1, ""},
		{"#.a", -1, ""},
		{"*.#.*", -1, ""},
		{"a b.é.\xff", -1, ""},
		{long255, -1, ""},
		{"", -1, "empty pattern"},
		{long256, -1, "pattern is longer than 255 bytes"},
		{".", 0, "empty word"},
		{"a.", 2, "empty word"},
		{".#", 0, "empty word"},
		{"#..a", 2, "empty word"},
		{"a*", 0, "wildcard must be a whole word"},
		{"#b", 0, "wildcard must be a whole word"},
		{"a.b*", 2, "wildcard must be a whole word"},
		{"a.**", 2, "wildcard must be a whole word"},
		{"a.##", 2, "wildcard must be a whole word"},
		{"a.*#", 2, "wildcard must be a whole word"},
		{"a.b.c#d", 4, "wildcard must be a whole word"},
	}
	for _, tt := range tests {
		err := ValidatePattern(tt.pattern)
		checkValidation(t, "ValidatePattern", tt.pattern, err, ErrInvalidPattern, tt.pos, tt.reason)
	}
}

func checkValidation(t *testing.T, fn, input string, err, sentinel error, pos int, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Errorf("%s(%q) = %v, want nil", fn, input, err)
		}
		return
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("%s(%q) = %v, want an error wrapping %v", fn, input, err, sentinel)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s(%q) = %T, want *Error", fn, input, err)
		return
	}
	if e.Input != input || e.Pos != pos || e.Reason != reason {
		t.Errorf("%s(%q) = %+v, want Pos %d, Reason %q", fn, input, *e, pos, reason)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ValidatePattern("a.b*"), `bourse: invalid pattern "a.b*": wildcard must be a whole word (at byte 2)`},
		{ValidateKey("a..b"), `bourse: invalid routing key "a..b": empty word (at byte 2)`},
		{ValidateKey(""), `bourse: invalid routing key "": empty key`},
		{ValidatePattern("a.#\n"), `bourse: invalid pattern "a.#\n": wildcard must be a whole word (at byte 2)`},
		{&Error{Input: "x", Pos: -1, Reason: "bad"}, `bourse: invalid input "x": bad`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("message = %s, want %s", got, tt.want)
		}
	}
}

func TestValidateAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = ValidateKey("prices.nyse.AAPL")
		_ = ValidatePattern("prices.*.#")
	})
	if allocs != 0 {
		t.Errorf("validating valid input allocates %v times per run, want 0", allocs)
	}
}
