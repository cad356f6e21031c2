package cluster

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	boursepb "github.com/bourse-go/bourse/proto"
)

// The membership state machine driven by event sequences, with no I/O and
// no clock: microseconds each, under -race.

func testMembership(self string) *membership {
	cfg := Config{Cluster: "c", HeartbeatInterval: 10 * time.Millisecond, SuspectAfter: 100 * time.Millisecond}
	m := newMembership(cfg, Member{Node: self, Address: self, Incarnation: 1})
	m.pauseAfter = time.Hour // these sequences jump in time; TestMembershipPauseOfThisProcess sets it
	return m
}

func hb(addr string, inc uint64, leaving bool) *boursepb.Heartbeat {
	return &boursepb.Heartbeat{Cluster: "c", Node: addr, Address: addr, Incarnation: inc, Leaving: leaving}
}

func TestMembershipQuorumAndDead(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type ev struct {
		at   int    // ms
		kind string // hb, leave, tick, verifyDead
		addr string
		inc  uint64
	}
	tests := []struct {
		name       string
		self       string
		events     []ev
		wantLive   int
		wantQuorum bool
		wantDead   []string
	}{
		{"alone: quorum of one", "n1", nil, 1, true, nil},
		{"five nodes all live", "n1", []ev{{0, "hb", "n2", 1}, {0, "hb", "n3", 1}, {0, "hb", "n4", 1}, {0, "hb", "n5", 1}}, 5, true, nil},
		{"kill -9 of two of five: 3/5 keep the quorum; the killed are known dead", "n1", []ev{
			{0, "hb", "n2", 1}, {0, "hb", "n3", 1}, {0, "hb", "n4", 1}, {0, "hb", "n5", 1},
			{10, "verifyDead", "n4", 1}, {10, "verifyDead", "n5", 1}}, 3, true, []string{"n4", "n5"}},
		{"minority of a 2/3 split: silent peers, no quorum, none known dead", "n1", []ev{
			{0, "hb", "n2", 1}, {0, "hb", "n3", 1}, {0, "hb", "n4", 1}, {0, "hb", "n5", 1},
			{90, "hb", "n2", 1}, {150, "tick", "", 0}}, 2, false, nil},
		{"majority of a 2/3 split keeps it", "n3", []ev{
			{0, "hb", "n1", 1}, {0, "hb", "n2", 1}, {0, "hb", "n4", 1}, {0, "hb", "n5", 1},
			{90, "hb", "n4", 1}, {90, "hb", "n5", 1}, {150, "tick", "", 0}}, 3, true, nil},
		{"frozen node resumes: every peer silent, no quorum", "n1", []ev{
			{0, "hb", "n2", 1}, {0, "hb", "n3", 1}, {3000, "tick", "", 0}}, 1, false, nil},
		{"graceful leaves shrink the cluster: 1 of 1 left standing keeps it", "n1", []ev{
			{0, "hb", "n2", 1}, {0, "hb", "n3", 1}, {10, "leave", "n2", 1}, {10, "leave", "n3", 1}}, 1, true, []string{"n2", "n3"}},
		{"even split: the side with the lowest address keeps it", "n1", []ev{
			{0, "hb", "n2", 1}, {0, "hb", "n3", 1}, {0, "hb", "n4", 1},
			{90, "hb", "n2", 1}, {150, "tick", "", 0}}, 2, true, nil},
		{"even split: the other side does not", "n3", []ev{
			{0, "hb", "n1", 1}, {0, "hb", "n2", 1}, {0, "hb", "n4", 1},
			{90, "hb", "n4", 1}, {150, "tick", "", 0}}, 2, false, nil},
		{"restart: old incarnation down (known dead), new one up", "n1", []ev{
			{0, "hb", "n2", 1}, {0, "hb", "n3", 1}, {50, "hb", "n3", 2}}, 3, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMembership(tt.self)
			m.gotDiscovery = true
			for _, e := range tt.events {
				switch e.kind {
				case "hb":
					m.heartbeat(hb(e.addr, e.inc, false), at(e.at))
				case "leave":
					m.heartbeat(hb(e.addr, e.inc, true), at(e.at))
				case "tick":
					m.tick(at(e.at))
				case "verifyDead":
					m.endpointTerminated(e.addr, at(e.at))
					m.probed(probeReq{addr: e.addr, verify: true, inc: e.inc}, false, at(e.at))
				}
			}
			view := m.view()
			if len(view) != tt.wantLive {
				t.Fatalf("live %d (%v), want %d", len(view), view, tt.wantLive)
			}
			if q := m.quorum(view); q != tt.wantQuorum {
				t.Fatalf("quorum %v, want %v", q, tt.wantQuorum)
			}
			dead := m.dead()
			if fmt.Sprint(sortedKeys(dead)) != fmt.Sprint(tt.wantDead) && !(len(dead) == 0 && tt.wantDead == nil) {
				t.Fatalf("dead %v, want %v", sortedKeys(dead), tt.wantDead)
			}
		})
	}
}

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

// A peer silent for SuspectAfter is declared down but not known dead: its
// leader's successor must wait out the lease. A refused connection after an
// endpoint event makes it known dead.
func TestMembershipSilentIsNotDead(t *testing.T) {
	m := testMembership("n1")
	t0 := time.Unix(0, 0)
	m.heartbeat(hb("n2", 1, false), t0)
	e := m.tick(t0.Add(200 * time.Millisecond))
	if len(e.changes) != 1 || e.changes[0].up || e.changes[0].reason != ReasonSilent {
		t.Fatalf("changes %+v, want n2 down as silent", e.changes)
	}
	if m.dead()["n2"] {
		t.Fatal("a silent peer is reported dead")
	}
	// It comes back (a freeze ended): alive again, not dead, once it
	// echoes a heartbeat sent since it was declared down.
	h := hb("n2", 1, false)
	h.Ack = m.nextHeartbeat(t0.Add(3 * time.Second))
	m.heartbeat(h, t0.Add(3*time.Second+time.Millisecond))
	if len(m.view()) != 2 || m.dead()["n2"] {
		t.Fatalf("view %v dead %v after it came back", m.view(), m.dead())
	}
}

// A heartbeat of a peer declared down that echoes nothing sent since (one
// held back through a partition and delivered late, even after its sender
// died) does not count it up again: this node answers it, and only a
// heartbeat echoing that answer does. A new incarnation needs no echo.
func TestMembershipStaleHeartbeatDoesNotReadmit(t *testing.T) {
	m := testMembership("n1")
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	before := m.nextHeartbeat(at(0))
	h := hb("n2", 1, false)
	h.Ack = before
	m.heartbeat(h, at(1))
	if e := m.tick(at(300)); len(e.changes) != 1 || e.changes[0].up {
		t.Fatalf("changes %+v, want n2 down as silent", e.changes)
	}
	for _, ack := range []uint64{0, before} { // nothing, or what was sent before the down
		h := hb("n2", 1, false)
		h.Ack = ack
		e := m.heartbeat(h, at(400))
		if len(e.changes) != 0 || len(m.view()) != 1 {
			t.Fatalf("ack %d: changes %+v, view %v; want n2 still down", ack, e.changes, m.view())
		}
		if !slices.Contains(e.send, "n2") {
			t.Fatalf("ack %d: sends %v, want an answer to n2", ack, e.send)
		}
	}
	h = hb("n2", 1, false)
	h.Ack = m.nextHeartbeat(at(401))
	if e := m.heartbeat(h, at(402)); len(e.changes) != 1 || !e.changes[0].up {
		t.Fatalf("changes %+v, want n2 up on the echo of a heartbeat sent since", e.changes)
	}
	// A restarted n3 (a new incarnation) is counted up at once.
	m.heartbeat(hb("n3", 1, false), at(403))
	m.tick(at(800))
	if e := m.heartbeat(hb("n3", 2, false), at(801)); len(e.changes) != 1 || !e.changes[0].up {
		t.Fatalf("changes %+v, want the new incarnation of n3 up", e.changes)
	}
}

// Issue 11, finding 3: a node that resumes after a freeze does not declare
// its peers down (its own pause is not their silence, and dropping them
// would lose its publications), but counts none of them for the quorum, and
// grants no lease (quorumUntil in the past), until it hears from them again.
func TestMembershipPauseOfThisProcess(t *testing.T) {
	m := testMembership("n1")
	m.pauseAfter = 50 * time.Millisecond
	m.gotDiscovery = true
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// roundTrip: this node sends a heartbeat at sent, peer a echoes it at got.
	roundTrip := func(a string, sent, got time.Time) {
		h := hb(a, 1, false)
		h.Ack = m.nextHeartbeat(sent)
		m.heartbeat(h, got)
	}
	for _, a := range []string{"n2", "n3", "n4", "n5"} {
		roundTrip(a, at(0), at(1))
	}
	m.tick(at(10))
	if !m.quorum(m.view()) || !m.quorumUntil(at(10)).After(at(10)) {
		t.Fatal("no quorum with every peer heard")
	}
	// Frozen from +10ms to +3010ms. Heartbeats the peers sent before they
	// gave this node up (echoing what it sent before the freeze) wait in its
	// socket and are read first: the pause is noticed with the first of
	// them, and they count for nothing.
	var paused time.Duration
	for _, a := range []string{"n2", "n3", "n4", "n5"} {
		h := hb(a, 1, false)
		h.Ack = m.hbSeq
		paused += m.heartbeat(h, at(3010)).paused
	}
	if paused != 3000*time.Millisecond {
		t.Fatalf("pause %v, want 3s noticed once", paused)
	}
	if u := m.quorumUntil(at(3010)); u.After(at(3010)) {
		t.Fatalf("quorum until %v from heartbeats that waited out a freeze", u)
	}
	e := m.tick(at(3010))
	if len(e.changes) != 0 || len(m.view()) != 5 {
		t.Fatalf("peers declared down after this process's own pause: %+v", e.changes)
	}
	if m.quorum(m.view()) {
		t.Fatal("quorum right after a pause, before hearing from anyone")
	}
	if u := m.quorumUntil(at(3010)); !u.IsZero() {
		t.Fatalf("quorum holds until %v after a pause", u)
	}
	roundTrip("n2", at(3012), at(3020))
	if m.quorum(m.view()) {
		t.Fatal("quorum with 2 of 5 heard since the pause")
	}
	roundTrip("n3", at(3015), at(3025))
	if !m.quorum(m.view()) {
		t.Fatal("no quorum with 3 of 5 heard since the pause")
	}
	if u := m.quorumUntil(at(3025)); !u.Equal(at(3012).Add(100 * time.Millisecond)) {
		t.Fatalf("quorum until %v, want the older of the two round trips' sending + SuspectAfter", u)
	}
	// The peers not heard since are declared down SuspectAfter after the
	// pause, not at once.
	var down []change
	for ms := 3020; ms <= 3120; ms += 10 { // ticks every HeartbeatInterval
		e := m.tick(at(ms))
		if ms <= 3110 && len(e.changes) > 0 {
			t.Fatalf("changes %+v %dms after the pause", e.changes, ms-3010)
		}
		down = append(down, e.changes...)
	}
	if len(down) != 2 {
		t.Fatalf("changes %+v: want n4 and n5 down SuspectAfter after the pause", down)
	}
}

// A restarted peer numbers its heartbeats from 1 again: what it echoes must
// be taken from the new run, or it would never count for the leases'
// quorum after this node paused (seen in the chaos suite: 40 s without a
// consensus leader after a restarted node was frozen).
func TestMembershipRestartedPeerSeq(t *testing.T) {
	m := testMembership("n1")
	t0 := time.Unix(0, 0)
	h := hb("n2", 1, false)
	h.Seq = 500
	m.heartbeat(h, t0)
	if m.ackFor("n2") != 500 {
		t.Fatalf("ack %d, want 500", m.ackFor("n2"))
	}
	h = hb("n2", 2, false) // restarted
	h.Seq = 1
	m.heartbeat(h, t0.Add(time.Second))
	if m.ackFor("n2") != 1 {
		t.Fatalf("ack %d after the restart, want 1 (the new run's)", m.ackFor("n2"))
	}
}

// TestMembershipRestartIsTold: a node learns from its peers' heartbeats
// whether it restarts a process the cluster knew at its address, whether the
// peer heard the new incarnation yet or not; a first start learns nothing;
// peers tell a restarted node the incarnation it replaced.
func TestMembershipRestartIsTold(t *testing.T) {
	now := time.Unix(0, 0)
	tests := []struct {
		name           string
		known, replace uint64
		want           bool
	}{
		{"first start: the peer knows nothing of it", 0, 0, false},
		{"the peer already heard this incarnation, and nothing before", 1, 0, false},
		{"the peer still holds the old incarnation", 7, 0, true},
		{"the peer heard this one, which replaced another", 1, 7, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMembership("n1")
			h := hb("n2", 1, false)
			h.KnownIncarnation, h.ReplacedIncarnation = tt.known, tt.replace
			m.heartbeat(h, now)
			if m.restarted != tt.want {
				t.Fatalf("restarted = %v, want %v", m.restarted, tt.want)
			}
		})
	}

	// The peer's side: what it tells n2 before and after n2 restarts.
	m := testMembership("n1")
	m.heartbeat(hb("n2", 5, false), now)
	if k, r := m.incarnationsOf("n2"); k != 5 || r != 0 {
		t.Fatalf("first incarnation: told %d, %d; want 5, 0", k, r)
	}
	m.heartbeat(hb("n2", 9, false), now.Add(time.Second))
	if k, r := m.incarnationsOf("n2"); k != 9 || r != 5 {
		t.Fatalf("after the restart: told %d, %d; want 9, 5", k, r)
	}
	if k, r := m.incarnationsOf("n3"); k != 0 || r != 0 {
		t.Fatalf("unknown node: told %d, %d; want 0, 0", k, r)
	}
}

// TestMembershipAloneIsNoMajority: a node that starts (or restarts, the
// chaos suite's case) while the peers discovery lists do not answer yet is
// not a majority of one: they count for the quorum before it hears them.
func TestMembershipAloneIsNoMajority(t *testing.T) {
	now := time.Unix(0, 0)
	m := testMembership("n3")
	m.discovered([]Peer{{Address: "n1"}, {Address: "n2"}, {Address: "n4"}, {Address: "n5"}}, now)
	if m.quorum(m.view()) {
		t.Fatalf("alone with 4 listed peers never heard: quorum")
	}
	if u := m.quorumUntil(now); !u.IsZero() {
		t.Fatalf("alone: leases may be granted until %v", u)
	}
	m.heartbeat(hb("n1", 1, false), now)
	if m.quorum(m.view()) {
		t.Fatalf("2 of 5: quorum")
	}
	m.heartbeat(hb("n2", 1, false), now)
	if !m.quorum(m.view()) {
		t.Fatalf("3 of 5: no quorum")
	}
	// A peer named alive by a live peer counts too.
	m.heartbeat(&boursepb.Heartbeat{Cluster: "c", Node: "n1", Address: "n1", Incarnation: 1, Peers: []string{"n6", "n7"}}, now)
	if m.quorum(m.view()) {
		t.Fatalf("3 of 7 (two gossiped, never heard): quorum")
	}
}

// Labels travel in heartbeats: a peer's labels are those of the first
// heartbeat of its incarnation (its configuration's, fixed for the run), a
// restart brings the new run's, and the view carries them.
func TestMembershipLabels(t *testing.T) {
	t0 := time.Unix(0, 0)
	m := testMembership("n1")
	m.self.Labels = map[string]string{"zone": "eu"}
	labelled := func(addr string, inc uint64, labels map[string]string) *boursepb.Heartbeat {
		h := hb(addr, inc, false)
		h.Labels = labels
		return h
	}
	sent := map[string]string{"zone": "us", "disk": "ssd"}
	e := m.heartbeat(labelled("n2", 1, sent), t0)
	if len(e.changes) != 1 || !e.changes[0].up || !maps.Equal(e.changes[0].member.Labels, sent) {
		t.Fatalf("first heartbeat: changes %+v, want n2 up with labels %v", e.changes, sent)
	}
	sent["zone"] = "changed" // the membership keeps a copy of its own
	m.heartbeat(labelled("n3", 1, nil), t0)
	// A later heartbeat of the same run cannot change them.
	m.heartbeat(labelled("n2", 1, map[string]string{"zone": "mars"}), t0.Add(10*time.Millisecond))
	got := map[string]map[string]string{}
	for _, mb := range m.view() {
		got[mb.Node] = mb.Labels
	}
	want := map[string]map[string]string{"n1": {"zone": "eu"}, "n2": {"zone": "us", "disk": "ssd"}, "n3": nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("view labels %v, want %v", got, want)
	}
	// A restart: down of the old run, up of the new with its labels; the
	// view after the down (undo) is found by identity, whatever the labels.
	e = m.heartbeat(labelled("n2", 2, map[string]string{"zone": "ap"}), t0.Add(20*time.Millisecond))
	if len(e.changes) != 2 || e.changes[0].up || !e.changes[1].up || e.changes[1].member.Labels["zone"] != "ap" {
		t.Fatalf("restart: changes %+v, want n2#1 down then n2#2 up with zone=ap", e.changes)
	}
	after := m.view()
	before := undo(after, e.changes[1])
	if len(before) != 2 || slices.ContainsFunc(before, func(mb Member) bool { return mb.Node == "n2" }) {
		t.Errorf("undo of n2#2's up from %v = %v, want n1 and n3", viewNames(after), viewNames(before))
	}
}

func viewNames(ms []Member) []string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = fmt.Sprintf("%s#%d", m.Node, m.Incarnation)
	}
	return s
}

// A node that restarts on another address counts once for the quorum: its
// old address, which discovery may still list, no longer counts once the
// node's name is alive elsewhere (TestDeploySingletonSurvivesKill found
// it: after three restarts on new ports, 3 live nodes of 4 had no
// majority).
func TestMembershipRestartOnNewAddressCountsOnce(t *testing.T) {
	t0 := time.Unix(0, 0)
	m := testMembership("a")
	named := func(node, addr string, inc uint64) *boursepb.Heartbeat {
		return &boursepb.Heartbeat{Cluster: "c", Node: node, Address: addr, Incarnation: inc}
	}
	m.discovered([]Peer{{Address: "b0"}, {Address: "c0"}, {Address: "d0"}}, t0)
	for _, p := range []string{"b", "c", "d"} {
		m.heartbeat(named(p, p+"0", 1), t0)
	}
	if got := len(m.counted()); got != 4 {
		t.Fatalf("4 nodes: %d counted", got)
	}
	// b, c and d each die and come back on new addresses; discovery still
	// lists the old ones.
	at := t0
	for _, p := range []string{"b", "c", "d"} {
		at = at.Add(10 * time.Millisecond)
		m.endpointTerminated(p+"0", at)
		m.probed(probeReq{addr: p + "0", verify: true}, false, at)
		m.heartbeat(named(p, p+"1", 2), at)
	}
	for range 5 { // keep the new ones alive past the old ones' suspicion
		at = at.Add(50 * time.Millisecond)
		for _, p := range []string{"b", "c", "d"} {
			m.heartbeat(named(p, p+"1", 2), at)
		}
		m.tick(at)
	}
	if got := m.counted(); len(got) != 4 {
		t.Errorf("after 3 restarts on new addresses: counted %v, want 4 addresses", got)
	}
	if !m.quorum(m.view()) {
		t.Errorf("4 live nodes of 4: no quorum")
	}
	// One of them dies for good: 3 of 4 is still a majority.
	at = at.Add(10 * time.Millisecond)
	m.endpointTerminated("d1", at)
	m.probed(probeReq{addr: "d1", verify: true}, false, at)
	if got := m.counted(); len(got) != 4 || !m.quorum(m.view()) {
		t.Errorf("3 live nodes of 4: counted %v, quorum %v", got, m.quorum(m.view()))
	}
}
