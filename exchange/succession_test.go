package exchange

import (
	"testing"
	"time"
)

// TestSuccession drives the leader-succession rules through event sequences,
// including those the chaos suite and issue 11 found: a frozen leader that
// resumes, a leader's node cut off, a relocation of the authority while the
// leader lives, a quorum lost and regained.
func TestSuccession(t *testing.T) {
	const lease = 100 * time.Millisecond
	wait := leaseWait(lease)
	ms := time.Millisecond

	type step struct {
		at      time.Duration
		do      string // start, appoint, grant, remove, removeDead, quorum, noquorum
		id      string // connection, or prev leader for start
		conn    bool   // start: prev still connected
		dead    bool   // start: prev's node known dead
		want    string // leader after the step
		retryAt time.Duration
		granted bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first handler is appointed at once", []step{
			{at: 0, do: "start", want: ""},
			{at: 0, do: "appoint", id: "a", want: "a"},
			{at: 10 * ms, do: "grant", id: "a", want: "a", granted: true},
			{at: 10 * ms, do: "grant", id: "b", want: "a", granted: false},
		}},
		{"leader that disconnected is replaced at once", []step{
			{at: 0, do: "appoint", id: "a", want: "a"},
			{at: 50 * ms, do: "grant", id: "a", want: "a", granted: true},
			{at: 60 * ms, do: "removeDead", id: "a", want: ""},
			{at: 60 * ms, do: "appoint", id: "b", want: "b"},
		}},
		{"silent leader is replaced only after its last lease surely ran out", []step{
			{at: 0, do: "appoint", id: "a", want: "a"},
			{at: 50 * ms, do: "grant", id: "a", want: "a", granted: true},
			{at: 70 * ms, do: "remove", id: "a", want: ""},
			{at: 70 * ms, do: "appoint", id: "b", want: "", retryAt: 50*ms + wait},
			{at: 50*ms + wait - 1, do: "appoint", id: "b", want: "", retryAt: 50*ms + wait},
			{at: 50*ms + wait, do: "appoint", id: "b", want: "b"},
		}},
		{"silent leader declared down after its lease ran out: no wait", []step{
			{at: 0, do: "appoint", id: "a", want: "a"},
			{at: 10 * ms, do: "grant", id: "a", want: "a", granted: true},
			{at: 500 * ms, do: "remove", id: "a", want: ""},
			{at: 500 * ms, do: "appoint", id: "b", want: "b"},
		}},
		{"frozen leader resumes and asks again: refused, the successor stays", []step{
			{at: 0, do: "appoint", id: "a", want: "a"},
			{at: 10 * ms, do: "grant", id: "a", want: "a", granted: true},
			{at: 500 * ms, do: "remove", id: "a", want: ""},
			{at: 500 * ms, do: "appoint", id: "b", want: "b"},
			// a's node resumes; its handler reconnects as a newcomer (or its
			// old connection comes back through a re-attach): b stays.
			{at: 3 * time.Second, do: "grant", id: "a", want: "b", granted: false},
			{at: 3 * time.Second, do: "appoint", id: "a", want: "b"},
		}},
		{"new authority keeps the reported leader while it is connected", []step{
			{at: 0, do: "start", id: "a", conn: true, want: "a"},
			{at: 0, do: "appoint", id: "b", want: "a"},
			{at: 1 * ms, do: "grant", id: "a", want: "a", granted: true},
		}},
		{"kept leader silent early: the retiring predecessor's grants are waited out", []step{
			{at: 1000 * ms, do: "start", id: "a", conn: true, want: "a"},
			{at: 1010 * ms, do: "remove", id: "a", want: ""},
			{at: 1010 * ms, do: "appoint", id: "b", want: "", retryAt: 1000*ms + lease + wait},
			{at: 1000*ms + lease + wait, do: "appoint", id: "b", want: "b"},
		}},
		{"new authority waits out a lost leader's possible lease", []step{
			{at: 1000 * ms, do: "start", id: "a", conn: false, want: ""},
			{at: 1000 * ms, do: "appoint", id: "b", want: "", retryAt: 1000*ms + lease + wait},
			{at: 1000*ms + lease + wait, do: "appoint", id: "b", want: "b"},
		}},
		{"new authority appoints at once when the lost leader's node is known dead", []step{
			{at: 1000 * ms, do: "start", id: "a", conn: false, dead: true, want: ""},
			{at: 1000 * ms, do: "appoint", id: "b", want: "b"},
		}},
		{"new authority without a quorum names nobody, not even the reported leader", []step{
			// seed 20261202: a node cut off alone rebuilt its authority
			// and named its own handler, as if it still led.
			{at: 0, do: "noquorum", want: ""},
			{at: 1000 * ms, do: "start", id: "a", conn: true, want: ""},
			{at: 1000 * ms, do: "appoint", id: "a", want: ""},
			{at: 1000 * ms, do: "grant", id: "a", want: "", granted: false},
			{at: 1100 * ms, do: "quorum", want: ""},
			{at: 1100 * ms, do: "appoint", id: "a", want: "", retryAt: 1000*ms + lease + wait},
			{at: 1000*ms + lease + wait, do: "appoint", id: "a", want: "a"},
		}},
		{"no quorum: no leader, no grant; the lease is waited out after", []step{
			{at: 0, do: "appoint", id: "a", want: "a"},
			{at: 20 * ms, do: "grant", id: "a", want: "a", granted: true},
			{at: 30 * ms, do: "noquorum", want: ""},
			{at: 40 * ms, do: "grant", id: "a", want: "", granted: false},
			{at: 40 * ms, do: "appoint", id: "a", want: ""},
			{at: 50 * ms, do: "quorum", want: ""},
			{at: 50 * ms, do: "appoint", id: "a", want: "", retryAt: 20*ms + wait},
			{at: 20*ms + wait, do: "appoint", id: "a", want: "a"},
		}},
		{"removing another handler changes nothing", []step{
			{at: 0, do: "appoint", id: "a", want: "a"},
			{at: 10 * ms, do: "remove", id: "b", want: "a"},
			{at: 10 * ms, do: "removeDead", id: "c", want: "a"},
		}},
		{"nobody connected: nobody appointed", []step{
			{at: 0, do: "appoint", id: "", want: ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := succession{wait: wait, lease: lease, quorum: true}
			for i, st := range tt.steps {
				switch st.do {
				case "start":
					s.start(st.at, st.id, st.conn, st.dead)
				case "appoint":
					_, retry := s.appoint(st.at, st.id)
					if retry != st.retryAt {
						t.Fatalf("step %d (%s at %v): retry at %v, want %v", i, st.do, st.at, retry, st.retryAt)
					}
				case "grant":
					if g := s.grant(st.id, st.at); g != st.granted {
						t.Fatalf("step %d (grant %s at %v): granted %v, want %v", i, st.id, st.at, g, st.granted)
					}
				case "remove":
					s.removed(st.id, false)
				case "removeDead":
					s.removed(st.id, true)
				case "quorum":
					s.setQuorum(true)
				case "noquorum":
					s.setQuorum(false)
				default:
					t.Fatalf("unknown step %q", st.do)
				}
				if s.leader != st.want {
					t.Fatalf("step %d (%s %s at %v): leader %q, want %q", i, st.do, st.id, st.at, s.leader, st.want)
				}
			}
		})
	}
}

// TestReports: a rebuilt authority keeps the leader of the newest table,
// whatever order the nodes' reports come in.
func TestReports(t *testing.T) {
	type rep struct {
		term, epoch uint64
		leader      string
	}
	tests := []struct {
		name       string
		reps       []rep
		term       uint64
		wantLeader string
	}{
		{"none", nil, 0, ""},
		{"newest term wins", []rep{{3, 10, "a"}, {4, 2, "b"}, {2, 50, "c"}}, 4, "b"},
		{"newest term without a leader wins over an older term's", []rep{{3, 10, "a"}, {4, 2, ""}}, 4, ""},
		// seed 20261202: the returning node's own report came first and
		// named its stale leader; the majority's tables of the same term
		// are newer.
		{"same term: the newest epoch's leader, own stale report first", []rep{{40, 324, "old"}, {40, 331, "new"}, {40, 330, "new"}}, 40, "new"},
		{"same term: order does not matter", []rep{{40, 331, "new"}, {40, 324, "old"}}, 40, "new"},
		{"same term: a table naming nobody does not hide one that names a leader", []rep{{40, 400, ""}, {40, 331, "new"}}, 40, "new"},
		{"same term: a leader after nobody", []rep{{40, 331, "new"}, {40, 400, ""}}, 40, "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r reports
			for _, x := range tt.reps {
				r.add(x.term, x.epoch, x.leader)
			}
			if r.term != tt.term || r.leader != tt.wantLeader {
				t.Fatalf("term %d leader %q, want %d %q", r.term, r.leader, tt.term, tt.wantLeader)
			}
		})
	}
}
