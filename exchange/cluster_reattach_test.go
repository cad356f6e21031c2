//go:build !race

// Several actor systems with remote in one process: not under -race, see
// cluster_test.go.

package exchange_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	"google.golang.org/protobuf/proto"
)

// A point of presence whose authority stopped on the owner's node (a node
// that regains its quorum stops its authorities, and tells only its own
// points of presence) attaches again: at once when the stopped actor's
// node answers with a dead letter, otherwise once the authority has left
// reattachAfter re-sends unanswered; never re-sending to a stopped actor
// for ever. Connect returns in seconds, not at its ctx's end.
func TestPointAttachesAgainWhenItsAuthorityIsGone(t *testing.T) {
	for _, tc := range []struct {
		name            string
		loseDeadLetters bool
		min, max        time.Duration
	}{
		{"dead letter", false, 0, exchange.ControlResend},
		{"re-sends unanswered", true, exchange.ControlResend, 5 * exchange.ControlResend},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forTransports(t, func(t *testing.T, tr transport) {
				testPointAttachesAgain(t, tr, tc.loseDeadLetters, tc.min, tc.max)
			})
		})
	}
}

func testPointAttachesAgain(t *testing.T, tr transport, loseDeadLetters bool, min, max time.Duration) {
	nodes := startNodes(t, 2, tr)
	declareAll(t, nodes, reqResp("rr", "round-robin"))
	for _, n := range nodes {
		connect(t, n.hub, n.sys, "rr", n.name)
	}
	owner, other := nodes[0], nodes[1]
	if exchange.OwnerOf(owner.hub, "rr") != owner.sys.Address() {
		owner, other = other, owner
	}
	for _, n := range nodes {
		eventually(t, "tables list both handlers", func() bool {
			hs, _ := n.hub.Handlers("rr")
			return len(hs) == 2
		})
	}
	if loseDeadLetters {
		exchange.LoseControl(other.hub, func(m proto.Message) bool {
			_, ok := m.(*actor.DeadLetterResponse)
			return ok
		})
	}
	exchange.StopAuthorities(owner.hub)
	start := time.Now()
	if _, err := other.hub.Connect(testCtx(t), "rr", spawnRecorder(t, other.sys, &recorder{name: "late"})); err != nil {
		t.Fatalf("connect after the authority stopped: %v", err)
	}
	took := time.Since(start)
	t.Logf("connected in %v", took)
	if took < min || took > max {
		t.Errorf("connected in %v, want %v to %v", took, min, max)
	}
	eventually(t, "the owner's table lists the new handler", func() bool {
		hs, _ := owner.hub.Handlers("rr")
		return len(hs) == 3
	})
}
