//go:build chaos

package chaos

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// result is one invariant's verdict and figures.
type result struct {
	N       int            `json:"n"`
	Name    string         `json:"name"`
	OK      bool           `json:"ok"`
	Line    string         `json:"line"`
	Figures map[string]any `json:"figures"`
	// Evidence, printed under the line, is what a violation's cause may be
	// read from (the reports of the processes involved around it).
	Evidence []string `json:"evidence,omitempty"`
}

func (res result) String() string {
	verdict := "ok"
	if !res.OK {
		verdict = "FAIL"
	}
	s := fmt.Sprintf("invariant %d %s: %s: %s", res.N, res.Name, res.Line, verdict)
	for _, e := range res.Evidence {
		s += "\n    " + e
	}
	return s
}

// faultSpan is a fault as it happened: what and when.
type faultSpan struct {
	span
	kind  string
	label string
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// pct returns the q-quantile of sorted ds (nearest rank).
func pct(ds []int64, q float64) int64 {
	if len(ds) == 0 {
		return 0
	}
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// checkRequestsFinal is invariant 1: no request waits out its deadline while
// a live handler exists. Every node serves both exchanges, so a live handler
// exists whenever the caller itself runs: the only excuses are the caller
// being frozen, cut off, or on a minority side during the request.
func (r *run) checkRequestsFinal() result {
	durs := map[string][]int64{}
	waited := map[string]int{}
	var ok, failed, dropped, excused int
	var examples []string
	for _, p := range r.procs {
		for _, ev := range p.reqs {
			ok += ev.OK
			for _, n := range ev.Errs {
				failed += n
			}
			dropped += ev.Dropped
			for _, f := range ev.Fails {
				// A frozen caller's clock runs on while it cannot act:
				// its times say nothing of the framework.
				if !r.frozenDuring(p, f.S, f.S+f.D) {
					durs[f.C] = append(durs[f.C], f.D)
				}
				if !f.F {
					continue
				}
				if r.excused(p, f.S, f.S+f.D) {
					excused++
					continue
				}
				waited[ev.Ex]++
				ex := fmt.Sprintf("%s %s at ~%s (%s)", ev.Ex, p.label, r.off(f.S-f.S%int64(100*time.Millisecond)), f.C)
				if len(examples) < 5 && !slices.Contains(examples, ex) {
					examples = append(examples, ex)
				}
			}
		}
	}
	fig := map[string]any{"ok": ok, "failed": failed, "unlisted_failures": dropped,
		"waited_out_deadline_rr": waited["rr"], "waited_out_deadline_lead": waited["lead"], "excused": excused}
	var classes []string
	for _, c := range slices.Sorted(maps.Keys(durs)) {
		ds := durs[c]
		slices.Sort(ds)
		p50, p99, mx := pct(ds, .5), pct(ds, .99), ds[len(ds)-1]
		classes = append(classes, fmt.Sprintf("%s n=%d p50=%.1fms p99=%.1fms max=%.1fms", c, len(ds), ms(p50), ms(p99), ms(mx)))
		fig["ttf_"+c] = map[string]any{"n": len(ds), "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(mx)}
	}
	if len(classes) == 0 {
		classes = []string{"none"}
	}
	line := fmt.Sprintf("requests: %d ok, %d failed; time to fail (callers not frozen meanwhile): %s; waited out deadline while a live handler existed: %d (rr %d, lead %d; excused as frozen/cut off/minority: %d)",
		ok, failed, strings.Join(classes, "; "), waited["rr"]+waited["lead"], waited["rr"], waited["lead"], excused)
	line += "; " + r.killDetection(fig)
	if len(examples) > 0 {
		line += "; first: " + strings.Join(examples, ", ")
	}
	return result{N: 1, Name: "requests", OK: waited["rr"]+waited["lead"] == 0, Line: line, Figures: fig}
}

// maxCleanGap is the longest the observer may go without a successful "rr"
// reply while no freeze of the leader or partition is under way: a dead
// handler is found within SuspectAfter, so twice that is plenty.
func (r *run) maxCleanGap() time.Duration { return 2 * r.cfgs[0].suspect }

// disruptions are the faults that may stop the observer's replies: freezes
// of the lead leader and partitions, each until a second after it ended.
func (r *run) disruptions(faults []faultSpan) []span {
	var ss []span
	for _, f := range faults {
		if f.kind == faultFreezeLeader || f.kind == faultIsolate || f.kind == faultSplit {
			ss = append(ss, span{f.from, f.to + int64(time.Second)})
		}
	}
	return ss
}

// stillnesses are every freeze and partition, each until a second after
// it ended: outside them, only kills (and the load) may stop replies.
func (r *run) stillnesses(faults []faultSpan) []span {
	var ss []span
	for _, f := range faults {
		if f.kind == faultFreeze || f.kind == faultFreezeLeader || f.kind == faultIsolate || f.kind == faultSplit {
			ss = append(ss, span{f.from, f.to + int64(time.Second)})
		}
	}
	return ss
}

// checkAvailability is invariant 2.
func (r *run) checkAvailability(faults []faultSpan) result {
	fig := map[string]any{}
	var parts []string
	okAll := true
	dis := r.disruptions(faults)
	still := r.stillnesses(faults)
	for _, ex := range []string{"rr", "lead"} {
		var ok, failed int
		type okb struct{ first, last int64 }
		var obs []okb
		for _, p := range r.procs {
			for _, ev := range p.reqs {
				if ev.Ex != ex {
					continue
				}
				ok += ev.OK
				for _, n := range ev.Errs {
					failed += n
				}
				if p.node == 0 && ev.OK > 0 {
					obs = append(obs, okb{ev.First, ev.Last})
				}
			}
		}
		slices.SortFunc(obs, func(a, b okb) int { return cmp.Compare(a.first, b.first) })
		var clean, during, killsOnly span
		prev := r.loadStart
		for i := 0; i <= len(obs); i++ {
			next := r.loadEnd
			if i < len(obs) {
				next = obs[i].first
			}
			w := span{prev, next}
			if w.to-w.from > 0 {
				hit := slices.ContainsFunc(dis, func(d span) bool { return d.overlaps(w.from, w.to) })
				if hit && w.to-w.from > during.to-during.from {
					during = w
				}
				if !hit && w.to-w.from > clean.to-clean.from {
					clean = w
				}
				if !slices.ContainsFunc(still, func(d span) bool { return d.overlaps(w.from, w.to) }) && w.to-w.from > killsOnly.to-killsOnly.from {
					killsOnly = w
				}
			}
			if i < len(obs) {
				prev = max(prev, obs[i].last)
			}
		}
		frac := 0.0
		if ok+failed > 0 {
			frac = float64(ok) / float64(ok+failed)
		}
		at := func(s span) string {
			if s.to == 0 {
				return ""
			}
			return " at " + r.off(s.from)
		}
		parts = append(parts, fmt.Sprintf("%s %.4f ok; observer's longest window without a reply: %.0fms%s outside freezes of the leader/partitions, %.0fms%s during them, %.0fms%s outside every freeze and partition (kills and quiet time)",
			ex, frac, ms(clean.to-clean.from), at(clean), ms(during.to-during.from), at(during), ms(killsOnly.to-killsOnly.from), at(killsOnly)))
		fig[ex] = map[string]any{"ok_fraction": frac, "ok": ok, "failed": failed,
			"observer_gap_clean_ms": ms(clean.to - clean.from), "observer_gap_during_faults_ms": ms(during.to - during.from),
			"observer_gap_outside_freezes_and_partitions_ms": ms(killsOnly.to - killsOnly.from)}
		if ex == "rr" && time.Duration(clean.to-clean.from) > r.maxCleanGap() {
			okAll = false
		}
	}
	line := strings.Join(parts, "; ") + fmt.Sprintf(" (limit for rr outside faults: %v)", r.maxCleanGap())
	return result{N: 2, Name: "availability", OK: okAll, Line: line, Figures: fig}
}

// interval is a time a process acted as leader while it ran.
type interval struct {
	p        *proc
	from, to int64
}

// leaderIntervals builds, from each process's reports and the parent's
// record of freezes and kills, when it acted as leader of ex while running.
// A freeze ends an interval; after SIGCONT the process acts again only once
// it says so (its resume report).
func (r *run) leaderIntervals(ex string) []interval {
	const (
		kLead = iota
		kFreeze
		kThaw
	)
	type tev struct {
		t    int64
		kind int
		is   bool
	}
	var out []interval
	for _, p := range r.procs {
		var evs []tev
		for _, ev := range p.leads {
			if ev.E == evLead && ev.Ex == ex {
				evs = append(evs, tev{ev.T, kLead, ev.Is})
			}
		}
		for _, f := range p.freezes {
			evs = append(evs, tev{f.from, kFreeze, false})
			if f.to != 0 {
				evs = append(evs, tev{f.to, kThaw, false})
			}
		}
		// At one instant the freeze comes first: it may not begin an interval.
		slices.SortStableFunc(evs, func(a, b tev) int {
			return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(b.kind, a.kind))
		})
		end := p.ended
		if end == 0 {
			end = r.stopped
		}
		open, running := int64(-1), true
		for _, e := range evs {
			if e.t > end {
				break
			}
			switch e.kind {
			case kLead:
				if e.is && running && open < 0 {
					open = e.t
				} else if !e.is && open >= 0 {
					out = append(out, interval{p, open, e.t})
					open = -1
				}
			case kFreeze:
				if open >= 0 {
					out = append(out, interval{p, open, e.t})
					open = -1
				}
				running = false
			case kThaw:
				running = true
			}
		}
		if open >= 0 {
			out = append(out, interval{p, open, end})
		}
	}
	return out
}

// overlap is a time with more than one leader.
type overlap struct {
	span
	who []string
}

// checkLeaders is invariant 3: at most one leader at any instant.
func (r *run) checkLeaders(faults []faultSpan) result {
	fig := map[string]any{}
	var parts, evidence []string
	okAll := true
	// "single" is the deployed cluster singleton: its instance reports
	// when it may start acting and when it stops, as a leader does.
	for _, ex := range []string{"lead", "rr", singleService} {
		ivs := r.leaderIntervals(ex)
		type point struct {
			t     int64
			delta int
			i     int
		}
		var pts []point
		// Only the load counts: while the cluster forms, each node leads
		// its own world until it hears of the others.
		for i, iv := range ivs {
			iv.from, iv.to = max(iv.from, r.loadStart), min(iv.to, r.loadEnd)
			if iv.to > iv.from {
				pts = append(pts, point{iv.from, 1, i}, point{iv.to, -1, i})
			}
		}
		// Ends before starts at one instant: a handover is not an overlap.
		slices.SortFunc(pts, func(a, b point) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.delta, b.delta)) })
		open := map[int]bool{}
		var ovs []overlap
		var total, longestNone int64
		var noneAt int64
		var cur *overlap
		lastZero := r.loadStart
		for _, pt := range pts {
			before := len(open)
			if pt.delta > 0 {
				open[pt.i] = true
			} else {
				delete(open, pt.i)
			}
			after := len(open)
			if before < 2 && after >= 2 {
				cur = &overlap{span: span{from: pt.t}}
			}
			if cur != nil {
				for i := range open {
					if !slices.Contains(cur.who, ivs[i].p.label) {
						cur.who = append(cur.who, ivs[i].p.label)
					}
				}
			}
			if before >= 2 && after < 2 {
				cur.to = pt.t
				total += cur.to - cur.from
				ovs = append(ovs, *cur)
				cur = nil
			}
			if before == 0 && after > 0 {
				// a window without leader ends; count only its part in the load
				from, to := max(lastZero, r.loadStart), min(pt.t, r.loadEnd)
				if to-from > longestNone {
					longestNone, noneAt = to-from, from
				}
			}
			if after == 0 {
				lastZero = pt.t
			}
		}
		if len(open) == 0 && r.loadEnd-max(lastZero, r.loadStart) > longestNone {
			longestNone, noneAt = r.loadEnd-max(lastZero, r.loadStart), max(lastZero, r.loadStart)
		}
		var duringPart, duringFreeze, other int
		for _, o := range ovs {
			switch {
			case slices.ContainsFunc(faults, func(f faultSpan) bool {
				return (f.kind == faultIsolate || f.kind == faultSplit) && o.overlaps(f.from, f.to+int64(time.Second))
			}):
				duringPart++
			case slices.ContainsFunc(faults, func(f faultSpan) bool {
				return (f.kind == faultFreeze || f.kind == faultFreezeLeader) && o.overlaps(f.from, f.to+int64(time.Second))
			}):
				duringFreeze++
			default:
				other++
			}
		}
		slices.SortFunc(ovs, func(a, b overlap) int { return cmp.Compare(b.to-b.from, a.to-a.from) })
		var worst []string
		for _, o := range ovs[:min(3, len(ovs))] {
			slices.Sort(o.who)
			worst = append(worst, fmt.Sprintf("%.0fms at %s (%s)", ms(o.to-o.from), r.off(o.from), strings.Join(o.who, "+")))
			evidence = append(evidence, r.leadEvidence(ex, o)...)
		}
		s := fmt.Sprintf("%s: %d intervals, overlaps %d totalling %.0fms (during partitions %d, after freezes %d, otherwise %d), longest without leader %.0fms",
			ex, len(ivs), len(ovs), ms(total), duringPart, duringFreeze, other, ms(longestNone))
		if longestNone > 0 {
			s += " at " + r.off(noneAt)
		}
		if len(worst) > 0 {
			s += "; longest overlaps: " + strings.Join(worst, ", ")
		}
		parts = append(parts, s)
		fig[ex] = map[string]any{"intervals": len(ivs), "overlaps": len(ovs), "overlap_ms": ms(total),
			"overlaps_during_partitions": duringPart, "overlaps_after_freezes": duringFreeze, "overlaps_otherwise": other,
			"longest_without_leader_ms": ms(longestNone)}
		if len(ovs) > 0 {
			okAll = false
		}
	}
	return result{N: 3, Name: "one leader", OK: okAll, Line: strings.Join(parts, "; "), Figures: fig, Evidence: evidence}
}

// leadEvidence lists, for an overlap of leaders of ex, what each process
// involved reported of its leadership from 5 s before the earliest start of
// their intervals in it to 1 s after it, with their freezes and the faults
// applied meanwhile: a run without -chaos.log keeps nothing else of it.
func (r *run) leadEvidence(ex string, o overlap) []string {
	from, to := o.from, o.to+int64(time.Second)
	for _, iv := range r.leaderIntervals(ex) {
		if slices.Contains(o.who, iv.p.label) && iv.from <= o.to && iv.to >= o.from {
			from = min(from, iv.from)
		}
	}
	from -= int64(5 * time.Second)
	out := []string{fmt.Sprintf("overlap of %s leaders %s..%s (%s):", ex, r.off(o.from), r.off(o.to), strings.Join(o.who, "+"))}
	for _, p := range r.procs {
		if !slices.Contains(o.who, p.label) {
			continue
		}
		var evs []string
		for _, ev := range p.leads {
			if ev.T < from || ev.T > to || (ev.E == evLead && ev.Ex != ex) {
				continue
			}
			if ev.E == evResume {
				evs = append(evs, fmt.Sprintf("%s resumed after %.0fms", r.off(ev.T), ms(ev.Gap)))
				continue
			}
			evs = append(evs, fmt.Sprintf("%s leads=%v (%s)", r.off(ev.T), ev.Is, ev.Src))
		}
		for _, f := range p.freezes {
			if f.to >= from && f.from <= to {
				evs = append(evs, fmt.Sprintf("frozen %s..%s", r.off(f.from), r.off(f.to)))
			}
		}
		out = append(out, fmt.Sprintf("  %s: %s", p.label, strings.Join(evs, "; ")))
	}
	for _, f := range r.faults {
		if f.to >= from && f.from <= to {
			out = append(out, fmt.Sprintf("  fault %s %s..%s: %s", f.kind, r.off(f.from), r.off(f.to), f.label))
		}
	}
	return out
}

// checkPublications is invariant 4: no publication lost, duplicated or
// reordered on a healthy path. A gap is a loss only if neither end was
// frozen and no partition cut them apart between the publication of the
// message before it and the receipt of the one after.
func (r *run) checkPublications() result {
	pubs := map[string]*proc{}
	for _, p := range r.procs {
		pubs[fmt.Sprintf("pub.n%d.%d", p.node+1, p.inc)] = p
	}
	type gap struct {
		key      string
		from, to uint64
		t0, t1   int64
		lost     uint64
	}
	var streams, receipts, dups, lates, latesFaulted, gapSeqs, lostHealthy, lostEpisodes, excusedSeqs, starvedSeqs, tail uint64
	var examples, lossExamples []string
	for _, sub := range r.procs {
		var gaps []*gap
		for _, ev := range sub.anomalies {
			switch ev.E {
			case evGap:
				gaps = append(gaps, &gap{ev.Key, ev.From, ev.To, ev.T0, ev.T, ev.To - ev.From + 1})
			case evDup:
				dups++
				if len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("dup %s #%d at %s on %s", ev.Key, ev.From, r.off(ev.T), sub.label))
				}
			case evLate:
				lates++
				if pub := pubs[ev.Key]; pub == nil || r.frozenDuring(pub, ev.T0, ev.T) || r.frozenDuring(sub, ev.T0, ev.T) ||
					r.cutOff(pub.node, sub.node, ev.T0, ev.T) {
					latesFaulted++
				}
				if len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("reordered %s #%d at %s on %s", ev.Key, ev.From, r.off(ev.T), sub.label))
				}
				for _, g := range gaps {
					if g.key == ev.Key && g.from <= ev.From && ev.From <= g.to {
						g.lost--
						break
					}
				}
			}
		}
		for _, g := range gaps {
			gapSeqs += g.to - g.from + 1
			if g.lost == 0 {
				continue
			}
			pub := pubs[g.key]
			healthy := pub != nil && !r.frozenDuring(pub, g.t0, g.t1) && !r.frozenDuring(sub, g.t0, g.t1) &&
				!r.cutOff(pub.node, sub.node, g.t0, g.t1)
			if !healthy {
				excusedSeqs += g.lost
				continue
			}
			if pub != nil && (r.declaredDown(pub, sub, g.t0, g.t1) || r.declaredDown(sub, pub, g.t0, g.t1)) {
				// One end's node declared the other down (it did not
				// run for SuspectAfter: starved of CPU): publications
				// to a node that is down are dropped, at most once.
				starvedSeqs += g.lost
				continue
			}
			lostHealthy += g.lost
			lostEpisodes++
			if len(lossExamples) < 5 {
				lossExamples = append(lossExamples, fmt.Sprintf("lost %s #%d-%d on %s between %s and %s", g.key, g.from, g.to, sub.label, r.off(g.t0), r.off(g.t1)))
			}
		}
		for key, st := range sub.streams {
			streams++
			receipts += st.N
			// The end of the run is fault-free: a stream both ends of
			// which ran to the end must have arrived whole.
			pub := pubs[key]
			if pub != nil && pub.pubs != nil && !pub.killed && !sub.killed && st.To < pub.pubs.To {
				tail += pub.pubs.To - st.To
				if len(lossExamples) < 5 {
					lossExamples = append(lossExamples, fmt.Sprintf("%s on %s ends at #%d of %d", key, sub.label, st.To, pub.pubs.To))
				}
			}
		}
	}
	line := fmt.Sprintf("publications: %d streams, %d receipts; gaps %d seqs (excused as frozen/cut off: %d; as declared down, starved: %d); lost on healthy paths: %d in %d gaps, %d at streams' ends; duplicated %d; reordered %d (%d of them in flight across a fault of an end)",
		streams, receipts, gapSeqs, excusedSeqs, starvedSeqs, lostHealthy, lostEpisodes, tail, dups, lates, latesFaulted)
	examples = append(lossExamples, examples[:min(len(examples), max(2, 5-len(lossExamples)))]...)
	if len(examples) > 0 {
		line += "; first: " + strings.Join(examples, ", ")
	}
	fig := map[string]any{"streams": streams, "receipts": receipts, "gap_seqs": gapSeqs, "excused_seqs": excusedSeqs, "declared_down_seqs": starvedSeqs,
		"lost_healthy": lostHealthy, "lost_healthy_gaps": lostEpisodes, "lost_tail": tail, "duplicates": dups, "reordered": lates, "reordered_across_faults": latesFaulted}
	return result{N: 4, Name: "publications", OK: lostHealthy+tail+dups+lates == 0, Line: line, Figures: fig}
}

// declaredDown reports whether obs's node held peer's incarnation down at
// some time in [from, to] (by its membership events).
func (r *run) declaredDown(obs, peer *proc, from, to int64) bool {
	name := fmt.Sprintf("n%d", peer.node+1)
	var downAt int64 = -1
	for _, ev := range obs.members {
		if ev.Node != name || ev.Inc != peer.inc {
			continue
		}
		switch {
		case !ev.Is && downAt < 0:
			downAt = ev.T
		case ev.Is && downAt >= 0:
			if (span{from: downAt, to: ev.T}).overlaps(from, to) {
				return true
			}
			downAt = -1
		}
	}
	return downAt >= 0 && downAt <= to
}

func (r *run) frozenDuring(p *proc, from, to int64) bool {
	return slices.ContainsFunc(p.freezes, func(f span) bool { return f.overlaps(from, to) })
}

// viewKey renders a view for comparison.
func viewKey(v *view) string {
	if v == nil {
		return "no view"
	}
	return fmt.Sprintf("members=%s rr=%s lead=%s rrLeader=%s leadLeader=%s single=%s perNode=%s", strings.Join(v.Members, ","),
		strings.Join(v.RR, ","), strings.Join(v.Lead, ","), v.RRLeader, v.LeadLeader,
		strings.Join(v.Single, ","), strings.Join(v.PerNode, ","))
}

// agreement says whether every current process's view, reported after
// since, is complete and the same; and renders them.
func (r *run) agreement(since int64) (bool, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keys []string
	var first string
	same := true
	for i, p := range r.cur {
		v := p.view
		if p.viewT < since {
			v = nil
		}
		k := viewKey(v)
		if v == nil || len(v.Members) != r.nodes || len(v.RR) != r.nodes || len(v.Lead) != r.nodes || v.LeadLeader == "none" ||
			len(v.Single) != 1 || len(v.PerNode) != r.nodes {
			same = false
		}
		if i == 0 {
			first = k
		} else if k != first {
			same = false
		}
		keys = append(keys, p.label+": "+k)
	}
	return same, keys
}

// checkViews is invariant 5: after healing, all views agree within 5 s.
func (r *run) checkViews(limit time.Duration) result {
	start := mono()
	var keys []string
	for {
		asked := mono()
		r.send("view")
		time.Sleep(200 * time.Millisecond)
		var same bool
		same, keys = r.agreement(asked)
		if same {
			took := time.Duration(mono() - start)
			return result{N: 5, Name: "views agree", OK: true,
				Line:    fmt.Sprintf("all %d nodes agree within %v (limit %v): %s", r.nodes, took.Round(time.Millisecond), limit, keys[0]),
				Figures: map[string]any{"agreed_ms": ms(int64(took))}}
		}
		if time.Duration(mono()-start) > limit {
			return result{N: 5, Name: "views agree", OK: false,
				Line:    fmt.Sprintf("no agreement after %v: %s", limit, strings.Join(keys, " | ")),
				Figures: map[string]any{"agreed_ms": nil, "views": keys}}
		}
	}
}

// median of the stats of p within [from, to]: goroutines, live heap and
// heap in use.
func medianStats(p *proc, from, to int64) (g int, live, inuse uint64, n int) {
	var gs []int
	var ls, hs []uint64
	for _, s := range p.stats {
		if s.T >= from && s.T <= to {
			gs, ls, hs = append(gs, s.G), append(ls, s.Live), append(hs, s.Heap)
		}
	}
	if len(gs) == 0 {
		return 0, 0, 0, 0
	}
	sort.Ints(gs)
	slices.Sort(ls)
	slices.Sort(hs)
	return gs[len(gs)/2], ls[len(ls)/2], hs[len(hs)/2], len(gs)
}

// checkGrowth is invariant 6: each process that lived through the whole run
// has as many goroutines and as much live heap at the end as after the
// warm-up, within a tolerance: goroutines +25% +20, live heap +50% +8 MiB.
// Both are medians over 5 s of load, before the first fault and before the
// end. Heap in use is printed too.
func (r *run) checkGrowth() result {
	okAll := true
	var parts []string
	fig := map[string]any{}
	for _, p := range r.procs {
		if p.gen != 0 || p.killed {
			continue
		}
		g0, h0, u0, n0 := medianStats(p, r.loadStart+int64(warmup-5*time.Second), r.loadStart+int64(warmup))
		g1, h1, u1, n1 := medianStats(p, r.loadEnd-int64(5*time.Second), r.loadEnd)
		if n0 == 0 || n1 == 0 {
			parts = append(parts, p.label+" no samples")
			okAll = false
			continue
		}
		ok := float64(g1) <= 1.25*float64(g0)+20 && float64(h1) <= 1.5*float64(h0)+8<<20
		okAll = okAll && ok
		mark := ""
		if !ok {
			mark = " (grew)"
		}
		mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
		parts = append(parts, fmt.Sprintf("%s goroutines %d->%d live heap %.1f->%.1fMiB (in use %.0f->%.0fMiB)%s",
			p.label, g0, g1, mib(h0), mib(h1), mib(u0), mib(u1), mark))
		fig[p.label] = map[string]any{"goroutines_start": g0, "goroutines_end": g1, "live_heap_start": h0, "live_heap_end": h1,
			"heap_inuse_start": u0, "heap_inuse_end": u1}
	}
	return result{N: 6, Name: "no growth", OK: okAll, Line: strings.Join(parts, ", "), Figures: fig}
}

// stalls counts the times a process did not run for over 100 ms other than
// by SIGSTOP (its resume report comes long after any SIGCONT): CPU
// starvation, which makes the timing figures less telling.
func (r *run) stalls() (n int, longest int64) {
	for _, p := range r.procs {
		for _, ev := range p.leads {
			if ev.E != evResume {
				continue
			}
			if slices.ContainsFunc(p.freezes, func(f span) bool { return f.to != 0 && ev.T >= f.to && ev.T-f.to < int64(500*time.Millisecond) }) {
				continue
			}
			n++
			longest = max(longest, ev.Gap)
		}
	}
	return n, longest
}

// killDetection measures, for every kill -9, how long each other running
// node took to declare the killed node down (its MemberDown event), and
// adds the figures to fig.
func (r *run) killDetection(fig map[string]any) string {
	var lat, exits, after []int64
	missing := 0
	for _, p := range r.procs {
		if !p.killed || p.inc == 0 {
			continue
		}
		if p.exited > p.ended {
			exits = append(exits, p.exited-p.ended)
		}
		name, k := fmt.Sprintf("n%d", p.node+1), p.ended
		for _, q := range r.procs {
			if q == p || q.started > k || (q.ended != 0 && q.ended <= k) || r.frozenDuring(q, k, k+int64(time.Second)) {
				continue
			}
			found := false
			for _, ev := range q.members {
				if ev.Node == name && ev.Inc == p.inc && !ev.Is && ev.T >= k {
					lat = append(lat, ev.T-k)
					if p.exited > p.ended {
						after = append(after, max(ev.T-p.exited, 0))
					}
					found = true
					break
				}
			}
			if !found {
				missing++
			}
		}
	}
	if len(lat) == 0 {
		return fmt.Sprintf("kill -9 declared down: no kill observed (missing %d)", missing)
	}
	slices.Sort(lat)
	p50, p99, mx := pct(lat, .5), pct(lat, .99), lat[len(lat)-1]
	fig["kill_detection"] = map[string]any{"n": len(lat), "missing": missing, "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(mx)}
	line := fmt.Sprintf("kill -9 declared down by the other nodes: n=%d p50=%.1fms p99=%.1fms max=%.1fms (not seen: %d)", len(lat), ms(p50), ms(p99), ms(mx), missing)
	if len(exits) > 0 && len(after) > 0 {
		// The kernel closes a killed process's sockets only once it has
		// torn the process down (its memory first): nothing on another node
		// can see the kill before then.
		slices.Sort(exits)
		slices.Sort(after)
		fig["kill_exit"] = map[string]any{"p50_ms": ms(pct(exits, .5)), "p99_ms": ms(pct(exits, .99))}
		fig["kill_detection_after_exit"] = map[string]any{"p50_ms": ms(pct(after, .5)), "p99_ms": ms(pct(after, .99)), "max_ms": ms(after[len(after)-1])}
		line += fmt.Sprintf("; the killed process's files closed after p50=%.1fms p99=%.1fms, and it was declared down after that in p50=%.1fms p99=%.1fms max=%.1fms",
			ms(pct(exits, .5)), ms(pct(exits, .99)), ms(pct(after, .5)), ms(pct(after, .99)), ms(after[len(after)-1]))
	}
	return line
}
