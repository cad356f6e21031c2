package exchange_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
)

func TestLeaderAndSlaveMessages(t *testing.T) {
	h, sys := newHub(t, reqResp("lead", "round-robin"))
	r0, pid0, _ := connect(t, h, sys, "lead", "h0", exchange.Options(map[string]string{"zone": "a"}))
	r1, _, c1 := connect(t, h, sys, "lead", "h1")

	// h0 is told it leads when it connects; h1 is told h0 leads, with both listed.
	eventually(t, "h1's Leader", func() bool { return len(r1.events()) >= 1 })
	l, ok := r1.events()[0].(*boursepb.Leader)
	if !ok {
		t.Fatalf("first event of h1 is %T, want *Leader", r1.events()[0])
	}
	if l.GetLeader().GetPid().GetId() != pid0.Id || len(l.GetHandlers()) != 2 || l.GetExchange() != "lead" {
		t.Fatalf("Leader = %v", l)
	}
	if l.GetHandlers()[0].GetOptions()["zone"] != "a" {
		t.Fatalf("leader's options not passed on: %v", l.GetHandlers()[0])
	}
	eventually(t, "h0's SlaveUp", func() bool {
		ev := r0.events()
		return len(ev) >= 2
	})
	if up, ok := r0.events()[1].(*boursepb.SlaveUp); !ok || up.GetHandler().GetId() != c1.ID() {
		t.Fatalf("h0's second event = %v, want SlaveUp of h1", r0.events()[1])
	}
	// The leader dies: h1 hears SlaveDown then Leader naming itself.
	stopActor(t, sys, pid0)
	eventually(t, "h1 leads", func() bool {
		ev := r1.events()
		if len(ev) < 3 {
			return false
		}
		down, ok1 := ev[1].(*boursepb.SlaveDown)
		lead, ok2 := ev[2].(*boursepb.Leader)
		return ok1 && ok2 && down.GetReason() == "terminated" && lead.GetLeader().GetId() == c1.ID()
	})
	// The hub's routing table follows: the authority tells the handlers and
	// pushes the table at the same time, to different actors.
	eventually(t, "Hub.Leader names h1", func() bool {
		info, _, err := h.Leader("lead")
		return err == nil && info.GetId() == c1.ID()
	})
}

// leaderWatcher is a handler that records when it believes it leads.
type leaderWatcher struct {
	id    int
	log   *leadLog
	epoch uint64
}

type leadLog struct {
	mu       sync.Mutex
	leading  map[int]bool
	removed  map[int]bool
	overlaps []string
}

func (l *leadLog) set(id int, leads bool, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if why == "removing" {
		// From here on the handler is on its way out: a Leader naming it that
		// was queued before is stale, not a second leader.
		l.removed[id] = true
	}
	if l.removed[id] && leads {
		return
	}
	if leads {
		for other, on := range l.leading {
			if on && other != id {
				l.overlaps = append(l.overlaps, fmt.Sprintf("%d leads (%s) while %d still leads", id, why, other))
			}
		}
	}
	l.leading[id] = leads
}

func (w *leaderWatcher) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *boursepb.Leader:
		if m.GetEpoch() < w.epoch {
			return
		}
		w.epoch = m.GetEpoch()
		w.log.set(w.id, m.GetLeader().GetPid().GetId() == c.Self().Id, fmt.Sprintf("epoch %d", m.GetEpoch()))
	case *exchange.Request:
		m.Respond(str("ok"))
	}
}

// TestExactlyOneLeader joins and removes handlers at random (explicit
// disconnects and deaths). A handler counts as leading from the moment it
// receives a Leader naming it until the test starts removing it, so two
// handlers leading at once shows up as an overlap.
func TestExactlyOneLeader(t *testing.T) {
	h, sys := newHub(t, reqResp("one", "consensus"))
	log := &leadLog{leading: map[int]bool{}, removed: map[int]bool{}}
	type live struct {
		id   int
		pid  *actor.PID
		conn *exchange.Connection
	}
	var alive []live
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0
	const iterations = 400
	for it := 0; it < iterations; it++ {
		if len(alive) < 2 || (len(alive) < 8 && rng.IntN(2) == 0) {
			w := &leaderWatcher{id: next, log: log}
			pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
			c, err := h.Connect(testCtx(t), "one", pid)
			if err != nil {
				t.Fatal(err)
			}
			alive = append(alive, live{next, pid, c})
			next++
		} else {
			i := rng.IntN(len(alive))
			v := alive[i]
			alive = append(alive[:i], alive[i+1:]...)
			log.set(v.id, false, "removing")
			if rng.IntN(2) == 0 {
				if err := v.conn.Close(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				sys.Root.Stop(v.pid)
			} else {
				stopActor(t, sys, v.pid)
			}
		}
		if it%50 == 49 {
			// Quiescent check: exactly one live handler leads, the one the
			// exchange names, and it is the oldest.
			eventually(t, "membership settles", func() bool { hs, _ := h.Handlers("one"); return len(hs) == len(alive) })
			ok := waitFor(func() bool {
				log.mu.Lock()
				defer log.mu.Unlock()
				n := 0
				for _, on := range log.leading {
					if on {
						n++
					}
				}
				return n == 1 && log.leading[alive[0].id]
			})
			if !ok {
				log.mu.Lock()
				t.Fatalf("iteration %d: leading=%v, alive[0]=%d", it, log.leading, alive[0].id)
			}
			info, _, err := h.Leader("one")
			if err != nil || info.GetPid().GetId() != alive[0].pid.Id {
				t.Fatalf("iteration %d: exchange leader %v, want oldest live handler %v (%v)", it, info, alive[0].pid, err)
			}
		}
	}
	time.Sleep(10 * time.Millisecond)
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.overlaps) > 0 {
		t.Fatalf("%d overlaps, first: %s", len(log.overlaps), log.overlaps[0])
	}
	t.Logf("%d handlers joined over %d iterations, no overlap", next, iterations)
}

// TestObserveLeader follows one exchange's leader through its observer: the
// state at registration, then every change (to a leader, to another, to
// none), in order, and nothing after stop.
func TestObserveLeader(t *testing.T) {
	h, sys := newHub(t, reqResp("watched", "consensus"))
	var mu sync.Mutex
	var seen []string
	record := func(c exchange.LeaderChange) {
		mu.Lock()
		defer mu.Unlock()
		if c.Exchange != "watched" {
			t.Errorf("change of %q", c.Exchange)
		}
		if c.Leader == nil {
			seen = append(seen, "none")
			return
		}
		if c.Term == 0 {
			t.Errorf("leader %s with term 0", c.Leader.GetId())
		}
		seen = append(seen, c.Leader.GetId())
	}
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
	stop, err := h.ObserveLeader("watched", record)
	if err != nil {
		t.Fatal(err)
	}
	_, pid0, c0 := connect(t, h, sys, "watched", "h0")
	_, _, c1 := connect(t, h, sys, "watched", "h1")
	stopActor(t, sys, pid0)
	eventually(t, "h1 leads", func() bool { return len(got()) == 3 })
	if want := []string{"none", c0.ID(), c1.ID()}; !slices.Equal(got(), want) {
		t.Fatalf("changes = %v, want %v", got(), want)
	}
	if err := c1.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no leader", func() bool { return len(got()) == 4 })
	if last := got()[3]; last != "none" {
		t.Fatalf("last change = %s, want none", last)
	}
	stop()
	stop() // idempotent
	connect(t, h, sys, "watched", "h2")
	time.Sleep(20 * time.Millisecond)
	if n := len(got()); n != 4 {
		t.Fatalf("%d changes after stop, want none", n-4)
	}

	if _, err := h.ObserveLeader("nope", record); !errors.Is(err, exchange.ErrUnknownExchange) {
		t.Fatalf("unknown exchange: err = %v", err)
	}
}
