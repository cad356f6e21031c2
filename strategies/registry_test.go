package strategies_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/bourse-go/bourse/strategies"
)

func TestBuiltinNames(t *testing.T) {
	want := []string{"consensus", "consensus-round-robin", "default", "fun", "local-first", "round-robin", "sticky", "sticky-fun"}
	if got := strategies.Builtin().Names(); !slices.Equal(got, want) {
		t.Fatalf("Builtin().Names() = %q, want %q", got, want)
	}
	// Every built-in name is one Register would accept.
	r := strategies.NewRegistry()
	for _, name := range want {
		f, _ := strategies.Builtin().Lookup(name)
		if err := r.Register(name, f); err != nil {
			t.Errorf("Register(%q): %v", name, err)
		}
	}
}

func TestBuiltinIsFresh(t *testing.T) {
	a, b := strategies.Builtin(), strategies.Builtin()
	if err := a.Register("mine", strategies.Fun(modKey)); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Lookup("mine"); ok {
		t.Fatal("a strategy registered in one Builtin() registry shows in another")
	}
	if _, ok := strategies.Builtin().Lookup("mine"); ok {
		t.Fatal("a strategy registered in one Builtin() registry shows in a later one")
	}
}

func nopFactory(strategies.Params) (strategies.Strategy, error) { return strategies.Broadcast(), nil }

func TestRegister(t *testing.T) {
	tests := []struct {
		name    string
		regName string
		f       strategies.Factory
		wantErr error
	}{
		{"new name", "mine", nopFactory, nil},
		{"dots dashes underscores digits", "acme.geo_v2-eu", nopFactory, nil},
		{"duplicate of a built-in", "round-robin", nopFactory, strategies.ErrDuplicateStrategy},
		{"empty name", "", nopFactory, strategies.ErrInvalidRegistration},
		{"space", "round robin", nopFactory, strategies.ErrInvalidRegistration},
		{"leading dash", "-x", nopFactory, strategies.ErrInvalidRegistration},
		{"slash", "a/b", nopFactory, strategies.ErrInvalidRegistration},
		{"non-ASCII", "stické", nopFactory, strategies.ErrInvalidRegistration},
		{"too long", string(make([]byte, 129)), nopFactory, strategies.ErrInvalidRegistration},
		{"nil factory", "nil-factory", nil, strategies.ErrInvalidRegistration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := strategies.Builtin()
			err := r.Register(tt.regName, tt.f)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Register(%q) = %v, want %v", tt.regName, err, tt.wantErr)
			}
			_, found := r.Lookup(tt.regName)
			if wantFound := tt.wantErr == nil || errors.Is(tt.wantErr, strategies.ErrDuplicateStrategy); found != wantFound {
				t.Fatalf("Lookup(%q) found = %v, want %v", tt.regName, found, wantFound)
			}
		})
	}
}

func TestRegisterTwice(t *testing.T) {
	r := strategies.NewRegistry()
	if err := r.Register("x", nopFactory); err != nil {
		t.Fatal(err)
	}
	err := r.Register("x", nopFactory)
	if !errors.Is(err, strategies.ErrDuplicateStrategy) {
		t.Fatalf("second Register = %v, want ErrDuplicateStrategy", err)
	}
	if want := `bourse: strategy already registered: "x"`; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}

func TestNewUnknown(t *testing.T) {
	_, err := strategies.Builtin().New("round_robin", nil)
	if !errors.Is(err, strategies.ErrUnknownStrategy) {
		t.Fatalf("New(round_robin) = %v, want ErrUnknownStrategy", err)
	}
	want := `bourse: unknown strategy "round_robin" (known: consensus, consensus-round-robin, default, fun, local-first, round-robin, sticky, sticky-fun)`
	if err.Error() != want {
		t.Fatalf("error = %q\nwant    %q", err, want)
	}
	var u *strategies.UnknownStrategyError
	if !errors.As(err, &u) || u.Name != "round_robin" || len(u.Known) != 8 {
		t.Fatalf("errors.As = %+v, want Name round_robin and 8 known names", u)
	}

	_, err = strategies.NewRegistry().New("x", nil)
	if want := `bourse: unknown strategy "x" (known: none)`; err == nil || err.Error() != want {
		t.Fatalf("empty registry: error = %v, want %q", err, want)
	}
}

func TestNewFactoryErrors(t *testing.T) {
	r := strategies.NewRegistry()
	boom := errors.New("boom")
	_ = r.Register("fails", func(strategies.Params) (strategies.Strategy, error) { return nil, boom })
	_ = r.Register("nil", func(strategies.Params) (strategies.Strategy, error) { return nil, nil })
	if _, err := r.New("fails", nil); !errors.Is(err, boom) {
		t.Errorf("New(fails) = %v, want the factory's error", err)
	}
	if _, err := r.New("nil", nil); !errors.Is(err, strategies.ErrInvalidRegistration) {
		t.Errorf("New(nil) = %v, want ErrInvalidRegistration", err)
	}
}

func TestZeroRegistry(t *testing.T) {
	var r strategies.Registry
	if names := r.Names(); len(names) != 0 {
		t.Fatalf("Names() = %q", names)
	}
	if err := r.Register("x", nopFactory); err != nil {
		t.Fatal(err)
	}
	if _, err := r.New("x", nil); err != nil {
		t.Fatal(err)
	}
}

// Run under -race.
func TestRegistryConcurrent(t *testing.T) {
	r := strategies.Builtin()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				name := fmt.Sprintf("s-%d-%d", g, i)
				if err := r.Register(name, nopFactory); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.New(name, nil); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.New(strategies.NameRoundRobin, nil); err != nil {
					t.Error(err)
					return
				}
				_ = r.Names()
			}
		}()
	}
	wg.Wait()
	if got, want := len(r.Names()), 8+8*100; got != want {
		t.Fatalf("%d names, want %d", got, want)
	}
}
