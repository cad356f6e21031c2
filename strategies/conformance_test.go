package strategies_test

import (
	"errors"
	"hash/fnv"
	"testing"

	"github.com/bourse-go/bourse/strategies"
	"github.com/bourse-go/bourse/strategies/conformance"
)

// keyHash is a pure hash of the request key, for sticky-fun and fun.
func keyHash(req strategies.Request) uint64 {
	h := fnv.New64a()
	h.Write([]byte(req.Key))
	return h.Sum64()
}

// modKey routes by key hash modulo the group size: deterministic, but by
// index, so not sticky by member ID.
func modKey(req strategies.Request, ms []strategies.Member) (strategies.Decision, error) {
	return strategies.Decision{Target: int(keyHash(req) % uint64(len(ms)))}, nil
}

// builtinFeatures declares what each built-in promises. Every built-in must
// have an entry: a new strategy without one fails TestConformance.
var builtinFeatures = map[string]struct {
	params strategies.Params
	feat   conformance.Features
}{
	strategies.NameDefault:             {nil, conformance.Features{Broadcast: true, Deterministic: true}},
	strategies.NameRoundRobin:          {nil, conformance.Features{EvenSpread: true, SpreadTolerance: 0.01}},
	strategies.NameConsensus:           {nil, conformance.Features{LeaderOnly: true, Deterministic: true}},
	strategies.NameConsensusRoundRobin: {nil, conformance.Features{EvenSpread: true, SpreadTolerance: 0.01}},
	// Keyless requests are spread round-robin, so sticky is not
	// Deterministic; with the default load factor of 1.25 no member gets
	// more than 25% over the average (plus sampling noise).
	strategies.NameSticky:    {nil, conformance.Features{EvenSpread: true, SpreadTolerance: 0.3, StickyByKey: true}},
	strategies.NameStickyFun: {strategies.Params{"hash": strategies.HashFunc(keyHash)}, conformance.Features{EvenSpread: true, SpreadTolerance: 0.3, StickyByKey: true, Deterministic: true}},
	strategies.NameFun:       {strategies.Params{"fun": strategies.FunFunc(modKey)}, conformance.Features{EvenSpread: true, Deterministic: true}},
	// Built without a view of the load (Build), local-first takes the
	// members in turn.
	strategies.NameLocalFirst: {nil, conformance.Features{EvenSpread: true, SpreadTolerance: 0.01, LocalFirst: true}},
}

func TestConformance(t *testing.T) {
	reg := strategies.Builtin()
	names := reg.Names()
	for _, name := range names {
		c, ok := builtinFeatures[name]
		if !ok {
			t.Errorf("built-in strategy %q has no entry in builtinFeatures", name)
			continue
		}
		f, _ := reg.Lookup(name)
		conformance.Run(t, name, f, c.params, c.feat)
	}
	for name := range builtinFeatures {
		if _, ok := reg.Lookup(name); !ok {
			t.Errorf("builtinFeatures has %q, which is not a built-in", name)
		}
	}
}

// User strategies made with the exported constructors pass the suite too,
// including a fun that redirects, broadcasts, rewrites and rejects.
func TestConformanceUserStrategies(t *testing.T) {
	errBusy := errors.New("busy")
	mixed := func(req strategies.Request, ms []strategies.Member) (strategies.Decision, error) {
		switch keyHash(req) % 5 {
		case 0:
			return strategies.Decision{}, errBusy
		case 1:
			return strategies.Decision{Redirect: "elsewhere"}, nil
		case 2:
			return strategies.Decision{Broadcast: true}, nil
		default:
			return strategies.Decision{Target: len(ms) - 1, Payload: req.Payload}, nil
		}
	}
	byLen := func(req strategies.Request) uint64 { return uint64(len(req.Key)) }

	conformance.Run(t, "fun-mixed", strategies.Fun(mixed), nil,
		conformance.Features{Deterministic: true, MayReject: true, MayRedirect: true})
	conformance.Run(t, "sticky-fun-by-length", strategies.StickyFun(byLen), strategies.Params{"load_factor": 1.5},
		conformance.Features{StickyByKey: true, Deterministic: true})
	localFirst, _ := strategies.Builtin().Lookup(strategies.NameLocalFirst)
	conformance.Run(t, "local-first-fail", localFirst, strategies.Params{"overload": "fail"},
		conformance.Features{EvenSpread: true, SpreadTolerance: 0.01, LocalFirst: true, FailsWhenFull: true})
	conformance.Run(t, "sticky-small", stickyFactory(t), strategies.Params{"partitions": 4, "vnodes": 1},
		conformance.Features{StickyByKey: true})
}

func stickyFactory(t *testing.T) strategies.Factory {
	t.Helper()
	f, ok := strategies.Builtin().Lookup(strategies.NameSticky)
	if !ok {
		t.Fatal("no sticky")
	}
	return f
}
