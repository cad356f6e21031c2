package actors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Issue 11, finding 2: a leading service kept leading when a handler with
// the same actor id on another node went away. Actor ids repeat across
// nodes that run the same program; only the whole PID names a handler.
func TestLeaderIgnoresSlaveDownOfSameIDElsewhere(t *testing.T) {
	ctx := context.Background()
	b, err := actors.New(actors.WithActorSystem(quietSystem()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	if err := b.Declare(ctx, actors.Spec{Name: "lead", Kind: actors.ReqResp, Strategy: "consensus"}); err != nil {
		t.Fatal(err)
	}
	s, err := b.Serve(ctx, "lead", actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) {
		return wrapperspb.String("ok"), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the service leads", s.IsLeader)
	other := &actors.HandlerInfo{Id: "elsewhere", Node: "n2", Pid: &boursepb.Pid{Address: "10.0.0.2:7100", Id: s.PID().Id}}
	if actors.Names(other, s.PID()) || s.Is(other) {
		t.Fatal("a handler on another node with the same actor id is taken for this one")
	}
	b.System().Root.Send(s.PID(), &actors.SlaveDown{Exchange: "lead", Handler: other, Reason: "node down"})
	time.Sleep(50 * time.Millisecond) // the message is handled by then
	if !s.IsLeader() {
		t.Fatal("the leader stepped down on another node's SlaveDown")
	}
	if !actors.Names(s.Connection().Info(), s.PID()) || !s.Is(s.Connection().Info()) {
		t.Fatal("the service does not recognise its own connection")
	}
}
