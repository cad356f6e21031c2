//go:build chaos

package chaos

import (
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
