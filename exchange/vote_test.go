package exchange

import (
	"testing"
	"time"

	boursepb "github.com/bourse-go/bourse/proto"
)

// TestVoter drives one node's votes through sequences of rounds from
// competing authorities: a term is confirmed to one authority only, never a
// lower one after a higher, and the last other leader is reported with its
// age while its lease may still run.
func TestVoter(t *testing.T) {
	const wait = 110 * time.Millisecond
	ms := time.Millisecond
	type step struct {
		at      time.Duration
		auth    string
		term    uint64
		leader  string
		granted bool
		prom    uint64 // Promised in the answer
		other   string
		age     time.Duration
	}
	tests := []struct {
		name    string
		restart time.Duration // told it is a restart at (0: never)
		steps   []step
	}{
		{"one authority, one leader", 0, []step{
			{at: 0, auth: "x", term: 1, leader: "a", granted: true, prom: 1},
			{at: 30 * ms, auth: "x", term: 1, leader: "a", granted: true, prom: 1},
		}},
		{"same term, other authority: refused", 0, []step{
			{at: 0, auth: "x", term: 3, leader: "a", granted: true, prom: 3},
			{at: 1 * ms, auth: "y", term: 3, leader: "b", granted: false, prom: 3},
		}},
		{"lower term after a higher: refused, the higher named", 0, []step{
			{at: 0, auth: "y", term: 4, leader: "b", granted: true, prom: 4},
			{at: 5 * ms, auth: "x", term: 3, leader: "a", granted: false, prom: 4},
			{at: 10 * ms, auth: "y", term: 4, leader: "b", granted: true, prom: 4},
		}},
		{"higher term takes over and hears of the other leader", 0, []step{
			{at: 0, auth: "x", term: 3, leader: "a", granted: true, prom: 3},
			{at: 40 * ms, auth: "x", term: 3, leader: "a", granted: true, prom: 3},
			{at: 50 * ms, auth: "y", term: 4, leader: "b", granted: true, prom: 4, other: "a", age: 10 * ms},
			{at: 60 * ms, auth: "x", term: 3, leader: "a", granted: false, prom: 4},
			{at: 100 * ms, auth: "y", term: 4, leader: "b", granted: true, prom: 4, other: "a", age: 60 * ms},
			{at: 151 * ms, auth: "y", term: 4, leader: "b", granted: true, prom: 4}, // a's last vote is a wait old
		}},
		{"the newest of several other leaders is reported", 0, []step{
			{at: 0, auth: "x", term: 1, leader: "a", granted: true, prom: 1},
			{at: 20 * ms, auth: "x", term: 2, leader: "b", granted: true, prom: 2, other: "a", age: 20 * ms},
			{at: 30 * ms, auth: "x", term: 3, leader: "c", granted: true, prom: 3, other: "b", age: 10 * ms},
		}},
		{"a restart votes for nobody for one wait", 5 * ms, []step{
			{at: 10 * ms, auth: "x", term: 1, leader: "a", granted: false, prom: 0},
			{at: 114 * ms, auth: "x", term: 1, leader: "a", granted: false, prom: 0},
			{at: 115 * ms, auth: "x", term: 1, leader: "a", granted: true, prom: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVoter(wait)
			if tt.restart > 0 {
				v.restarted(tt.restart)
				v.restarted(tt.restart + 50*ms) // only the first time counts
			}
			for i, s := range tt.steps {
				got := v.vote(s.at, "n1", &boursepb.VoteRequest{Exchange: "e", Authority: &boursepb.Pid{Address: "h", Id: s.auth},
					Term: s.term, Round: uint64(i + 1), Leader: s.leader})
				if got.GetGranted() != s.granted || got.GetPromised() != s.prom || got.GetOther() != s.other ||
					time.Duration(got.GetOtherAgeNanos()) != s.age || got.GetRound() != uint64(i+1) || got.GetAddress() != "n1" {
					t.Fatalf("step %d (%+v): got granted=%v promised=%d other=%q age=%v", i, s, got.GetGranted(), got.GetPromised(),
						got.GetOther(), time.Duration(got.GetOtherAgeNanos()))
				}
			}
		})
	}
}

func TestMajority(t *testing.T) {
	five := []string{"a", "b", "c", "d", "e"}
	four := []string{"a", "b", "c", "d"}
	yes := func(as ...string) map[string]bool {
		m := map[string]bool{}
		for _, a := range as {
			m[a] = true
		}
		return m
	}
	tests := []struct {
		voters []string
		yes    map[string]bool
		want   bool
	}{
		{five, yes("a", "b", "c"), true},
		{five, yes("c", "d", "e"), true},
		{five, yes("a", "b"), false},
		{five, yes("a", "b", "x", "y"), false}, // non-voters do not count
		{four, yes("a", "d"), true},            // half with the lowest address
		{four, yes("b", "c"), false},           // half without it
		{four, yes("b", "c", "d"), true},
		{[]string{"a"}, yes("a"), true},
		{nil, yes("a"), false},
	}
	for _, tt := range tests {
		if got := majority(tt.voters, tt.yes); got != tt.want {
			t.Errorf("majority(%v, %v) = %v, want %v", tt.voters, tt.yes, got, tt.want)
		}
	}
}

// TestGrantUse: a grant with little of its lease left asks again at once,
// and starts a leadership only if it leaves enough to act on.
func TestGrantUse(t *testing.T) {
	const lease = 200 * time.Millisecond
	ms := time.Millisecond
	tests := []struct {
		name            string
		left            time.Duration
		canStart, again bool
	}{
		{"full lease", lease, true, false},
		{"a renewal period left", lease / renewsPerLease, true, false},
		{"less than a renewal period: asks again, acts meanwhile", lease/renewsPerLease - ms, true, true},
		{"a tenth of the lease: acts", lease / 10, true, true},
		{"less than a tenth: waits for the next grant", lease/10 - ms, false, true},
		{"came too late", -ms, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := 10 * time.Second
			canStart, again := grantUse(now, now+tt.left, lease)
			if canStart != tt.canStart || again != tt.again {
				t.Fatalf("left %v: canStart %v again %v, want %v %v", tt.left, canStart, again, tt.canStart, tt.again)
			}
		})
	}
}
