//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Fault kinds.
const (
	faultKill         = "kill"          // kill -9 a node, restart it 2 s later
	faultFreezeLeader = "freeze-leader" // SIGSTOP the node of the "lead" leader for 3 s
	faultFreeze       = "freeze"        // SIGSTOP another node for 3 s
	faultIsolate      = "isolate"       // cut one node off for 3-5 s
	faultSplit        = "split"         // 2 nodes vs 3 for 5 s
)

var faultKinds = []string{faultKill, faultFreezeLeader, faultFreeze, faultIsolate, faultSplit}

// Schedule timing: the first fault waits for the warm-up (the baseline of
// the leak check is taken then), and the last heals finalSettle before the
// load ends, so the end of the run is fault-free.
const (
	warmup      = 8 * time.Second
	finalSettle = 10 * time.Second
)

// fault is one planned fault. Every field comes from the seed; only the
// node a freeze-leader stops is decided when it happens (the leader then),
// with target as the fallback.
type fault struct {
	n      int
	at     time.Duration // since the load started
	kind   string
	target int
	sides  [][]int
	dur    time.Duration // until restart, SIGCONT or heal
	settle time.Duration // after it ends, before the next
}

func (f fault) String() string {
	switch f.kind {
	case faultKill:
		return fmt.Sprintf("kill -9 n%d, restart after %v", f.target+1, f.dur)
	case faultFreezeLeader:
		return fmt.Sprintf("SIGSTOP the lead leader's node (else n%d) for %v", f.target+1, f.dur)
	case faultFreeze:
		return fmt.Sprintf("SIGSTOP n%d for %v", f.target+1, f.dur)
	case faultIsolate:
		return fmt.Sprintf("cut n%d off for %v", f.target+1, f.dur)
	default:
		return fmt.Sprintf("split %s | %s for %v", nodeList(f.sides[0]), nodeList(f.sides[1]), f.dur)
	}
}

func nodeList(ns []int) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("n%d", n+1)
	}
	return "{" + s + "}"
}

// plan draws the schedule for a load of d from rng: a fault, then a settle
// of 3-5 s, and so on. Node 0 (the observer) is only ever faulted as part of
// a partition.
func plan(rng *rand.Rand, d time.Duration, nodes int) []fault {
	var fs []fault
	at := warmup
	for {
		f := fault{n: len(fs) + 1, at: at, kind: faultKinds[rng.IntN(len(faultKinds))]}
		// Draw every value for every kind, so one fault's kind never
		// shifts the draws of the next.
		other := 1 + rng.IntN(nodes-1)
		anyNode := rng.IntN(nodes)
		perm := rng.Perm(nodes)
		isolateFor := 3*time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
		f.settle = 3*time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
		switch f.kind {
		case faultKill:
			f.target, f.dur = other, 2*time.Second
		case faultFreezeLeader, faultFreeze:
			f.target, f.dur = other, 3*time.Second
		case faultIsolate:
			f.target, f.dur = anyNode, isolateFor
		case faultSplit:
			f.sides, f.dur = [][]int{perm[:2], perm[2:]}, 5*time.Second
		}
		if f.at+f.dur+finalSettle > d {
			return fs
		}
		fs = append(fs, f)
		at = f.at + f.dur + f.settle
	}
}

// inject runs the schedule until it ends or ctx does. It returns the faults
// applied, with the node a freeze-leader stopped in target.
func (r *run) inject(ctx context.Context, plan []fault) ([]fault, error) {
	var done []fault
	sleep := func(until int64) bool {
		d := time.Duration(until - mono())
		if d <= 0 {
			return ctx.Err() == nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for _, f := range plan {
		if !sleep(r.loadStart + int64(f.at)) {
			return done, ctx.Err()
		}
		from := mono()
		end := from + int64(f.dur)
		kind, label := f.kind, ""
		switch f.kind {
		case faultKill:
			p := r.current()[f.target]
			label = "kill -9 " + p.label
			r.logf("fault %d %s: kill -9 %s (pid %d); restart after %v", f.n, r.off(mono()), p.label, p.pid, f.dur)
			if err := r.kill(p); err != nil {
				return done, err
			}
			if !sleep(end) {
				return done, ctx.Err()
			}
			q, err := r.start(f.target, r.loadEnd)
			if err != nil {
				return done, err
			}
			r.logf("fault %d %s: restarted n%d as %s (pid %d)", f.n, r.off(mono()), f.target+1, q.label, q.pid)
		case faultFreezeLeader, faultFreeze:
			what := "SIGSTOP"
			if f.kind == faultFreezeLeader {
				l := r.leaderNode("lead")
				if l == 0 {
					l = r.handOver(f.n)
				}
				switch {
				case l > 0:
					f.target = l
					what = "SIGSTOP the lead leader's node"
				case l == 0:
					what, kind = "lead leader stays on the observer n1, so SIGSTOP instead", faultFreeze
				default:
					what, kind = "no lead leader known, so SIGSTOP instead", faultFreeze
				}
			}
			p := r.current()[f.target]
			label = "SIGSTOP " + p.label
			r.logf("fault %d %s: %s %s (pid %d) for %v", f.n, r.off(mono()), what, p.label, p.pid, f.dur)
			if err := r.freeze(p, true); err != nil {
				return done, err
			}
			sleep(end) // SIGCONT even when ctx ended
			if err := r.freeze(p, false); err != nil {
				return done, err
			}
			r.logf("fault %d %s: SIGCONT %s", f.n, r.off(mono()), p.label)
		case faultIsolate, faultSplit:
			var sides [][]int
			if f.kind == faultIsolate {
				var rest []int
				for i := range r.nodes {
					if i != f.target {
						rest = append(rest, i)
					}
				}
				sides = [][]int{{f.target}, rest}
			} else {
				sides = f.sides
			}
			label = "partition " + nodeList(sides[0]) + " | " + nodeList(sides[1])
			r.logf("fault %d %s: %s for %v", f.n, r.off(mono()), label, f.dur)
			if err := r.cut(f.kind, sides...); err != nil {
				return done, err
			}
			sleep(end) // heal even when ctx ended
			if err := r.heal(); err != nil {
				return done, err
			}
			r.logf("fault %d %s: healed", f.n, r.off(mono()))
		}
		r.mu.Lock()
		r.faults = append(r.faults, faultSpan{span: span{from, mono()}, kind: kind, label: label})
		r.mu.Unlock()
		done = append(done, f)
	}
	return done, nil
}

// handOver asks the observer, which leads "lead", to hand the leadership
// over (it is never frozen itself), and returns the new leader's node once
// one acts, or what leads after 3 s.
func (r *run) handOver(n int) int {
	p := r.current()[0]
	r.logf("fault %d %s: the observer %s leads lead: it restarts its lead handler to hand the leadership over", n, r.off(mono()), p.label)
	from := mono()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := p.cp.Send(ctx, "yield")
	cancel()
	if err != nil {
		r.logf("%s: yield: %v", p.label, err)
	}
	for {
		l := r.leaderNode("lead")
		if l > 0 || time.Duration(mono()-from) > 3*time.Second {
			r.mu.Lock()
			r.faults = append(r.faults, faultSpan{span: span{from, mono()}, kind: "handover", label: "hand-over by " + p.label})
			r.mu.Unlock()
			return l
		}
		time.Sleep(5 * time.Millisecond)
	}
}
