package exchange_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// loseFirst returns a LoseControl filter that drops the first message of
// type T, and a count of the messages it dropped.
func loseFirst[T proto.Message]() (func(proto.Message) bool, *atomic.Int32) {
	var lost atomic.Int32
	return func(m proto.Message) bool {
		if _, ok := m.(T); ok {
			return lost.CompareAndSwap(0, 1)
		}
		return false
	}, &lost
}

// loseAcksAfterRegistration returns a LoseControl filter that drops every
// TableAck of exchange "rr" for 300 ms (less than TableRepush) from the
// first RegisterHandler on: among them that of the table with the new
// connection, whatever tables were still on their way when it was sent.
func loseAcksAfterRegistration() (func(proto.Message) bool, *atomic.Int32) {
	var lost atomic.Int32
	var from atomic.Int64 // when the registration left, in Unix ns; 0 before
	return func(m proto.Message) bool {
		switch m := m.(type) {
		case *boursepb.RegisterHandler:
			from.CompareAndSwap(0, time.Now().UnixNano())
		case *boursepb.TableAck:
			if f := from.Load(); f != 0 && m.GetExchange() == "rr" && time.Since(time.Unix(0, f)) < 300*time.Millisecond {
				lost.Add(1)
				return true
			}
		}
		return false
	}, &lost
}

// A control message lost on the way (a connection that drops it) costs its
// caller one re-send period, never its whole deadline: Connect, Subscribe
// and Close return once the re-sent message, or the re-sent table, has
// been answered.
func TestLostControlMessagesAreSentAgain(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func() (func(proto.Message) bool, *atomic.Int32)
		op   func(t *testing.T, h *exchange.Hub, sys *actor.ActorSystem) error
		// at least this long: the message was lost and its re-send answered
		min time.Duration
	}{
		{
			name: "registration", lose: loseFirst[*boursepb.RegisterHandler], min: exchange.ControlResend,
			op: func(t *testing.T, h *exchange.Hub, sys *actor.ActorSystem) error {
				_, err := h.Connect(testCtx(t), "rr", spawnRecorder(t, sys, &recorder{name: "a"}))
				return err
			},
		},
		{
			// The authority holds its answer until every node acknowledged
			// the table with the new connection; the acknowledgement is
			// lost, and only the table sent again brings another.
			name: "table acknowledgement", lose: loseAcksAfterRegistration, min: exchange.TableRepush,
			op: func(t *testing.T, h *exchange.Hub, sys *actor.ActorSystem) error {
				_, err := h.Connect(testCtx(t), "rr", spawnRecorder(t, sys, &recorder{name: "a"}))
				return err
			},
		},
		{
			name: "pattern", lose: loseFirst[*boursepb.AddPattern], min: exchange.ControlResend,
			op: func(t *testing.T, h *exchange.Hub, sys *actor.ActorSystem) error {
				_, err := h.Subscribe(testCtx(t), "ps", "x.*", spawnRecorder(t, sys, &recorder{name: "s"}))
				return err
			},
		},
		{
			name: "disconnection", lose: loseFirst[*boursepb.UnregisterHandler], min: exchange.ControlResend,
			op: func(t *testing.T, h *exchange.Hub, sys *actor.ActorSystem) error {
				_, _, c := connect(t, h, sys, "rr", "a")
				return c.Close(testCtx(t))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, sys := newHub(t, reqResp("rr", "round-robin"), pubSub("ps"))
			lose, lost := tc.lose()
			exchange.LoseControl(h, lose)
			start := time.Now()
			if err := tc.op(t, h, sys); err != nil {
				t.Fatalf("after a lost %s: %v", tc.name, err)
			}
			took := time.Since(start)
			if lost.Load() == 0 {
				t.Fatal("no message lost: the test tests nothing")
			}
			t.Logf("a lost %s cost %v", tc.name, took)
			if took < tc.min {
				t.Errorf("returned after %v, before the re-send (%v): the lost message was not needed?", took, tc.min)
			}
		})
	}
}
