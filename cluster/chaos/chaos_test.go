//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The cluster under test.
const (
	nodes              = 5
	remotePort         = 7100
	dataPort           = 7200
	heartbeat          = 50 * time.Millisecond
	suspectAfter       = 500 * time.Millisecond
	deadline           = 2 * time.Second
	rrCallersPerNode   = 20 // 100 in the cluster
	leadCallersPerNode = 2
	viewLimit          = 5 * time.Second
)

func TestChaos(t *testing.T) {
	t0 := mono()
	// Registered first, so it runs last: after the clean-ups, the parent
	// has no goroutine of the run left.
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	if err := canBuild(); err != nil {
		needNetwork(t, err)
	}
	seed := *flagSeed
	if seed == 0 {
		seed = rand.Uint64()%1_000_000_000 + 1 // short enough to type
	}
	d := *flagDuration
	// The addresses decide where each exchange's authority runs (rendezvous
	// hashing), so they are part of what a seed reproduces.
	subnet := *flagSubnet
	if subnet <= 0 || subnet > 250 {
		subnet = int(seed%250) + 1
	}
	fmt.Printf("chaos: seed %d (reproduce with -chaos.seed=%d -chaos.subnet=%d), duration %v\n", seed, seed, subnet, d)
	if pids, err := sweepStale(); err != nil || len(pids) > 0 {
		fmt.Printf("chaos: removed the networks of dead runs %v (errors: %v)\n", pids, err)
	}

	nw := newNetwork(nodes, subnet)
	if err := nw.build(); err != nil {
		needNetwork(t, err)
	}
	t.Cleanup(func() {
		if err := nw.remove(); err != nil {
			t.Errorf("remove the network: %v", err)
		}
		if left := leftovers(nw); left != "" {
			t.Errorf("left behind: %s", left)
		}
	})
	fmt.Printf("chaos: network: bridge %s, namespaces %s..%s, nodes %s..%s, nft table bridge %s\n",
		nw.bridge, nw.ns[0], nw.ns[nodes-1], nw.addrs[0], nw.addrs[nodes-1], nw.table)
	fmt.Printf("chaos: heartbeat %v, suspect after %v, request deadline %v, %d rr callers and %d lead callers per node, pace %v, leader source %s\n",
		heartbeat, suspectAfter, deadline, rrCallersPerNode, leadCallersPerNode, *flagPace, *flagLeader)

	r := &run{nw: nw, seed: seed, t0: t0, nodes: nodes, cur: make([]*proc, nodes)}
	var peers []string
	for _, a := range nw.addrs {
		peers = append(peers, fmt.Sprintf("%s:%d", a, remotePort))
	}
	for i := range nodes {
		r.cfgs = append(r.cfgs, childConfig{
			node: fmt.Sprintf("n%d", i+1), host: nw.addrs[i], cluster: fmt.Sprintf("chaos%d", os.Getpid()),
			port: remotePort, dataPort: dataPort, peers: peers,
			heartbeat: heartbeat, suspect: suspectAfter, deadline: deadline, pace: *flagPace,
			rrCallers: rrCallersPerNode, leadCallers: leadCallersPerNode, leaderSource: *flagLeader,
		})
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r.stopAll(ctx)
	})
	cleanupOnSignal(t, r, nw)

	// Start the nodes and wait until each sees the whole cluster.
	// In a seeded random order, a seeded random 0-60 ms apart: nodes that
	// start alone and declare, connect and lead before the others join
	// (a start-up race hung Serve twice) as well as nodes that start
	// together.
	startRng := rand.New(rand.NewPCG(seed, 0x7374617274))
	for _, i := range startRng.Perm(nodes) {
		if _, err := r.start(i, 0); err != nil {
			t.Fatalf("start n%d: %v", i+1, err)
		}
		time.Sleep(time.Duration(startRng.IntN(60)) * time.Millisecond)
	}
	// A node is ready once it joined, declared its exchanges and served
	// its handlers: in about 300 ms on an idle machine. The bound is generous (a loaded
	// machine); when it is passed, every node's last lines say why.
	readyBy := time.After(30 * time.Second)
	for _, p := range r.current() {
		select {
		case <-p.ready:
		case <-p.cp.Done():
			t.Fatalf("%s exited before it was ready: %v; the nodes' last lines:\n%s", p.label, p.cp.Err(), r.tails())
		case <-readyBy:
			t.Fatalf("%s not ready 30 s after the start; the nodes' last lines:\n%s", p.label, r.tails())
		}
	}
	r.logf("every node ready %v after the test started", time.Duration(mono()-t0).Round(time.Millisecond))
	formed := mono()
	for {
		asked := mono()
		r.send("view")
		time.Sleep(100 * time.Millisecond)
		if same, _ := r.agreement(asked); same {
			break
		}
		if time.Duration(mono()-formed) > 20*time.Second {
			_, views := r.agreement(asked)
			t.Fatalf("the cluster did not form in 20 s: %s; the nodes' last lines:\n%s", strings.Join(views, " | "), r.tails())
		}
	}
	r.logf("cluster formed: %d nodes see each other and every handler", nodes)

	// Load and faults.
	faults := plan(rand.New(rand.NewPCG(seed, 0x6368616f73)), d, nodes)
	for _, f := range faults {
		fmt.Printf("chaos: plan: fault %d at +%v: %v, then settle %v\n", f.n, f.at.Round(time.Millisecond), f, f.settle.Round(time.Millisecond))
	}
	r.mu.Lock()
	r.loadStart = mono()
	r.loadEnd = r.loadStart + int64(d)
	r.mu.Unlock()
	r.send("load " + strconv.FormatInt(r.loadEnd, 10))
	r.logf("load started for %v; %d faults planned, the first at %s", d, len(faults), faultAt(faults))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := r.inject(ctx, faults); err != nil {
		t.Fatalf("fault injection: %v", err)
	}
	if wait := time.Duration(r.loadEnd - mono()); wait > 0 {
		time.Sleep(wait)
	}
	r.logf("load ended")
	for _, p := range r.current() {
		select {
		case <-p.done:
		case <-time.After(deadline + 5*time.Second):
			t.Errorf("%s: load did not end %v after its deadline", p.label, deadline+5*time.Second)
		}
	}
	time.Sleep(2 * time.Second) // a last settle before the views are compared

	results := []result{}
	views := r.checkViews(viewLimit)
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStop()
	r.stopAll(stopCtx)
	r.logf("all node processes stopped")
	for _, p := range r.procs {
		if err := p.cp.Err(); err != nil && !p.killed {
			t.Errorf("%s exited with %v; its last lines:\n%s", p.label, err, strings.Join(p.cp.Tail(), "\n"))
		}
	}

	r.mu.Lock()
	applied := r.faults
	results = append(results, r.checkRequestsFinal(), r.checkAvailability(applied), r.checkLeaders(applied),
		r.checkPublications(), views, r.checkGrowth())
	stalls, longestStall := r.stalls()
	r.mu.Unlock()
	fmt.Printf("chaos: stalls of a node process over 100 ms not caused by SIGSTOP (CPU starvation): %d, longest %.0fms\n", stalls, ms(longestStall))
	fmt.Println("chaos: results")
	failed := 0
	for _, res := range results {
		fmt.Println(res)
		if !res.OK {
			failed++
		}
	}
	fmt.Printf("chaos: summary: seed %d, %v of load, %d faults (%s), %d processes, %d of %d invariants hold, wall clock %v\n",
		seed, d, len(applied), faultCounts(applied), len(r.procs), len(results)-failed, len(results),
		time.Duration(mono()-t0).Round(time.Second))
	if *flagJSON != "" {
		if err := writeJSON(*flagJSON, seed, d, applied, results, r); err != nil {
			t.Errorf("write %s: %v", *flagJSON, err)
		}
	}
	required := strings.Split(*flagRequire, ",")
	for _, res := range results {
		switch {
		case res.OK:
		case slices.Contains(required, strconv.Itoa(res.N)):
			t.Errorf("invariant %d (%s) violated (seed %d)", res.N, res.Name, seed)
		default:
			fmt.Printf("chaos: invariant %d (%s) violated (seed %d); not required by -chaos.require=%s\n", res.N, res.Name, seed, *flagRequire)
		}
	}
}

// needNetwork fails under CI, where the suite must run, and skips elsewhere.
func needNetwork(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("chaos: cannot build the network namespaces: %v", err)
	}
	t.Skipf("chaos: cannot build the network namespaces (needs root, ip and nft): %v", err)
}

// cleanupOnSignal kills the children and removes the network on SIGINT or
// SIGTERM, then exits: t.Cleanup would not run.
func cleanupOnSignal(t *testing.T, r *run, nw *network) {
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case s := <-sigc:
			fmt.Printf("chaos: %v: killing the nodes and removing the network\n", s)
			r.killAll()
			time.Sleep(100 * time.Millisecond) // let them exit: namespaces in use go on existing
			if err := nw.remove(); err != nil {
				fmt.Printf("chaos: %v\n", err)
			}
			os.Exit(1)
		case <-done:
		}
	})
	t.Cleanup(func() {
		signal.Stop(sigc)
		close(done)
		wg.Wait()
	})
}

// leftovers lists what of nw still exists.
func leftovers(nw *network) string {
	var left []string
	if out, _ := exec.Command("ip", "netns", "list").Output(); len(out) > 0 {
		for _, ns := range nw.ns {
			if strings.Contains(string(out), ns) {
				left = append(left, "netns "+ns)
			}
		}
	}
	if exists("ip", "link", "show", nw.bridge) {
		left = append(left, "bridge "+nw.bridge)
	}
	if exists("nft", "list", "table", "bridge", nw.table) {
		left = append(left, "nft table "+nw.table)
	}
	return strings.Join(left, ", ")
}

func faultAt(fs []fault) string {
	if len(fs) == 0 {
		return "never"
	}
	return "+" + fs[0].at.String()
}

func faultCounts(fs []faultSpan) string {
	n := map[string]int{}
	for _, f := range fs {
		n[f.kind]++
	}
	var s []string
	for _, k := range append(faultKinds, "handover") {
		if n[k] > 0 {
			s = append(s, fmt.Sprintf("%s %d", k, n[k]))
		}
	}
	return strings.Join(s, ", ")
}

func writeJSON(path string, seed uint64, d time.Duration, faults []faultSpan, results []result, r *run) error {
	type jf struct {
		Kind  string  `json:"kind"`
		What  string  `json:"what"`
		AtS   float64 `json:"at_s"`
		ForMs float64 `json:"for_ms"`
	}
	out := struct {
		Seed       uint64   `json:"seed"`
		DurationS  float64  `json:"duration_s"`
		Faults     []jf     `json:"faults"`
		Processes  int      `json:"processes"`
		Invariants []result `json:"invariants"`
	}{Seed: seed, DurationS: d.Seconds(), Processes: len(r.procs), Invariants: results}
	for _, f := range faults {
		out.Faults = append(out.Faults, jf{f.kind, f.label, float64(f.from-r.loadStart) / 1e9, ms(f.to - f.from)})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
