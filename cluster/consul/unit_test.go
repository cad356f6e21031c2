package consul

import (
	"slices"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/bourse-go/bourse/cluster"
)

func TestToPeers(t *testing.T) {
	entry := func(node, svcAddr, nodeAddr string, port int) *api.ServiceEntry {
		return &api.ServiceEntry{
			Node:    &api.Node{Address: nodeAddr},
			Service: &api.AgentService{Address: svcAddr, Port: port, Meta: map[string]string{metaNode: node}},
		}
	}
	got := toPeers([]*api.ServiceEntry{
		entry("b", "10.0.0.2", "10.9.9.9", 7000),
		nil,
		{Node: &api.Node{}},
		entry("a", "10.0.0.1", "10.9.9.9", 7000),
		entry("", "", "10.0.0.3", 7001), // registered by hand: no meta, node's address
		entry("v6", "::1", "", 7002),
	})
	want := []cluster.Peer{
		{Node: "a", Address: "10.0.0.1:7000"},
		{Node: "b", Address: "10.0.0.2:7000"},
		{Node: "", Address: "10.0.0.3:7001"},
		{Node: "v6", Address: "[::1]:7002"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("toPeers() = %v, want %v", got, want)
	}
	if got := toPeers(nil); got == nil || len(got) != 0 {
		t.Fatalf("toPeers(nil) = %#v, want empty non-nil", got)
	}
}

func TestNextIndex(t *testing.T) {
	tests := []struct{ prev, got, want uint64 }{
		{0, 5, 5}, // first answer
		{5, 5, 5}, // wait timed out, nothing changed
		{5, 9, 9}, // changed
		{9, 3, 0}, // went backwards: start over
		{0, 0, 1}, // never block on 0
		{5, 0, 0}, // backwards to 0
	}
	for _, tt := range tests {
		if got := nextIndex(tt.prev, tt.got); got != tt.want {
			t.Errorf("nextIndex(%d, %d) = %d, want %d", tt.prev, tt.got, got, tt.want)
		}
	}
}
