package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/strategies"
)

var kinds = []string{exchange.ReqResp.String(), exchange.PubSub.String()}

// exchanges reads the exchanges list: each entry's name (unique), kind,
// strategy (known to reg) and parameters (accepted by the strategy).
func (p *parser) exchanges(reg *strategies.Registry) []exchange.Spec {
	list, _ := p.v.Get("exchanges").([]any) // its shape is checked already
	specs := make([]exchange.Spec, 0, len(list))
	first := make(map[string]int, len(list)) // name -> index of its entry
	for i, e := range list {
		m, _ := asMap(e)
		at := func(k string) string { return fmt.Sprintf("exchanges[%d].%s", i, k) }

		name, ok := p.nonEmptyOf(at("name"), m["name"], "")
		if !ok {
			if m["name"] == nil {
				p.bad(at("name"), "", "missing: every exchange needs a name")
			}
			return nil
		}
		if j, dup := first[name]; dup {
			p.bad(at("name"), "", "duplicate exchange name %q (exchanges[%d] has it)", name, j)
			return nil
		}
		first[name] = i

		kindName, ok := p.strOf(at("kind"), m["kind"], "")
		if !ok {
			if m["kind"] == nil {
				p.bad(at("kind"), "", "missing%s", choices("", kinds))
			}
			return nil
		}
		kind, err := exchange.ParseKind(kindName)
		if err != nil {
			p.bad(at("kind"), "", "unknown kind %q%s", kindName, choices(kindName, kinds))
			return nil
		}
		spec := exchange.Spec{Name: name, Kind: kind}

		strategy, hasStrategy := p.strOf(at("strategy"), m["strategy"], "")
		params, hasParams := asMap(m["params"])
		if p.err != nil {
			return nil
		}
		if kind == exchange.PubSub {
			switch {
			case hasStrategy:
				p.bad(at("strategy"), "", "pub-sub exchanges take no strategy (only req-resp ones route by strategy)")
				return nil
			case hasParams:
				p.bad(at("params"), "", "pub-sub exchanges take no strategy parameters")
				return nil
			}
		} else {
			if !hasStrategy {
				strategy = exchange.DefaultStrategy
			}
			spec.Strategy = strategy
			if hasParams {
				spec.Params = strategies.Params(params)
			}
			if !p.checkStrategy(reg, i, spec) {
				return nil
			}
		}
		if err := spec.Validate(); err != nil { // the core's rules (name length...)
			p.coreError(err, i)
			return nil
		}
		specs = append(specs, spec)
	}
	return specs
}

// checkStrategy checks that reg knows spec's strategy and that the strategy
// takes spec's parameters. It builds the strategy once, and throws it away:
// factories only check parameters and allocate, and an error here names the
// file's key, where Declare's would come at start.
func (p *parser) checkStrategy(reg *strategies.Registry, i int, spec exchange.Spec) bool {
	key := fmt.Sprintf("exchanges[%d].strategy", i)
	if _, ok := reg.Lookup(spec.Strategy); !ok {
		p.bad(key, "", "unknown strategy %q%s", spec.Strategy, choices(spec.Strategy, reg.Names()))
		return false
	}
	_, err := reg.New(spec.Strategy, spec.Params)
	if err == nil {
		return true
	}
	// The built-in sticky-fun and fun take their function from a parameter,
	// which YAML cannot carry.
	funcParam := map[string]string{strategies.NameStickyFun: "hash", strategies.NameFun: "fun"}[spec.Strategy]
	if funcParam != "" && spec.Params[funcParam] == nil {
		helper := map[string]string{strategies.NameStickyFun: "StickyFun(hash)", strategies.NameFun: "Fun(fn)"}[spec.Strategy]
		p.fail(&Error{Key: key, Err: err, Problem: fmt.Sprintf(
			"%q needs a Go function, which YAML cannot give: register strategies.%s under a name of your own and name that here (see WithStrategies)",
			spec.Strategy, helper)}, false)
		return false
	}
	k, msg := key, err.Error()
	if errors.Is(err, strategies.ErrInvalidParams) {
		// "bourse: invalid strategy parameters: sticky: load_factor: ..."
		// says twice what the key says.
		k, msg = fmt.Sprintf("exchanges[%d].params", i), strings.TrimPrefix(msg, strategies.ErrInvalidParams.Error()+": ")
	}
	p.fail(&Error{Key: k, Problem: msg, Err: err}, false)
	return false
}
