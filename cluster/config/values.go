package config

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// parser reads typed values out of one viper instance, the file's settings
// with the environment bound over them, and keeps the first error: reading
// goes on after an error (returning zero values) so that building a File is
// one straight run with one check at the end.
type parser struct {
	name  string
	v     *viper.Viper
	lines *lineIndex
	err   *Error
}

// fail records e (the first error wins), with the file's name and, for a
// value from the file, its line.
func (p *parser) fail(e *Error, fromEnv bool) {
	if p.err != nil {
		return
	}
	e.File = p.name
	if !fromEnv {
		e.Line = p.lines.line(e.Key)
	}
	p.err = e
}

// get returns key's value, nil when neither the file nor the environment
// sets it, and the environment variable it came from ("" for the file).
// viper ignores empty variables, and so does get.
func (p *parser) get(key string) (any, string) {
	v := p.v.Get(key)
	if env := envVar(key); env != "" {
		if s, ok := os.LookupEnv(env); ok && s != "" {
			return v, env
		}
	}
	return v, ""
}

// bad records a problem with key's value, saying where the value came from
// when it was the environment.
func (p *parser) bad(key, env, format string, args ...any) {
	p.badCause(key, env, nil, format, args...)
}

// badCause is bad for a problem an error of the core found; the *Error
// wraps it.
func (p *parser) badCause(key, env string, cause error, format string, args ...any) {
	e := problem(key, format, args...)
	e.Err = cause
	if env != "" {
		e.Problem = "from " + env + ": " + e.Problem
	}
	p.fail(e, env != "")
}

// str reads a string. Integers are taken as their decimal form (a node named
// 7 is "7"); other values are refused rather than guessed at.
func (p *parser) str(key string) (string, bool) {
	v, env := p.get(key)
	return p.strOf(key, v, env)
}

// strOf is str for a value v read elsewhere (from env when env is set).
func (p *parser) strOf(key string, v any, env string) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), true
	}
	p.bad(key, env, "want a string, got %s", describe(v))
	return "", false
}

// nonEmpty reads a string that must not be empty when given.
func (p *parser) nonEmpty(key string) (string, bool) {
	v, env := p.get(key)
	return p.nonEmptyOf(key, v, env)
}

func (p *parser) nonEmptyOf(key string, v any, env string) (string, bool) {
	s, ok := p.strOf(key, v, env)
	if ok && strings.TrimSpace(s) == "" {
		p.bad(key, env, "is empty")
		return "", false
	}
	return s, ok
}

// boolean reads true or false. Strings are parsed (strconv.ParseBool),
// because the environment gives nothing else.
func (p *parser) boolean(key string) (bool, bool) {
	v, env := p.get(key)
	switch x := v.(type) {
	case nil:
		return false, false
	case bool:
		return x, true
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
			return b, true
		}
	}
	p.bad(key, env, "want true or false, got %s", describe(v))
	return false, false
}

// integer reads a whole number in lo..hi. Strings are parsed, because the
// environment gives nothing else.
func (p *parser) integer(key string, lo, hi int) (int, bool) {
	v, env := p.get(key)
	var n int64
	switch x := v.(type) {
	case nil:
		return 0, false
	case string:
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64); err != nil {
			p.bad(key, env, "want an integer in %d..%d, got %s", lo, hi, describe(v))
			return 0, false
		}
	case int:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > math.MaxInt64 {
			n = math.MaxInt64 // out of range below
		} else {
			n = int64(x)
		}
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			p.bad(key, env, "want an integer in %d..%d, got %s", lo, hi, describe(v))
			return 0, false
		}
		n = int64(x)
	default:
		p.bad(key, env, "want an integer in %d..%d, got %s", lo, hi, describe(v))
		return 0, false
	}
	if n < int64(lo) || n > int64(hi) {
		p.bad(key, env, "%d is out of range %d..%d", n, lo, hi)
		return 0, false
	}
	return int(n), true
}

// duration reads a Go duration string such as "200ms" or "1m30s". A bare
// number is refused (is 3 seconds or nanoseconds meant?), except 0.
func (p *parser) duration(key string) (time.Duration, bool) {
	v, env := p.get(key)
	var d time.Duration
	switch x := v.(type) {
	case nil:
		return 0, false
	case string:
		var err error
		if d, err = time.ParseDuration(strings.TrimSpace(x)); err != nil {
			p.bad(key, env, `want a duration such as "200ms" or "3s", got %s`, describe(v))
			return 0, false
		}
	case int:
		if x != 0 {
			p.bad(key, env, `want a duration with a unit, such as "200ms" or "3s", got %s`, describe(v))
			return 0, false
		}
	default:
		p.bad(key, env, `want a duration such as "200ms" or "3s", got %s`, describe(v))
		return 0, false
	}
	if d < 0 {
		p.bad(key, env, "is %v, must not be negative", d)
		return 0, false
	}
	return d, true
}

// strs reads a list of strings: a YAML list in the file, comma-separated
// in the environment.
func (p *parser) strs(key string) ([]string, bool) {
	v, env := p.get(key)
	switch x := v.(type) {
	case nil:
		return nil, false
	case string:
		var out []string
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, true
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				p.bad(fmt.Sprintf("%s[%d]", key, i), env, "want a string, got %s", describe(e))
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	p.bad(key, env, "want a list of strings, got %s", describe(v))
	return nil, false
}

// oneOf reads a string that must be one of known (def when not set).
func (p *parser) oneOf(key, def string, known ...string) string {
	s, ok := p.str(key)
	if !ok {
		return def
	}
	for _, k := range known {
		if s == k {
			return s
		}
	}
	_, env := p.get(key)
	p.bad(key, env, "unknown value %q%s", s, choices(s, known))
	return def
}
