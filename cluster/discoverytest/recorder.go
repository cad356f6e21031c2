package discoverytest

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster"
)

// recorder is an update func that keeps the latest report and checks the
// contract of update on every call: never concurrent, never started after
// Stop returned, a well-formed list of the node's own cluster. Problems are
// kept and reported by report, on whichever test is still running: a late
// call may come after the test that started the node ended.
type recorder struct {
	self      cluster.Registration
	known     map[string]string // address -> node name of the node's cluster
	nodeNames bool              // Features.NodeNames
	delay     atomic.Int64      // how long each call blocks, in ns

	inUpdate atomic.Int32
	stopped  atomic.Bool // Stop has returned (with or without an error)

	mu       sync.Mutex
	calls    int
	latest   []cluster.Peer
	problems []string
	reported int // problems already reported
}

func newRecorder(self cluster.Registration, known map[string]string, nodeNames bool) *recorder {
	return &recorder{self: self, known: known, nodeNames: nodeNames}
}

func (r *recorder) update(peers []cluster.Peer) {
	if r.inUpdate.Add(1) != 1 {
		r.problem("update called concurrently with itself")
	}
	defer r.inUpdate.Add(-1)
	if r.stopped.Load() {
		r.problem("update called after Stop returned")
	}
	for _, p := range r.check(peers) {
		r.problem(p)
	}
	r.mu.Lock()
	r.calls++
	r.latest = slices.Clone(peers)
	r.mu.Unlock()
	// update owns its slice: a Discovery that used it again would see this.
	for i := range peers {
		peers[i] = cluster.Peer{Node: "scribbled by update", Address: "scribbled by update"}
	}
	if d := r.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
}

// check returns what is wrong with one report.
func (r *recorder) check(peers []cluster.Peer) []string {
	var problems []string
	for _, p := range peers {
		if err := wellFormed(p.Address); err != nil {
			problems = append(problems, fmt.Sprintf("peer %+v: address %v", p, err))
			continue
		}
		name, ok := r.known[p.Address]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("peer %+v is no node of cluster %q", p, r.self.Cluster))
		case p.Node == "" && r.nodeNames:
			problems = append(problems, fmt.Sprintf("peer %+v has no node name (Features.NodeNames), want %q", p, name))
		case p.Node != "" && p.Node != name:
			problems = append(problems, fmt.Sprintf("peer %+v: node name is not that of the node at %s, %q", p, p.Address, name))
		}
	}
	return problems
}

// wellFormed checks a "host:port" address.
func wellFormed(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has port %q, want 1-65535", addr, port)
	}
	return nil
}

func (r *recorder) problem(p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, p)
}

// stopReturned records that Stop returned; ok: it returned nil, so no call of
// update may still run.
func (r *recorder) stopReturned(ok bool) {
	r.stopped.Store(true)
	if ok && r.inUpdate.Load() != 0 {
		r.problem("Stop returned nil while update was running")
	}
}

// report fails t with the problems not reported yet.
func (r *recorder) report(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.problems[r.reported:] {
		t.Errorf("%s: %s", r.self.Node, p)
	}
	r.reported = len(r.problems)
}

// snapshot returns how many reports came and the latest.
func (r *recorder) snapshot() (calls int, latest []cluster.Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, slices.Clone(r.latest)
}

// waitFor polls until a report came and the latest satisfies cond, failing
// the test after within; it returns how long that took.
func (r *recorder) waitFor(t *testing.T, within time.Duration, what string, cond func([]cluster.Peer) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		calls, latest := r.snapshot()
		if calls > 0 && cond(latest) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: after %v: %s: not yet; latest report %v after %d reports", r.self.Node, within, what, latest, calls)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lists reports whether peers list the node at addr.
func lists(peers []cluster.Peer, addr string) bool {
	return slices.ContainsFunc(peers, func(p cluster.Peer) bool { return p.Address == addr })
}

// listsAll returns a condition: peers list every node of regs but self
// (self may be listed or not).
func listsAll(self cluster.Registration, regs ...cluster.Registration) func([]cluster.Peer) bool {
	return func(peers []cluster.Peer) bool {
		for _, r := range regs {
			if r.Address() != self.Address() && !lists(peers, r.Address()) {
				return false
			}
		}
		return true
	}
}
