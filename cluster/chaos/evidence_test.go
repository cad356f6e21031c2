//go:build chaos

package chaos

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// TestLeadersOverlapEvidence: an overlap of two leaders fails invariant 3
// and comes with what both processes reported around it, so that a run
// without -chaos.log still tells how it came about (seed 20261202 once
// had 8.7 s of two leaders, and nothing else of it was kept).
func TestLeadersOverlapEvidence(t *testing.T) {
	s := int64(time.Second)
	r := &run{loadStart: 10 * s, loadEnd: 100 * s, stopped: 101 * s}
	a := &proc{label: "n2.0", leads: []event{
		{E: evLead, T: 20 * s, Ex: "lead", Is: true, Src: "poll"},
		{E: evResume, T: 29 * s, Gap: int64(150 * time.Millisecond)},
		{E: evLead, T: 40 * s, Ex: "lead", Is: false, Src: "poll"},
	}}
	b := &proc{label: "n4.4", leads: []event{
		{E: evLead, T: 30 * s, Ex: "lead", Is: true, Src: "poll"},
		{E: evLead, T: 50 * s, Ex: "lead", Is: false, Src: "poll"},
	}, freezes: []span{{from: 50 * s, to: 53 * s}}}
	c := &proc{label: "n1.0", leads: []event{{E: evLead, T: 60 * s, Ex: "lead", Is: true, Src: "poll"}}}
	r.procs = []*proc{a, b, c}
	r.faults = []faultSpan{{span: span{from: 26 * s, to: 27 * s}, kind: faultIsolate, label: "partition {n2}"}}
	res := r.checkLeaders(nil)
	if res.OK {
		t.Fatalf("two leaders from +20s to +30s passed: %s", res)
	}
	out := res.String()
	for _, want := range []string{
		"overlap of lead leaders +20.000s..+30.000s (n2.0+n4.4)",
		"n2.0: +10.000s leads=true (poll); +19.000s resumed after 150ms; +30.000s leads=false (poll)",
		"n4.4: +20.000s leads=true (poll)",
		"fault isolate +16.000s..+17.000s: partition {n2}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("evidence lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "n1.0:") {
		t.Errorf("evidence names a process not in the overlap:\n%s", out)
	}
}

// TestLeadershipOfOnePollCloses: a leadership that one poll alone saw
// (a lease of a few hundred microseconds, or one that ran out during the
// next millisecond) is reported with its stop no earlier than its start, so
// that the final check closes it. Its start used to be stamped when it was
// written, after the poll its stop is dated at: the stop sorted first, and
// the interval stayed open until the process's next stop, which made seed
// 20261202's 8.7 s of "two leaders" out of a 1 ms leadership.
func TestLeadershipOfOnePollCloses(t *testing.T) {
	var buf bytes.Buffer
	leading := false
	l := &leadership{ex: "lead", out: &emitter{w: &buf}}
	l.setPoll(func() bool { return leading })
	for _, step := range []bool{false, true, false, false, true, true, false} {
		leading = step
		l.pollOnce()
	}
	leading = true
	l.pollOnce()
	l.reaffirm() // resumed from a freeze, still leading for one more poll
	leading = false
	l.pollOnce()

	p := &proc{label: "n2.0"}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var ev event
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, linePrefix)), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		p.leads = append(p.leads, ev)
	}
	r := &run{loadStart: 1, loadEnd: math.MaxInt64 - 1, stopped: math.MaxInt64 - 1, procs: []*proc{p}}
	ivs := r.leaderIntervals("lead")
	if len(ivs) != 3 {
		t.Fatalf("%d intervals from %d reports, want 3: %+v", len(ivs), len(p.leads), p.leads)
	}
	for _, iv := range ivs {
		if iv.to < iv.from || iv.to-iv.from > int64(time.Second) {
			t.Errorf("interval %d..%d: a leadership of a few polls must close within them", iv.from, iv.to)
		}
	}
}
