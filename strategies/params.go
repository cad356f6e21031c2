package strategies

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// paramError builds the error of a built-in factory for one bad parameter. It
// names the strategy and the key, as a configuration error should.
func paramError(strategy, key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s: %s", ErrInvalidParams, strategy, key, fmt.Sprintf(format, args...))
}

// checkKeys rejects parameters a strategy does not know: a misspelt key in a
// configuration file should fail the declaration, not be silently ignored.
func checkKeys(strategy string, p Params, allowed ...string) error {
	var unknown []string
	for k := range p {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	known := "none"
	if len(allowed) > 0 {
		known = strings.Join(allowed, ", ")
	}
	noun := "parameter"
	if len(unknown) > 1 {
		noun = "parameters"
	}
	return fmt.Errorf("%w: %s: unknown %s %s (known: %s)", ErrInvalidParams, strategy, noun, strings.Join(quoteAll(unknown), ", "), known)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// floatParam reads a number. Configuration decoders hand numbers over as any
// of Go's integer or float types, or as strings (YAML "1.5" quoted, env
// overrides, json.Number), so all of those are accepted.
func floatParam(strategy string, p Params, key string, def float64) (float64, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return def, nil
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int8:
		f = float64(x)
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint8:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case json.Number:
		return floatParam(strategy, Params{key: string(x)}, key, def)
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, paramError(strategy, key, "want a number, got %q", x)
		}
	default:
		return 0, paramError(strategy, key, "want a number, got %T", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, paramError(strategy, key, "want a finite number, got %v", f)
	}
	return f, nil
}

// intParam reads a whole number in [lo, hi]. A float with no fractional part
// (YAML and JSON decoders may produce 16384.0) is accepted; 1.5 is not.
func intParam(strategy string, p Params, key string, def, lo, hi int) (int, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return def, nil
	}
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, paramError(strategy, key, "want an integer in [%d, %d], got %v", lo, hi, x)
		}
		n = int64(x)
	case uint8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return 0, paramError(strategy, key, "want an integer in [%d, %d], got %v", lo, hi, x)
		}
		n = int64(x)
	case float32, float64, json.Number, string:
		f, err := floatParam(strategy, p, key, 0)
		if err != nil {
			return 0, err
		}
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, paramError(strategy, key, "want an integer, got %v", v)
		}
		n = int64(f)
	default:
		return 0, paramError(strategy, key, "want an integer, got %T", v)
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, paramError(strategy, key, "want an integer in [%d, %d], got %d", lo, hi, n)
	}
	return int(n), nil
}
