package exchange

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// selfTimer sends a message to an actor after a delay. Actors here use it
// instead of protoactor's SetReceiveTimeout, whose timer goroutine writes the
// actor context while the mailbox goroutine reads it: a data race in
// actor/actor_context.go of protoactor-go v0.0.0-20240822202345-3c0e61ca19c9
// (the version go.mod pins), where receiveTimeoutHandler (line 250) calls
// CancelReceiveTimeout (line 241), which the race detector reports against
// resetReceiveTimeoutTimer (line 59).
//
// Only the actor that owns a selfTimer calls its methods, so it needs no
// lock: the timer's goroutine only sends a tick with the generation it
// captured. Ticks carry that generation so that a tick sent just before a
// Stop or a new Start is recognised as stale (Fired returns false for it).
type selfTimer struct {
	t     *time.Timer
	gen   uint64
	armed bool
}

// timerTick is what a selfTimer sends; from names the timer, so that an
// actor may own several.
type timerTick struct {
	gen  uint64
	from *selfTimer
}

// Start (re)arms the timer: after d, root sends a timerTick to self.
func (s *selfTimer) Start(root *actor.RootContext, self *actor.PID, d time.Duration) {
	if s.t != nil {
		s.t.Stop()
	}
	s.gen++
	s.armed = true
	gen := s.gen
	s.t = time.AfterFunc(d, func() { root.Send(self, &timerTick{gen: gen, from: s}) })
}

// Stop disarms the timer; a tick already on its way is then stale.
func (s *selfTimer) Stop() {
	if s.t != nil {
		s.t.Stop()
		s.t = nil
	}
	s.gen++
	s.armed = false
}

// Fired reports whether tick is the current arming's, and disarms it.
func (s *selfTimer) Fired(tick *timerTick) bool {
	if !s.armed || tick.from != s || tick.gen != s.gen {
		return false
	}
	s.armed = false
	s.t = nil
	return true
}
