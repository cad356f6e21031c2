//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bourse-go/bourse/internal/childproc"
)

// span is a time interval in mono nanoseconds; to 0 means still open.
type span struct{ from, to int64 }

func (s span) overlaps(from, to int64) bool {
	return s.from <= to && (s.to == 0 || s.to >= from)
}

// partition is a cut of the network: no traffic between the sides.
type partition struct {
	span
	sides [][]int
	name  string
}

// separates says whether the partition cuts a from b.
func (p partition) separates(a, b int) bool {
	sa, sb := -1, -1
	for i, s := range p.sides {
		if slices.Contains(s, a) {
			sa = i
		}
		if slices.Contains(s, b) {
			sb = i
		}
	}
	return sa >= 0 && sb >= 0 && sa != sb
}

// minority says whether node n is on a side with fewer than half the nodes.
func (p partition) minority(n, nodes int) bool {
	for _, s := range p.sides {
		if slices.Contains(s, n) {
			return 2*len(s) < nodes
		}
	}
	return false
}

// proc is one node process: a node runs as several over a run when it is
// killed and restarted. The run's mutex guards its fields.
type proc struct {
	node  int
	gen   int    // 0 for the node's first process
	label string // "n3.1": node n3, second process
	cp    *childproc.Process
	log   *os.File // its stderr, with -chaos.log

	started, ended int64 // ended: killed or stopped; 0 while it runs
	killed         bool
	exited         int64 // killed: when its files were closed (its output pipes ended)
	stopping       bool
	freezes        []span

	inc   uint64
	pid   int
	ready chan struct{} // closed at evReady
	done  chan struct{} // closed at evLoadDone

	reqs      []event
	members   []event // membership events it reported
	leads     []event
	anomalies []event
	streams   map[string]event // latest evStream per key
	pubs      *event
	stats     []event
	view      *view
	viewT     int64

	// online state for the leader check
	acting    map[string]bool
	suspended bool // frozen since its last report
}

// run is the parent's state of one chaos run.
type run struct {
	nw    *network
	cfgs  []childConfig
	seed  uint64
	t0    int64 // mono of the test's start: offsets are printed from it
	nodes int

	mu        sync.Mutex
	procs     []*proc // every process, in start order
	cur       []*proc // the latest process of each node
	parts     []partition
	faults    []faultSpan // applied, for the report
	loadStart int64
	loadEnd   int64
	stopped   int64 // when stopAll began
	onlineN   int   // online reports printed
}

// logf prints a line with the time since the start of the run.
func (r *run) logf(format string, args ...any) {
	fmt.Printf("[%8.3fs] %s\n", float64(mono()-r.t0)/1e9, fmt.Sprintf(format, args...))
}

// off formats a mono time as an offset from the start of the load.
func (r *run) off(t int64) string {
	return fmt.Sprintf("%+.3fs", float64(t-r.loadStart)/1e9)
}

// start starts a process for node i; loadEnd 0 lets it wait for "load".
func (r *run) start(i int, loadEnd int64) (*proc, error) {
	r.mu.Lock()
	gen := 0
	if r.cur[i] != nil {
		gen = r.cur[i].gen + 1
	}
	p := &proc{node: i, gen: gen, label: fmt.Sprintf("n%d.%d", i+1, gen), ready: make(chan struct{}),
		done: make(chan struct{}), streams: map[string]event{}, acting: map[string]bool{}}
	r.procs = append(r.procs, p)
	r.cur[i] = p
	r.mu.Unlock()
	cfg := r.cfgs[i]
	cfg.loadEnd = loadEnd
	cfg.seed = r.seed ^ uint64(i+1)<<32 ^ uint64(gen+1)<<48
	if *flagLog != "" {
		f, err := os.Create(filepath.Join(*flagLog, p.label+".log"))
		if err != nil {
			return nil, err
		}
		p.log = f
	}
	p.started = mono()
	cp, err := childproc.Start(childproc.Options{
		Prefix: r.nw.exec(i),
		Args:   []string{"-test.run=^$"},
		Env:    cfg.env(),
		Stdout: func(_ *childproc.Process, line string) { r.line(p, line) },
		Stderr: func(_ *childproc.Process, line string) {
			if p.log != nil {
				fmt.Fprintln(p.log, line)
			}
		},
		Tail: 30,
	})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	p.cp = cp
	p.pid = cp.Pid()
	r.mu.Unlock()
	return p, nil
}

// line takes one line of a child's stdout.
func (r *run) line(p *proc, line string) {
	rest, ok := strings.CutPrefix(line, linePrefix)
	if !ok {
		if p.log != nil {
			fmt.Fprintln(p.log, "stdout: "+line)
		}
		return
	}
	if p.log != nil && !strings.HasPrefix(rest, `{"e":"req"`) {
		fmt.Fprintln(p.log, rest)
	}
	var ev event
	if err := json.Unmarshal([]byte(rest), &ev); err != nil {
		r.logf("%s: bad line %q: %v", p.label, line, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.E {
	case evHello:
		p.inc = ev.Inc
	case evReady:
		close(p.ready)
	case evLoadDone:
		close(p.done)
	case evReq:
		p.reqs = append(p.reqs, ev)
		r.checkRequests(p, ev)
	case evLead:
		p.leads = append(p.leads, ev)
		r.checkLeader(p, ev)
	case evResume:
		p.leads = append(p.leads, ev)
	case evGap, evDup, evLate:
		p.anomalies = append(p.anomalies, ev)
	case evStream:
		p.streams[ev.Key] = ev
	case evPubs:
		p.pubs = &ev
	case evStats:
		p.stats = append(p.stats, ev)
	case evView:
		p.view, p.viewT = ev.View, ev.T
	case evMember:
		p.members = append(p.members, ev)
	}
}

// maxOnline bounds the online reports printed.
const maxOnline = 30

func (r *run) online(format string, args ...any) {
	r.onlineN++
	if r.onlineN <= maxOnline {
		r.logf("online: "+format, args...)
	} else if r.onlineN == maxOnline+1 {
		r.logf("online: more reports left out; the final checks count them all")
	}
}

// checkLeader reports, as it happens, a second handler acting as leader.
// Called with r.mu held.
func (r *run) checkLeader(p *proc, ev event) {
	if !ev.Is {
		p.acting[ev.Ex] = false
		return
	}
	p.acting[ev.Ex] = true
	p.suspended = false
	if r.loadStart == 0 {
		return // the cluster is forming: each node leads until it hears of the others
	}
	if ev.Src == "deploy" {
		// A deployed singleton's end is reported once its instance has
		// stopped, with the time it stopped acting: later than a
		// successor's start may arrive. Only the final check, which orders
		// by those times, can tell.
		return
	}
	for _, q := range r.cur {
		if q != nil && q != p && q.ended == 0 && !q.suspended && q.acting[ev.Ex] {
			r.online("two leaders of %s at %s: %s (%s) and %s", ev.Ex, r.off(ev.T), p.label, ev.Src, q.label)
		}
	}
}

// checkRequests reports, as it happens, a request that waited out its
// deadline from a node that was neither frozen nor cut off. Called with r.mu
// held.
func (r *run) checkRequests(p *proc, ev event) {
	for _, f := range ev.Fails {
		if f.F && !r.excused(p, f.S, f.S+f.D) {
			r.online("%s request from %s waited out its deadline: started %s, %s after %v",
				ev.Ex, p.label, r.off(f.S), f.C, time.Duration(f.D).Round(time.Millisecond))
		}
	}
}

// excused says whether a request of p over [from, to] may wait out its
// deadline: p was frozen, cut off alone, or on the minority side of a
// partition meanwhile. Called with r.mu held.
func (r *run) excused(p *proc, from, to int64) bool {
	for _, f := range p.freezes {
		if f.overlaps(from, to) {
			return true
		}
	}
	for _, pt := range r.parts {
		if pt.overlaps(from, to) && pt.minority(p.node, r.nodes) {
			return true
		}
	}
	return false
}

// cutOff says whether nodes a and b could not talk at some time of
// [from, to]. Called with r.mu held.
func (r *run) cutOff(a, b int, from, to int64) bool {
	for _, pt := range r.parts {
		if pt.overlaps(from, to) && pt.separates(a, b) {
			return true
		}
	}
	return false
}

// kill kills p with SIGKILL and waits for it.
func (r *run) kill(p *proc) error {
	r.mu.Lock()
	p.ended, p.killed = mono(), true
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.cp.Kill(ctx)
	r.mu.Lock()
	p.exited = mono()
	if p.log != nil && *flagDebug {
		fmt.Fprintf(p.log, "chaos: killed inc=%d killed_mono=%d exited_mono=%d\n", p.inc, p.ended, p.exited)
	}
	r.mu.Unlock()
	return err
}

// freeze stops p with SIGSTOP (true) or resumes it with SIGCONT (false).
// The time is taken before the signal: a frozen process's leadership ends
// no later than the freeze begins, and nothing it does after SIGCONT can
// date from before the resume.
func (r *run) freeze(p *proc, stop bool) error {
	r.mu.Lock()
	now := mono()
	if stop {
		p.freezes = append(p.freezes, span{from: now})
		p.suspended = true
	} else if n := len(p.freezes); n > 0 {
		p.freezes[n-1].to = now
	}
	r.mu.Unlock()
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	return p.cp.Signal(sig)
}

// cut applies a partition; heal ends it.
func (r *run) cut(name string, sides ...[]int) error {
	r.mu.Lock()
	r.parts = append(r.parts, partition{span: span{from: mono()}, sides: sides, name: name})
	r.mu.Unlock()
	return r.nw.partition(sides...)
}

func (r *run) heal() error {
	err := r.nw.heal()
	r.mu.Lock()
	now := mono()
	for i := range r.parts {
		if r.parts[i].to == 0 {
			r.parts[i].to = now
		}
	}
	r.mu.Unlock()
	return err
}

// leaderNode returns the node whose current process last said it leads ex,
// or -1.
func (r *run) leaderNode(ex string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.cur {
		if p != nil && p.ended == 0 && p.acting[ex] && !p.suspended {
			return p.node
		}
	}
	return -1
}

// current returns the latest process of every node.
func (r *run) current() []*proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cur)
}

// tails returns the last lines of every current process, for a failure
// that may be another node's doing (one that never joined, say).
func (r *run) tails() string {
	var b strings.Builder
	for _, p := range r.current() {
		fmt.Fprintf(&b, "--- %s\n%s\n", p.label, strings.Join(p.cp.Tail(), "\n"))
	}
	return b.String()
}

// send sends a command line to every current process.
func (r *run) send(line string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, p := range r.current() {
		if err := p.cp.Send(ctx, line); err != nil {
			r.logf("%s: send %q: %v", p.label, line, err)
		}
	}
}

// stopAll stops every process still running (gracefully, then by SIGKILL)
// and waits for them: each is resumed first, in case it is frozen.
func (r *run) stopAll(ctx context.Context) {
	r.mu.Lock()
	var ps []*proc
	now := mono()
	r.stopped = now
	for _, p := range r.procs {
		if p.cp == nil || p.ended != 0 {
			continue
		}
		p.ended, p.stopping = now, true
		if n := len(p.freezes); n > 0 && p.freezes[n-1].to == 0 {
			p.freezes[n-1].to = now
		}
		ps = append(ps, p)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		_ = p.cp.Signal(syscall.SIGCONT)
		wg.Go(func() {
			if err := p.cp.Stop(ctx); err != nil {
				r.logf("%s: stop: %v", p.label, err)
			}
		})
	}
	wg.Wait()
	for _, p := range r.procs {
		if p.log != nil {
			p.log.Close()
		}
	}
}

// killAll kills every process at once: for a signal's clean-up.
func (r *run) killAll() {
	r.mu.Lock()
	ps := slices.Clone(r.procs)
	r.mu.Unlock()
	for _, p := range ps {
		if p.cp != nil {
			_ = p.cp.Signal(syscall.SIGKILL)
		}
	}
}
