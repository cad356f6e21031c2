package strategies_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bourse-go/bourse/strategies"
)

func ExampleRegistry_New() {
	reg := strategies.Builtin()
	s, err := reg.New("round-robin", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	members := []strategies.Member{{ID: "a", Seq: 1}, {ID: "b", Seq: 2}, {ID: "c", Seq: 3}}
	p := s.Build(members)
	var picked []string
	for i := 0; i < 4; i++ {
		d, _ := p.Pick(strategies.Request{})
		picked = append(picked, members[d.Target].ID)
	}
	fmt.Println(strings.Join(picked, " "))

	_, err = reg.New("round_robin", nil)
	fmt.Println(err)
	fmt.Println(errors.Is(err, strategies.ErrUnknownStrategy))
	// Output:
	// a b c a
	// bourse: unknown strategy "round_robin" (known: consensus, consensus-round-robin, default, fun, local-first, round-robin, sticky, sticky-fun)
	// true
}

// A user strategy is a Factory registered under a name of its own, which
// configuration can then use like a built-in.
func ExampleRegistry_Register() {
	// newest sends every request to the most recently connected handler.
	newest := func(strategies.Params) (strategies.Strategy, error) {
		return strategies.StrategyFunc(func(members []strategies.Member) strategies.Picker {
			n := len(members)
			return strategies.PickerFunc(func(strategies.Request) (strategies.Decision, error) {
				if n == 0 {
					return strategies.Decision{}, strategies.ErrNoHandlers
				}
				return strategies.Decision{Target: n - 1}, nil
			})
		}), nil
	}
	reg := strategies.Builtin()
	if err := reg.Register("newest", newest); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reg.Register("newest", newest))

	s, _ := reg.New("newest", nil)
	members := []strategies.Member{{ID: "old", Seq: 1}, {ID: "new", Seq: 2}}
	d, _ := s.Build(members).Pick(strategies.Request{})
	fmt.Println(members[d.Target].ID)
	// Output:
	// bourse: strategy already registered: "newest"
	// new
}

// StickyFun pins requests by a hash of the caller's choosing: here the tenant
// prefix of the key, so all of a tenant's requests reach one handler.
func ExampleStickyFun() {
	byTenant := func(req strategies.Request) uint64 {
		tenant, _, _ := strings.Cut(req.Key, "/")
		var h uint64
		for i := 0; i < len(tenant); i++ {
			h = h*31 + uint64(tenant[i])
		}
		return h
	}
	reg := strategies.Builtin()
	_ = reg.Register("by-tenant", strategies.StickyFun(byTenant))
	s, err := reg.New("by-tenant", strategies.Params{"load_factor": 1.5})
	if err != nil {
		fmt.Println(err)
		return
	}
	members := []strategies.Member{{ID: "h1"}, {ID: "h2"}, {ID: "h3"}}
	p := s.Build(members)
	a, _ := p.Pick(strategies.Request{Key: "acme/order/1"})
	b, _ := p.Pick(strategies.Request{Key: "acme/invoice/7"})
	fmt.Println(a.Target == b.Target)
	// Output: true
}

// A fun strategy's user function routes, broadcasts, redirects, rewrites or
// rejects each request.
func ExampleFun() {
	errSuspended := errors.New("tenant suspended")
	route := func(req strategies.Request, members []strategies.Member) (strategies.Decision, error) {
		switch {
		case strings.HasPrefix(req.Key, "banned/"):
			return strategies.Decision{}, errSuspended
		case req.Tag == "audit":
			return strategies.Decision{Redirect: "audit-log"}, nil
		}
		return strategies.Decision{Target: 0}, nil
	}
	s, _ := strategies.Fun(route)(nil)
	p := s.Build([]strategies.Member{{ID: "h1"}})

	d, _ := p.Pick(strategies.Request{Tag: "audit"})
	fmt.Println("redirect to", d.Redirect)
	_, err := p.Pick(strategies.Request{Key: "banned/42"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, strategies.ErrRejected), errors.Is(err, errSuspended))
	// Output:
	// redirect to audit-log
	// bourse: request rejected: tenant suspended
	// true true
}
