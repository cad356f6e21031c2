package cluster

import (
	"errors"
	"fmt"
	"testing"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster/deploy"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// A spec crosses the wire without loss: every node reads back the same
// Spec, so every node computes the same placement.
func TestSpecWireRoundTrip(t *testing.T) {
	for _, s := range []deploy.Spec{
		{Name: "a", Exchange: "x", Kind: "k", Mode: deploy.ModeNodeSingleton},
		{Name: "books", Exchange: "orders", Kind: "order-book", Mode: deploy.ModeReplicas, Total: 8, MaxPerNode: 2,
			ServiceTag: "books", Params: map[string]string{"depth": "50", "": "x"}, KeepPartial: true,
			Selector: deploy.Selector{MatchLabels: map[string]string{"zone": "eu"}, MatchExpressions: []deploy.Requirement{
				{Key: "disk", Op: deploy.In, Values: []string{"ssd", "nvme"}}, {Key: "gpu", Op: deploy.DoesNotExist}}}},
	} {
		w := specToWire(s)
		b, err := proto.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		back := &boursepb.DeploySpec{}
		if err := proto.Unmarshal(b, back); err != nil {
			t.Fatal(err)
		}
		got := specFromWire(back)
		if !got.Equal(s) {
			t.Errorf("round trip of %v gave %v", s, got)
		}
	}
}

// A failure keeps its sentinel across nodes, and its message.
func TestFailureWireKeepsIdentity(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&startError{err: errors.New("no database")}, deploy.ErrStartFailed},
		{&startError{serve: true, err: fmt.Errorf("bourse: %w", actors.ErrUnknownExchange)}, actors.ErrUnknownExchange},
		{&deploy.UnknownKindError{Name: "ecko"}, deploy.ErrUnknownKind},
		{fmt.Errorf("%w: no handler", deploy.ErrInvalidKind), deploy.ErrInvalidKind},
	} {
		back := failureFromWire(failureToWire(tc.err))
		if !errors.Is(back, tc.want) || back.Error() != tc.err.Error() {
			t.Errorf("%v came back as %v (want it to match %v)", tc.err, back, tc.want)
		}
	}
	if failureToWire(nil) != nil || failureFromWire(nil) != nil {
		t.Error("nil failures must stay nil")
	}
}
