package strategies_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/bourse-go/bourse/strategies"
)

func TestFactoryParams(t *testing.T) {
	plainHash := func(strategies.Request) uint64 { return 0 }
	plainFun := func(strategies.Request, []strategies.Member) (strategies.Decision, error) {
		return strategies.Decision{}, nil
	}
	tests := []struct {
		strategy string
		params   strategies.Params
		// wantKey is "" for valid params, else the parameter the error must name.
		wantKey string
	}{
		{"default", nil, ""},
		{"default", strategies.Params{}, ""},
		{"default", strategies.Params{"vnodes": 3}, "vnodes"},
		{"round-robin", nil, ""},
		{"round-robin", strategies.Params{"weights": []int{1}}, "weights"},
		{"consensus", strategies.Params{"x": 1}, "x"},
		{"consensus-round-robin", strategies.Params{"x": 1}, "x"},

		{"sticky", nil, ""},
		{"sticky", strategies.Params{"load_factor": 1.5}, ""},
		{"sticky", strategies.Params{"load_factor": 2}, ""},
		{"sticky", strategies.Params{"load_factor": "1.1"}, ""},
		{"sticky", strategies.Params{"load_factor": json.Number("1.1")}, ""},
		{"sticky", strategies.Params{"load_factor": float32(1.5)}, ""},
		{"sticky", strategies.Params{"load_factor": nil}, ""},
		{"sticky", strategies.Params{"partitions": 1024, "vnodes": 64}, ""},
		{"sticky", strategies.Params{"partitions": int64(1000)}, ""},
		{"sticky", strategies.Params{"partitions": uint16(1)}, ""},
		{"sticky", strategies.Params{"partitions": 4096.0}, ""},
		{"sticky", strategies.Params{"partitions": " 4096 "}, ""},
		{"sticky", strategies.Params{"partitions": 1 << 20}, ""},
		{"sticky", strategies.Params{"vnodes": "1024"}, ""},
		{"sticky", strategies.Params{"load_factor": 1}, "load_factor"},
		{"sticky", strategies.Params{"load_factor": 0.5}, "load_factor"},
		{"sticky", strategies.Params{"load_factor": -2}, "load_factor"},
		{"sticky", strategies.Params{"load_factor": math.NaN()}, "load_factor"},
		{"sticky", strategies.Params{"load_factor": math.Inf(1)}, "load_factor"},
		{"sticky", strategies.Params{"load_factor": "high"}, "load_factor"},
		{"sticky", strategies.Params{"load_factor": true}, "load_factor"},
		{"sticky", strategies.Params{"partitions": 0}, "partitions"},
		{"sticky", strategies.Params{"partitions": -1}, "partitions"},
		{"sticky", strategies.Params{"partitions": 1.5}, "partitions"},
		{"sticky", strategies.Params{"partitions": 1<<20 + 1}, "partitions"},
		{"sticky", strategies.Params{"partitions": uint64(math.MaxUint64)}, "partitions"},
		{"sticky", strategies.Params{"partitions": 1e300}, "partitions"},
		{"sticky", strategies.Params{"partitions": "many"}, "partitions"},
		{"sticky", strategies.Params{"partitions": []int{1}}, "partitions"},
		{"sticky", strategies.Params{"vnodes": 0}, "vnodes"},
		{"sticky", strategies.Params{"vnodes": 1025}, "vnodes"},
		{"sticky", strategies.Params{"load_facter": 1.5}, "load_facter"},
		{"sticky", strategies.Params{"hash": plainHash}, "hash"},

		{"sticky-fun", strategies.Params{"hash": strategies.HashFunc(plainHash)}, ""},
		{"sticky-fun", strategies.Params{"hash": plainHash}, ""},
		{"sticky-fun", strategies.Params{"hash": plainHash, "load_factor": 3, "partitions": 64, "vnodes": 8}, ""},
		{"sticky-fun", nil, "hash"},
		{"sticky-fun", strategies.Params{"hash": strategies.HashFunc(nil)}, "hash"},
		{"sticky-fun", strategies.Params{"hash": "fnv"}, "hash"},
		{"sticky-fun", strategies.Params{"hash": func(string) uint64 { return 0 }}, "hash"},
		{"sticky-fun", strategies.Params{"hash": plainHash, "load_factor": 0.9}, "load_factor"},
		{"sticky-fun", strategies.Params{"hash": plainHash, "seed": 1}, "seed"},

		{"fun", strategies.Params{"fun": strategies.FunFunc(plainFun)}, ""},
		{"fun", strategies.Params{"fun": plainFun}, ""},
		{"fun", nil, "fun"},
		{"fun", strategies.Params{"fun": strategies.FunFunc(nil)}, "fun"},
		{"fun", strategies.Params{"fun": plainHash}, "fun"},
		{"fun", strategies.Params{"fun": plainFun, "x": 1}, "x"},
	}
	reg := strategies.Builtin()
	for _, tt := range tests {
		s, err := reg.New(tt.strategy, tt.params)
		if tt.wantKey == "" {
			if err != nil || s == nil {
				t.Errorf("New(%s, %v) = %v, %v; want a strategy", tt.strategy, tt.params, s, err)
			}
			continue
		}
		if !errors.Is(err, strategies.ErrInvalidParams) {
			t.Errorf("New(%s, %v) error = %v, want ErrInvalidParams", tt.strategy, tt.params, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tt.wantKey) || !strings.Contains(msg, tt.strategy) {
			t.Errorf("New(%s, %v) error %q does not name the strategy and %q", tt.strategy, tt.params, msg, tt.wantKey)
		}
	}
}

func TestStickyConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     strategies.StickyConfig
		wantKey string
	}{
		{"zero takes defaults", strategies.StickyConfig{}, ""},
		{"defaults", strategies.DefaultStickyConfig(), ""},
		{"low load factor", strategies.StickyConfig{LoadFactor: 1}, "load_factor"},
		{"infinite load factor", strategies.StickyConfig{LoadFactor: math.Inf(1)}, "load_factor"},
		{"NaN load factor", strategies.StickyConfig{LoadFactor: math.NaN()}, "load_factor"},
		{"negative partitions", strategies.StickyConfig{Partitions: -4}, "partitions"},
		{"too many partitions", strategies.StickyConfig{Partitions: strategies.MaxPartitions + 1}, "partitions"},
		{"negative vnodes", strategies.StickyConfig{VNodes: -1}, "vnodes"},
		{"too many vnodes", strategies.StickyConfig{VNodes: strategies.MaxVNodes + 1}, "vnodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			_, nerr := strategies.NewSticky(tt.cfg, nil)
			if tt.wantKey == "" {
				if err != nil || nerr != nil {
					t.Fatalf("Validate() = %v, NewSticky = %v; want nil", err, nerr)
				}
				return
			}
			if !errors.Is(err, strategies.ErrInvalidParams) || !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("Validate() = %v, want ErrInvalidParams naming %s", err, tt.wantKey)
			}
			if !errors.Is(nerr, strategies.ErrInvalidParams) {
				t.Fatalf("NewSticky = %v, want ErrInvalidParams", nerr)
			}
		})
	}
}

func TestNilUserFunctions(t *testing.T) {
	if _, err := strategies.StickyFun(nil)(nil); !errors.Is(err, strategies.ErrInvalidParams) {
		t.Errorf("StickyFun(nil) factory: %v, want ErrInvalidParams", err)
	}
	if _, err := strategies.Fun(nil)(nil); !errors.Is(err, strategies.ErrInvalidParams) {
		t.Errorf("Fun(nil) factory: %v, want ErrInvalidParams", err)
	}
}
