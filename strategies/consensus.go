package strategies

// Consensus returns the "consensus" strategy: only the group's leader handles
// requests (R8). Members are sorted by seniority, so the leader is members[0],
// the member the exchange names in its Leader message; when the leader leaves,
// the next Build makes the next-oldest member the target.
func Consensus() Strategy { return consensus{} }

func consensusFactory(p Params) (Strategy, error) {
	if err := checkKeys(NameConsensus, p); err != nil {
		return nil, err
	}
	return Consensus(), nil
}

type consensus struct{}

// LeaderOnly reports that consensus sends every request to the leader: the
// exchange fails requests with ErrNoLeader while it has none, rather than
// letting members[0] (a handler not appointed yet) take them.
func (consensus) LeaderOnly() bool { return true }

func (consensus) Build(members []Member) Picker {
	if len(members) == 0 {
		return noHandlers{}
	}
	return leaderPicker{}
}

type leaderPicker struct{}

func (leaderPicker) Pick(Request) (Decision, error) { return Decision{Target: 0}, nil }

var (
	_ Strategy   = consensus{}
	_ LeaderOnly = consensus{}
	_ Picker     = leaderPicker{}
)
