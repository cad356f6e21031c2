package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/internal/leakcheck"
	"go.uber.org/goleak"
)

// The tests run every scenario with tiny counts: they prove the command
// works, not how fast it is. A test that starts a cluster node in this
// process runs isolated (clustertest.Isolate): two nodes in one process trip
// the race detector on grpc's global logger.

func TestMain(m *testing.M) {
	if isChild() {
		os.Exit(childMain())
	}
	goleak.VerifyTestMain(m, append(leakcheck.Options(), clustertest.LeakOptions()...)...)
}

// tiny are the flags of a test run.
var tiny = []string{"-cycles", "200,300", "-par", "2,4", "-progress", "off", "-timeout", "30s"}

// rowRE matches a request-response line: seed 002's format, then the
// latency percentiles and the CPU.
var rowRE = regexp.MustCompile(`^(Sequential \d+|Parallel \d+ \d+) cycles in ~\d+ seconds \(\d+ cycles/s\)  p50 \S+ p99 \S+ p99\.9 \S+  cpu `)

// runBench runs the command with args and returns its stdout and what it
// wrote with -json.
func runBench(t *testing.T, args ...string) (string, Results) {
	t.Helper()
	js := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	code := benchMain(append(append(append([]string{}, tiny...), "-json", js), args...), &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return stdout.String(), res
}

// checkRows checks that path has one row per sequential and parallel count
// of tiny, without errors, and that each is printed.
func checkRows(t *testing.T, out string, res Results, path string, nodes int) {
	t.Helper()
	var got []string
	for _, r := range res.Rows {
		if r.Path != path || r.Nodes != nodes {
			continue
		}
		got = append(got, r.Label())
		if r.Errors != 0 || r.PerSec <= 0 || r.Latency.P50 <= 0 || r.Latency.P999 < r.Latency.P50 {
			t.Errorf("%s %s: %+v", path, r.Label(), r)
		}
		if !strings.Contains(out, rowLine(r)) {
			t.Errorf("%s %s: line %q not printed", path, r.Label(), rowLine(r))
		}
	}
	if want := "seq 200,seq 300,par 2,par 4"; strings.Join(got, ",") != want {
		t.Errorf("%s on %d node(s): rows %q, want %q", path, nodes, strings.Join(got, ","), want)
	}
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if rowRE.MatchString(line) {
			n++
		}
	}
	if n == 0 {
		t.Errorf("no line in seed 002's format in:\n%s", out)
	}
}

func TestOneNode(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "chart.png")
	out, res := runBench(t, "-scenario", "reqresp,baseline", "-chart", chart)
	checkRows(t, out, res, "bourse", 1)
	checkRows(t, out, res, "raw-local", 1)
	if len(res.Ratios) != 4 || res.Ratios[0].Reference != "raw-local" || res.Ratios[0].Ratio <= 0 {
		t.Errorf("ratios: %+v", res.Ratios)
	}
	if res.Machine.CPUs < 1 || res.Machine.GoVersion == "" || res.Machine.GOMAXPROCS < 1 {
		t.Errorf("machine: %+v", res.Machine)
	}
	png, err := os.ReadFile(chart)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("chart is not a PNG")
	}
}

func TestStrategies(t *testing.T) {
	for _, s := range strategyNames {
		t.Run(s, func(t *testing.T) {
			out, res := runBench(t, "-strategy", s, "-handlers", "2")
			checkRows(t, out, res, "bourse", 1)
		})
	}
}

func TestThreeNodes(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	out, res := runBench(t, "-nodes", "3", "-scenario", "reqresp,baseline")
	checkRows(t, out, res, "bourse", 3)
	checkRows(t, out, res, "raw-remote", 3)
	checkRows(t, out, res, "raw-local", 1)
	for _, r := range res.Rows {
		if r.Nodes == 3 && r.AllCPUSeconds <= r.CPUSeconds {
			t.Errorf("%s %s: CPU of all processes %.3fs, of this one %.3fs: children not counted", r.Path, r.Label(), r.AllCPUSeconds, r.CPUSeconds)
		}
	}
}

func TestFanout(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	out, res := runBench(t, "-scenario", "fanout", "-subscribers", "50", "-fanout-nodes", "3", "-pubs", "5")
	f := res.Fanout
	if f == nil {
		t.Fatal("no fan-out result")
	}
	if f.WantPerPub != 2 || f.NetworkMessagesPerPub != 2 || f.NetworkMessages != 2*11 {
		t.Errorf("network messages: %d, %.2f per publication, want 2 per publication", f.NetworkMessages, f.NetworkMessagesPerPub)
	}
	if f.DeliveriesPerSec <= 0 || f.Latency.P50 <= 0 || fmt.Sprint(f.SubscribersPerNode) != "[17 17 16]" {
		t.Errorf("fan-out: %+v", *f)
	}
	if !strings.Contains(out, "Fanout 50 subscribers on 3 nodes: 5 publications in ~") {
		t.Errorf("no fan-out line in:\n%s", out)
	}
}

// -metrics runs the rows with the node's metrics on (the A/B of their
// cost compares with a run without).
func TestMetricsFlag(t *testing.T) {
	out, res := runBench(t, "-scenario", "reqresp", "-metrics", "127.0.0.1:0")
	checkRows(t, out, res, "bourse", 1)
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenario", "x"}, `-scenario: unknown scenario "x"`},
		{[]string{"-nodes", "2"}, "-nodes: 2, want 1 or 3"},
		{[]string{"-strategy", "fun"}, `-strategy: unknown strategy "fun"`},
		{[]string{"-cycles", "10,-1"}, `-cycles: "-1" is not a positive integer`},
		{[]string{"-cycles", ""}, "-cycles: empty list"},
		{[]string{"-par", "a"}, `-par: "a" is not a positive integer`},
		{[]string{"-payload", "-1"}, "-payload: -1 bytes"},
		{[]string{"-chart", "x.svg"}, "-chart"},
		{[]string{"-fanout-nodes", "0"}, "-fanout-nodes: 0"},
		{[]string{"-metrics", "9464"}, `-metrics: "9464" is not host:port`},
		{[]string{"-metrics-protoactor"}, "-metrics-protoactor: needs -metrics"},
		{[]string{"-slow-policies", "drop-all"}, `-slow-policies: unknown policy "drop-all"`},
		{[]string{"-slow-rate", "0"}, "-slow-rate: 0"},
		{[]string{"-slow-pending", "0"}, "-slow-pending: 0"},
		{[]string{"-slowh-probation", "maybe"}, `-slowh-probation: "maybe"`},
		{[]string{"-slowh-callers", "0"}, "-slowh-callers: 0"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-nosuchflag"}, "flag provided but not defined: -nosuchflag"},
	} {
		var stdout, stderr bytes.Buffer
		if code := benchMain(tc.args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit status %d, want 2", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: stderr %q does not say %q", tc.args, stderr.String(), tc.want)
		}
	}
}

func TestSeedLine(t *testing.T) {
	for _, tc := range []struct {
		r    Row
		want string
	}{
		{Row{Cycles: 100000, Seconds: 3.71, PerSec: 26957}, "Sequential 100000 cycles in ~4 seconds (26957 cycles/s)"},
		{Row{Cycles: 10000, Seconds: 0.37, PerSec: 26987.4}, "Sequential 10000 cycles in ~0 seconds (26987 cycles/s)"},
		{Row{Cycles: 100000, Callers: 10, Parallel: true, Seconds: 1.91, PerSec: 52283}, "Parallel 10 100000 cycles in ~2 seconds (52283 cycles/s)"},
	} {
		if got := seedLine(tc.r); got != tc.want {
			t.Errorf("seedLine = %q, want %q", got, tc.want)
		}
	}
}

func TestCanceled(t *testing.T) {
	// A canceled run ends at once and reports the cancellation, not a hang.
	cfg, err := parseFlags(append([]string{"-cycles", "100000000", "-par", ""}, tiny[4:]...), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = run(ctx, cfg, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("no error from a canceled run")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("canceled run took %v", d)
	}
}

// TestSlowSubscriber runs the slow-subscriber scenario at a tiny size, one
// policy per process (node 1 runs in the test's process): a bound of 50
// pending publications, a subscriber that takes 50/s, 3 s. Each policy
// drops (the publisher goes 10 times faster), the subscriber's pending
// publications never exceed the bound, and disconnect ends the
// subscription.
func TestSlowSubscriber(t *testing.T) {
	for _, policy := range []string{"drop-newest", "drop-oldest", "disconnect"} {
		t.Run(policy, func(t *testing.T) {
			if !clustertest.Isolate(t) {
				return
			}
			_, res := runBench(t, "-scenario", "slow-subscriber", "-slow-duration", "3s", "-slow-sample", "500ms", "-slow-rate", "50",
				"-slow-pending", "50", "-slow-payload", "64", "-slow-policies", policy)
			if len(res.Slow) != 1 {
				t.Fatalf("%d runs, want 1", len(res.Slow))
			}
			r := res.Slow[0]
			if len(r.Samples) < 3 {
				t.Fatalf("%d samples", len(r.Samples))
			}
			last := r.Samples[len(r.Samples)-1]
			if last.Dropped == 0 || last.Received == 0 || last.Taken == 0 || r.MaxRSSBytes <= 0 {
				t.Errorf("last sample %+v, max RSS %d", last, r.MaxRSSBytes)
			}
			for _, s := range r.Samples {
				if s.Pending > int64(r.Pending) {
					t.Errorf("%d pending at %.1fs, bound %d", s.Pending, s.Seconds, r.Pending)
				}
			}
			if r.Disconnected != (policy == "disconnect") {
				t.Errorf("disconnected %v", r.Disconnected)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	n, err := parseVmRSS("Name:\tbench\nVmPeak:\t  9 kB\nVmRSS:\t   12345 kB\nThreads: 4\n")
	if err != nil || n != 12345<<10 {
		t.Errorf("got %d, %v", n, err)
	}
	if _, err := parseVmRSS("Name:\tbench\n"); err == nil {
		t.Error("no VmRSS: no error")
	}
}

// TestProbationScenarios runs slow-handler and flapping-handler at a tiny
// size, one per process: with probation the slow handler's timeouts stop
// after its ejection (far fewer failures than without); the flapping
// handler is ejected after 5 failures in a row and readmitted after it
// answers again, its probes in between failing.
func TestProbationScenarios(t *testing.T) {
	for _, mode := range []string{"off", "on"} {
		t.Run("slow-handler/probation-"+mode, func(t *testing.T) {
			if !clustertest.Isolate(t) {
				return
			}
			_, res := runBench(t, "-scenario", "slow-handler", "-slowh-duration", "2s", "-slowh-callers", "4", "-slowh-probation", mode)
			if len(res.SlowHandler) != 1 {
				t.Fatalf("%d runs, want 1", len(res.SlowHandler))
			}
			r := res.SlowHandler[0]
			// Off: a quarter of the requests fail. On: the ejection stops them.
			if r.Probation != (mode == "on") || r.Requests == 0 ||
				mode == "off" && (r.Failed*10 < r.Requests || r.Ejections != 0) ||
				mode == "on" && (r.Failed*10 > r.Requests || r.OddEjections == 0) {
				t.Errorf("%+v", r)
			}
		})
	}
	t.Run("flapping-handler", func(t *testing.T) {
		if !clustertest.Isolate(t) {
			return
		}
		_, res := runBench(t, "-scenario", "flapping-handler", "-flap-down", "1500ms", "-flap-eject", "300ms", "-slowh-callers", "4")
		f := res.Flapping
		if f == nil || len(f.Events) < 2 {
			t.Fatalf("flapping: %+v", f)
		}
		// The odd one's events; on a loaded machine another handler may
		// miss a deadline too, and then ejecting the odd one would take
		// more than half.
		var odd []FlapEvent
		for _, ev := range f.Events {
			if ev.Handler == "the odd one" {
				odd = append(odd, ev)
			}
		}
		if len(odd) < 2 {
			t.Fatalf("events %+v", f.Events)
		}
		first, last := odd[0], odd[len(odd)-1]
		if first.Type != "ejected" || first.Failures != 5 || last.Type != "readmitted" || last.Seconds < f.DownSeconds {
			t.Errorf("events %+v", odd)
		}
		for _, ev := range odd[1 : len(odd)-1] {
			if ev.Type != "probe-failed" {
				t.Errorf("between the ejection and the readmission: %+v", ev)
			}
		}
	})
}

// The localfirst scenario at tiny size: idle local handlers serve every
// request (counted by the handlers), a saturated one spills, and a full
// handler fails every request with ErrOverloaded.
func TestLocalFirst(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	out, res := runBench(t, "-scenario", "localfirst", "-lf-requests", "40", "-lf-callers", "4", "-lf-work", "2ms")
	lf := res.LocalFirst
	if lf == nil {
		t.Fatal("no localfirst result")
	}
	if lf.Idle.LocalShare != 1 || lf.Idle.Served[0] != 40 || lf.Idle.Errors != 0 {
		t.Errorf("idle: %+v, want all 40 served on node 1", lf.Idle)
	}
	if len(lf.Saturated) != 2 || lf.Saturated[0].Strategy != "local-first" || lf.Saturated[1].Strategy != "round-robin" {
		t.Fatalf("saturated rows: %+v", lf.Saturated)
	}
	for _, row := range lf.Saturated {
		var total int64
		for _, s := range row.Served {
			total += s
		}
		if row.Errors != 0 || total != 40 || row.Latency.P50 <= 0 {
			t.Errorf("saturated %s: %+v", row.Strategy, row)
		}
	}
	if s := lf.Saturated[0]; s.LocalShare >= 1 || s.LocalShare <= 0 {
		t.Errorf("saturated local-first: local share %.2f, want some spilled and some local", s.LocalShare)
	}
	if len(lf.Overloaded) != 2 {
		t.Fatalf("overloaded: %+v", lf.Overloaded)
	}
	for _, f := range lf.Overloaded {
		if f.Overloaded != f.Requests {
			t.Errorf("overloaded handler on node %d: %d of %d failed with ErrOverloaded", f.HandlerNode, f.Overloaded, f.Requests)
		}
	}
	for _, want := range []string{"idle local handlers, local-first", "saturated (2ms of work per request), round-robin", "overloaded handler on node 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
