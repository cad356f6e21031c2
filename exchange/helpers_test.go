package exchange_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// newSystem returns an actor system that logs only warnings and errors, so
// test output shows what matters.
func newSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}))
}

func str(s string) *wrapperspb.StringValue { return wrapperspb.String(s) }

func strOf(t testing.TB, m any) string {
	t.Helper()
	s, ok := m.(*wrapperspb.StringValue)
	if !ok {
		t.Fatalf("payload is %T, want *wrapperspb.StringValue", m)
	}
	return s.GetValue()
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newHub starts an actor system and a hub on it, both stopped at cleanup.
func newHub(t testing.TB, specs ...exchange.Spec) (*exchange.Hub, *actor.ActorSystem) {
	t.Helper()
	sys := newSystem()
	h, err := exchange.New(sys, exchange.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Stop(context.Background()); err != nil {
			t.Errorf("hub stop: %v", err)
		}
		sys.Shutdown()
	})
	for _, s := range specs {
		if err := h.Declare(testCtx(t), s); err != nil {
			t.Fatal(err)
		}
	}
	return h, sys
}

// recorder is a handler actor that answers "<name>:<payload>" and records
// everything it receives.
type recorder struct {
	name string
	mu   sync.Mutex
	reqs []*exchange.Request
	evts []any
	// reply decides the answer; nil means echo with the recorder's name.
	reply func(r *exchange.Request)
}

func (r *recorder) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *exchange.Request:
		r.mu.Lock()
		r.reqs = append(r.reqs, m)
		r.mu.Unlock()
		if r.reply != nil {
			r.reply(m)
			return
		}
		m.Respond(str(r.name + ":" + m.Payload.(*wrapperspb.StringValue).GetValue()))
	case *boursepb.Leader, *boursepb.SlaveUp, *boursepb.SlaveDown:
		r.mu.Lock()
		r.evts = append(r.evts, m)
		r.mu.Unlock()
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func (r *recorder) events() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.evts...)
}

func spawnRecorder(t testing.TB, sys *actor.ActorSystem, r *recorder) *actor.PID {
	t.Helper()
	return sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return r }))
}

// connect spawns a recorder and connects it.
func connect(t testing.TB, h *exchange.Hub, sys *actor.ActorSystem, exch, name string, opts ...exchange.ConnectOption) (*recorder, *actor.PID, *exchange.Connection) {
	t.Helper()
	r := &recorder{name: name}
	pid := spawnRecorder(t, sys, r)
	c, err := h.Connect(testCtx(t), exch, pid, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	return r, pid, c
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func stopActor(t testing.TB, sys *actor.ActorSystem, pid *actor.PID) {
	t.Helper()
	if err := sys.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
}

func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
