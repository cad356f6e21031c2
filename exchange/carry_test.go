package exchange

import (
	"slices"
	"testing"

	boursepb "github.com/bourse-go/bourse/proto"
)

// TestCarrySubscriptions: a table from an authority that has not heard from
// a live node yet keeps that node's subscriptions from the table held; a
// node it knows (with subscriptions or none), a node that is not live, and a
// table from an authority that lists no nodes carry nothing.
func TestCarrySubscriptions(t *testing.T) {
	np := func(addr string, patterns ...string) *boursepb.NodePatterns {
		return &boursepb.NodePatterns{Node: addr, Pop: &boursepb.Pid{Address: addr, Id: "pop"}, Patterns: patterns}
	}
	prev := &boursepb.RoutingTable{Subscriptions: []*boursepb.NodePatterns{np("a", "x.*"), np("b", "y"), np("c", "z")}}
	live := map[string]bool{"a": true, "b": true, "d": true}
	tests := []struct {
		name  string
		next  *boursepb.RoutingTable
		live  map[string]bool
		nodes []string // nodes whose subscriptions the result routes to
	}{
		{"authority knows every node", &boursepb.RoutingTable{KnownNodes: []string{"a", "b", "d"},
			Subscriptions: []*boursepb.NodePatterns{np("a", "x.*")}}, live, []string{"a"}},
		{"b not heard yet: carried; c not live: dropped", &boursepb.RoutingTable{KnownNodes: []string{"a", "d"},
			Subscriptions: []*boursepb.NodePatterns{np("a", "x.*"), np("d", "w")}}, live, []string{"a", "d", "b"}},
		{"no nodes listed (older authority): taken as is", &boursepb.RoutingTable{
			Subscriptions: []*boursepb.NodePatterns{np("d", "w")}}, live, []string{"d"}},
		{"outside a cluster every node is live", &boursepb.RoutingTable{KnownNodes: []string{"a"}}, nil, []string{"b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := carrySubscriptions(prev, tt.next, tt.live)
			var nodes []string
			for _, s := range got.GetSubscriptions() {
				nodes = append(nodes, s.GetNode())
			}
			if !slices.Equal(nodes, tt.nodes) {
				t.Fatalf("routes to %v, want %v", nodes, tt.nodes)
			}
		})
	}
	if got := carrySubscriptions(nil, prev, live); got != prev {
		t.Fatal("first table changed")
	}
}
