package strategies

// Broadcast returns the "default" strategy: every request goes to every member
// of the group (R6). Which replies the caller gets (all, or the first) is the
// exchange's rule, not the strategy's.
func Broadcast() Strategy { return broadcast{} }

func defaultFactory(p Params) (Strategy, error) {
	if err := checkKeys(NameDefault, p); err != nil {
		return nil, err
	}
	return Broadcast(), nil
}

type broadcast struct{}

func (broadcast) Build(members []Member) Picker {
	if len(members) == 0 {
		return noHandlers{}
	}
	return broadcastPicker{}
}

type broadcastPicker struct{}

func (broadcastPicker) Pick(Request) (Decision, error) { return Decision{Broadcast: true}, nil }

var (
	_ Strategy = broadcast{}
	_ Picker   = broadcastPicker{}
	_ Picker   = noHandlers{}
)
