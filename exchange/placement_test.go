package exchange

import (
	"fmt"
	"testing"

	"github.com/bourse-go/bourse/internal/wiring"
)

func memberList(addrs ...string) []wiring.Member {
	ms := make([]wiring.Member, len(addrs))
	for i, a := range addrs {
		ms[i] = wiring.Member{Node: fmt.Sprintf("n%d", i), Address: a}
	}
	return ms
}

// Every node must compute the same owner from the same members: these owners
// are pinned, so a change of the hash (or of how it is fed) fails here rather
// than splitting a mixed-version cluster's placement.
func TestOwnerOfPinned(t *testing.T) {
	const a, b, c = "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"
	h := &Hub{} // ownerOf reads the hub only when there are no members
	tests := []struct {
		name    string
		members []wiring.Member
		want    string
	}{
		{"orders", memberList(a, b, c), a},
		{"prices", memberList(a, b, c), b},
		{"trades", memberList(a, b, c), c},
		{"quotes", memberList(a, b, c), c},
		{"fills", memberList(a, b, c), b},
		{"", memberList(a, b, c), b},
		{"trades", memberList(a, b), b},
		{"quotes", memberList(a, b), b},
		{"orders", memberList(a, b), a},
		{"trades", memberList(a), a},
		{"trades", memberList(c, b, a), c}, // the members' order does not matter
		{"prices", memberList(b, c, a), b},
	}
	for _, tt := range tests {
		if got := h.ownerOf(tt.name, tt.members); got != tt.want {
			t.Errorf("ownerOf(%q, %v) = %q, want %q", tt.name, tt.members, got, tt.want)
		}
	}
	if got, want := mix64(1), uint64(0x5692161d100b05e5); got != want {
		t.Errorf("mix64(1) = %#x, want %#x", got, want)
	}
}

// Removing a member moves only the exchanges it owned, and adding one moves
// exchanges only to it.
func TestOwnerOfMovesOnlyTheLeaversExchanges(t *testing.T) {
	h := &Hub{}
	all := memberList("10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000", "10.0.0.4:7000")
	for gone := range all {
		rest := append(append([]wiring.Member(nil), all[:gone]...), all[gone+1:]...)
		moved := 0
		for i := range 1000 {
			name := fmt.Sprintf("exchange-%d", i)
			before, after := h.ownerOf(name, all), h.ownerOf(name, rest)
			switch {
			case before == all[gone].Address:
				moved++
				if after == before {
					t.Fatalf("%s stayed on %s, which left", name, before)
				}
			case after != before:
				t.Errorf("%s moved from %s to %s when %s left", name, before, after, all[gone].Address)
			}
		}
		if moved == 0 || moved > 500 {
			t.Errorf("%s owned %d of 1000 exchanges; want about 250", all[gone].Address, moved)
		}
	}
}
