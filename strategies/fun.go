package strategies

import (
	"fmt"
	"slices"
)

// FunFunc is the user function of the fun strategy (R12). It sees each request
// and the group's members (sorted by seniority, members[0] the leader) and
// returns a Decision: a Target index into members, Broadcast, a Redirect to
// another exchange, optionally with a replacement Payload; or an error to
// reject the request.
//
// It is called on the data path, from many goroutines at once, and must not
// block. members is shared by every call and must not be modified (including
// the Options maps). It is never called with an empty membership.
type FunFunc func(req Request, members []Member) (Decision, error)

// Fun returns a Factory for the fun strategy with fn as its user function, for
// registering under a name of the user's choosing:
//
//	reg.Register("vip-first", strategies.Fun(vipFirst))
//
// The factory takes no parameters. The Pickers it builds:
//   - return ErrNoHandlers for an empty group without calling fn, so every
//     strategy fails alike when nobody is there (a fn that wants to redirect
//     when its group is empty cannot: declare a strategy of its own);
//   - turn an error from fn into a *RejectedError, so that both
//     errors.Is(err, ErrRejected) and errors.Is(err, fnErr) hold;
//   - check the Decision and return an error wrapping ErrInvalidDecision for
//     a Target outside members or for Broadcast and Redirect together, so a
//     bad decision fails the request instead of panicking in the exchange.
func Fun(fn FunFunc) Factory {
	return func(p Params) (Strategy, error) {
		if fn == nil {
			return nil, paramError(NameFun, "fun", "nil FunFunc")
		}
		if err := checkKeys(NameFun, p); err != nil {
			return nil, err
		}
		return &fun{fn: fn}, nil
	}
}

// funFactory is the built-in "fun": it takes its FunFunc from Params["fun"],
// which configuration written in Go can set (YAML cannot carry a function;
// register Fun under a name instead).
func funFactory(p Params) (Strategy, error) {
	var fn FunFunc
	switch f := p["fun"].(type) {
	case FunFunc:
		fn = f
	case func(Request, []Member) (Decision, error):
		fn = f
	case nil:
		return nil, paramError(NameFun, "fun", "missing (want a strategies.FunFunc)")
	default:
		return nil, paramError(NameFun, "fun", "want a strategies.FunFunc, got %T", f)
	}
	if fn == nil {
		return nil, paramError(NameFun, "fun", "missing (want a strategies.FunFunc)")
	}
	rest := make(Params, len(p))
	for k, v := range p {
		if k != "fun" {
			rest[k] = v
		}
	}
	return Fun(fn)(rest)
}

type fun struct {
	fn FunFunc
}

// Build copies members, so the caller may reuse its slice.
func (s *fun) Build(members []Member) Picker {
	if len(members) == 0 {
		return noHandlers{}
	}
	return &funPicker{fn: s.fn, members: slices.Clone(members)}
}

type funPicker struct {
	fn      FunFunc
	members []Member
}

func (p *funPicker) Pick(req Request) (Decision, error) {
	d, err := p.fn(req, p.members)
	if err != nil {
		return Decision{}, &RejectedError{Reason: err}
	}
	if err := checkDecision(d, len(p.members)); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// checkDecision reports what makes d impossible to carry out for a group of n.
func checkDecision(d Decision, n int) error {
	switch {
	case d.Broadcast && d.Redirect != "":
		return fmt.Errorf("%w: both Broadcast and Redirect %q", ErrInvalidDecision, d.Redirect)
	case d.Broadcast || d.Redirect != "":
		return nil
	case d.Target < 0 || d.Target >= n:
		return fmt.Errorf("%w: Target %d outside the %d members", ErrInvalidDecision, d.Target, n)
	}
	return nil
}

var (
	_ Strategy = (*fun)(nil)
	_ Picker   = (*funPicker)(nil)
)
