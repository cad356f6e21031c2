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

// The store merges last-writer-wins on (version, origin), whatever order
// the entries come in, and its clock passes every version it saw.
func TestStoreMerge(t *testing.T) {
	entry := func(name string, version uint64, origin string, deleted bool, total int) *boursepb.DeployEntry {
		return &boursepb.DeployEntry{Spec: specToWire(deploy.Spec{Name: name, Exchange: "x", Kind: "k",
			Mode: deploy.ModeReplicas, Total: total}), Version: version, Origin: origin, Deleted: deleted}
	}
	es := []*boursepb.DeployEntry{
		entry("s", 1, "a", false, 1),
		entry("s", 2, "b", false, 2),
		entry("s", 2, "a", false, 3), // same version, smaller origin: loses to b
		entry("s", 3, "a", true, 2),  // the tombstone wins
		entry("t", 5, "c", false, 1),
		{Spec: &boursepb.DeploySpec{}}, // no name: ignored
	}
	// Every order of the entries gives the same store.
	orders := [][]int{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {2, 0, 3, 5, 1, 4}, {3, 1, 4, 0, 2, 5}}
	for _, order := range orders {
		d := &deployer{store: map[string]*boursepb.DeployEntry{}}
		for _, i := range order {
			d.merge([]*boursepb.DeployEntry{es[i]})
		}
		s, tt := d.store["s"], d.store["t"]
		if len(d.store) != 2 || !s.GetDeleted() || s.GetVersion() != 3 || tt.GetVersion() != 5 || d.clock != 5 {
			t.Errorf("order %v: store %v, clock %d", order, d.store, d.clock)
		}
		if d.merge([]*boursepb.DeployEntry{es[1]}) {
			t.Errorf("order %v: an older entry changed the store", order)
		}
	}
}
