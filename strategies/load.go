package strategies

// LoadView is what the exchange tells a load-aware strategy (LoadAware)
// about the members of one Build: which are on the caller's node, and how
// many more requests each can start now. It stays valid for the life of the
// Picker built with it; its answers change as requests come and go.
//
// Its methods are called on the data path, from many goroutines at once:
// they do not block, lock or allocate.
type LoadView interface {
	// Local reports whether member i is on this node, the caller's.
	Local(i int) bool
	// Free returns how many more requests member i can start now: its
	// concurrency limit less its requests in flight, negative while
	// requests wait in its queue. For a member on this node it is exact.
	// For one on another node it is that node's last advert less the
	// requests this node sent it since, capped while the member ramps up
	// after it appeared; ok is false when no advert is younger than the
	// exchange's bound: unknown, which is neither full nor free.
	Free(i int) (free int, ok bool)
}

// LoadAware is implemented by strategies that route by where handlers are
// and how loaded they are (local-first). The exchange calls BuildLoad
// instead of Build, with the view of the members' load; Build is still
// what a caller without a view (a test, another exchange) uses, and must
// work without one. BuildLoad has Build's contract otherwise.
type LoadAware interface {
	Strategy
	BuildLoad(members []Member, load LoadView) Picker
}

// LoadFunc adapts two functions to the LoadView interface, for tests and
// for callers that keep their own accounting.
type LoadFunc struct {
	IsLocal func(i int) bool
	FreeOf  func(i int) (int, bool)
}

// Local calls f.IsLocal; nil means no member is local.
func (f LoadFunc) Local(i int) bool { return f.IsLocal != nil && f.IsLocal(i) }

// Free calls f.FreeOf; nil means every member's capacity is unknown.
func (f LoadFunc) Free(i int) (int, bool) {
	if f.FreeOf == nil {
		return 0, false
	}
	return f.FreeOf(i)
}

var _ LoadView = LoadFunc{}
