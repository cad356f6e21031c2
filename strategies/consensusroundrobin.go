package strategies

// ConsensusRoundRobin returns the "consensus-round-robin" strategy (R9): the
// group still has a leader, members[0], which the exchange (not the strategy)
// appoints and announces with its Leader message, but requests are spread over
// all members, the leader included, exactly as round-robin spreads them. Use it
// when handlers need a coordinator for background work yet every one of them
// can serve requests.
func ConsensusRoundRobin() Strategy { return &consensusRoundRobin{} }

func consensusRoundRobinFactory(p Params) (Strategy, error) {
	if err := checkKeys(NameConsensusRoundRobin, p); err != nil {
		return nil, err
	}
	return ConsensusRoundRobin(), nil
}

// consensusRoundRobin is a type of its own, not an alias of roundRobin, so
// that the two stay distinguishable (in logs via %T, and in type switches)
// even though they pick alike today.
type consensusRoundRobin struct {
	roundRobin
}

var _ Strategy = (*consensusRoundRobin)(nil)
