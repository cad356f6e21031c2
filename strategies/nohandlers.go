package strategies

// noHandlers is the Picker of an empty group.
type noHandlers struct{}

// Pick returns ErrNoHandlers.
func (noHandlers) Pick(Request) (Decision, error) { return Decision{}, ErrNoHandlers }
