package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scenarios -scenario accepts.
const (
	scenarioReqResp  = "reqresp"
	scenarioFanout   = "fanout"
	scenarioBaseline = "baseline"
	// The long scenarios: not in "all", run when named.
	scenarioSlowSub = "slow-subscriber"
	scenarioSlowH   = "slow-handler"
	scenarioFlap    = "flapping-handler"
	// scenarioLocalFirst runs on 3 nodes of its own (localfirst.go); "all"
	// does not include it.
	scenarioLocalFirst = "localfirst"
	scenarioAll        = "all"
)

// strategyNames are the strategies -strategy accepts: the built-in ones that
// need no user function (sticky-fun and fun take one in code).
var strategyNames = []string{"round-robin", "default", "consensus", "consensus-round-robin", "sticky"}

// errFlagsPrinted is returned for a flag the flag package rejected and
// reported already.
var errFlagsPrinted = errors.New("bad flags")

// config is what the flags say.
type config struct {
	scenario    string
	nodes       int
	strategy    string
	handlers    int
	cycles      []int // cycles of the sequential rows; parallel rows run the largest
	par         []int // callers of the parallel rows
	payload     int   // bytes
	timeout     time.Duration
	subscribers int
	fanoutNodes int
	pubs        int
	jsonFile    string
	chartFile   string
	cpuProfile  string
	compare     bool
	progress    string        // auto, on, off
	metrics     string        // -metrics: node1's metrics address, "" for none
	metricsPA   bool          // -metrics-protoactor
	lfRequests  int           // -lf-requests
	lfCallers   int           // -lf-callers
	lfWork      time.Duration // -lf-work

	// slow-subscriber
	slowDuration time.Duration
	slowSample   time.Duration
	slowRate     int // publications/s the subscriber takes; the publisher goes slowSpeedup times faster
	slowPending  int
	slowPayload  int
	slowPolicies []string

	// slow-handler, flapping-handler
	slowhDelay    time.Duration
	slowhDeadline time.Duration
	slowhDuration time.Duration
	slowhCallers  int
	slowhModes    []string // "off", "on": probation of each run
	flapDown      time.Duration
	flapEject     time.Duration
	flapDeadline  time.Duration
}

// parseFlags parses args (without the program name). Errors name the flag.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.scenario, "scenario", scenarioReqResp, "what to run, comma-separated: reqresp, fanout, baseline, all, or one of those that run on nodes of their own and take minutes (not in all): localfirst, slow-subscriber, slow-handler, flapping-handler")
	fs.IntVar(&c.nodes, "nodes", 1, "nodes of the request-response and baseline rows: 1 (in process) or 3 (caller, authority and handler each on its own process)")
	fs.StringVar(&c.strategy, "strategy", "round-robin", "strategy of the request-response exchange: "+strings.Join(strategyNames, ", "))
	fs.IntVar(&c.handlers, "handlers", 1, "handlers connected to the request-response exchange")
	cycles := fs.String("cycles", "10000,20000,100000", "comma-separated cycles of the sequential rows; the parallel rows run the largest")
	par := fs.String("par", "2,4,10,100", `comma-separated callers of the parallel rows ("" for none)`)
	fs.IntVar(&c.payload, "payload", 4, "request payload in bytes (the reply echoes it)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "deadline of one request")
	fs.IntVar(&c.subscribers, "subscribers", 50000, "fan-out: subscribers, spread evenly over the nodes")
	fs.IntVar(&c.fanoutNodes, "fanout-nodes", 5, "fan-out: nodes (the publisher's and fanout-nodes-1 child processes)")
	fs.IntVar(&c.pubs, "pubs", 20, "fan-out: publications of the latency phase (one at a time) and of the throughput phase (back to back)")
	fs.StringVar(&c.jsonFile, "json", "", "write every figure and the machine's description to this file")
	fs.StringVar(&c.chartFile, "chart", "", "draw cycles/s and latency percentiles per row to this PNG file")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write this process's CPU profile to this file")
	fs.BoolVar(&c.compare, "compare", false, "also run the NATS rows (go run . in bench/peers) and print the ratios")
	fs.StringVar(&c.progress, "progress", "auto", "progress display on stderr: auto (when stderr is a terminal), on or off")
	fs.StringVar(&c.metrics, "metrics", "", `serve every node's metrics, as YAML metrics.listen does: node1's (this process's) on this host:port ("127.0.0.1:0" picks a free port; the address is printed on stderr), the other nodes' on free ports; "" for none (the default), to measure what metrics cost`)
	fs.BoolVar(&c.metricsPA, "metrics-protoactor", false, "with -metrics, protoactor's own instruments too, as YAML metrics.protoactor does")
	fs.DurationVar(&c.slowDuration, "slow-duration", 60*time.Second, "slow-subscriber: how long the publisher runs, per policy")
	fs.DurationVar(&c.slowSample, "slow-sample", time.Second, "slow-subscriber: how often the subscriber's node's RSS and counters are sampled")
	fs.IntVar(&c.slowRate, "slow-rate", 1000, "slow-subscriber: publications/s the subscriber takes (the publisher goes 10 times faster)")
	fs.IntVar(&c.slowPending, "slow-pending", 65536, "slow-subscriber: the subscriber's bound on pending publications")
	fs.IntVar(&c.slowPayload, "slow-payload", 1024, "slow-subscriber: payload bytes")
	policies := fs.String("slow-policies", "drop-newest,drop-oldest,disconnect", "slow-subscriber: overflow policies to run, comma-separated: drop-newest, drop-oldest, disconnect, unbounded (the control: a bound never reached)")
	fs.DurationVar(&c.slowhDelay, "slowh-delay", 100*time.Millisecond, "slow-handler: how long the slow handler takes per request")
	fs.DurationVar(&c.slowhDeadline, "slowh-deadline", 50*time.Millisecond, "slow-handler: the callers' deadline per request (below -slowh-delay, so that the slow handler's requests fail)")
	fs.DurationVar(&c.slowhDuration, "slowh-duration", 30*time.Second, "slow-handler: how long each run (probation off, on) lasts")
	fs.IntVar(&c.slowhCallers, "slowh-callers", 8, "slow-handler, flapping-handler: concurrent callers on node 1")
	modes := fs.String("slowh-probation", "off,on", "slow-handler: the runs, each on a cluster of its own: node 1's probation off, on")
	fs.DurationVar(&c.flapDown, "flap-down", 10*time.Second, "flapping-handler: how long the handler stops answering")
	fs.DurationVar(&c.flapDeadline, "flap-deadline", 250*time.Millisecond, "flapping-handler: the callers' deadline per request (above what a loaded machine's healthy handlers take, so that only the silent one is ejected)")
	fs.DurationVar(&c.flapEject, "flap-eject", 0, "flapping-handler: node 1's first ejection (broker.probation.eject; 0: the default, 5s)")
	fs.IntVar(&c.lfRequests, "lf-requests", 5000, "localfirst: requests of each phase")
	fs.IntVar(&c.lfCallers, "lf-callers", 8, "localfirst: callers on node 1 in the saturated phase")
	fs.DurationVar(&c.lfWork, "lf-work", time.Millisecond, "localfirst: each handler's work per request in the saturated phase")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, errFlagsPrinted // the flag package has printed it, with the usage
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	var err error
	if c.cycles, err = parseInts("cycles", *cycles, false); err != nil {
		return c, err
	}
	if c.par, err = parseInts("par", *par, true); err != nil {
		return c, err
	}
	for _, m := range strings.Split(*modes, ",") {
		if m = strings.TrimSpace(m); m != "" {
			c.slowhModes = append(c.slowhModes, m)
		}
	}
	for _, p := range strings.Split(*policies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.slowPolicies = append(c.slowPolicies, p)
		}
	}
	return c, c.validate()
}

// parseInts parses a comma-separated list of positive integers.
func parseInts(flagName, s string, emptyOK bool) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if emptyOK {
			return nil, nil
		}
		return nil, fmt.Errorf("-%s: empty list", flagName)
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-%s: %q is not a positive integer", flagName, f)
		}
		out = append(out, n)
	}
	return out, nil
}

func (c config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, s := range c.scenarios() {
		switch s {
		case scenarioReqResp, scenarioFanout, scenarioBaseline, scenarioAll, scenarioLocalFirst, scenarioSlowSub, scenarioSlowH, scenarioFlap:
		default:
			bad("-scenario: unknown scenario %q (known: reqresp, fanout, baseline, all, localfirst, slow-subscriber, slow-handler, flapping-handler)", s)
		}
	}
	if c.nodes != 1 && c.nodes != 3 {
		bad("-nodes: %d, want 1 or 3", c.nodes)
	}
	if !slices.Contains(strategyNames, c.strategy) {
		bad("-strategy: unknown strategy %q (known: %s)", c.strategy, strings.Join(strategyNames, ", "))
	}
	if c.handlers < 1 || c.handlers > 1000 {
		bad("-handlers: %d, want 1..1000", c.handlers)
	}
	for _, p := range c.par {
		if p > 10000 {
			bad("-par: %d callers, want at most 10000", p)
		}
	}
	if c.payload < 0 || c.payload > 4<<20 {
		bad("-payload: %d bytes, want 0..4194304", c.payload)
	}
	if c.timeout <= 0 {
		bad("-timeout: %v, want more than 0", c.timeout)
	}
	if c.metricsPA && c.metrics == "" {
		bad("-metrics-protoactor: needs -metrics")
	}
	if c.metrics != "" {
		if _, _, err := net.SplitHostPort(c.metrics); err != nil {
			bad("-metrics: %q is not host:port (e.g. 127.0.0.1:9464, or 127.0.0.1:0 for a free port)", c.metrics)
		}
	}
	if c.lfRequests < 1 || c.lfRequests > 10_000_000 {
		bad("-lf-requests: %d, want 1..10000000", c.lfRequests)
	}
	if c.lfCallers < 1 || c.lfCallers > 10000 {
		bad("-lf-callers: %d, want 1..10000", c.lfCallers)
	}
	if c.lfWork < 0 || c.lfWork > time.Second {
		bad("-lf-work: %v, want 0..1s", c.lfWork)
	}
	if c.fanoutNodes < 1 || c.fanoutNodes > 16 {
		bad("-fanout-nodes: %d, want 1..16", c.fanoutNodes)
	}
	if c.subscribers < 1 || c.subscribers > 1_000_000 {
		bad("-subscribers: %d, want 1..1000000", c.subscribers)
	}
	if c.pubs < 1 || c.pubs > 100_000 {
		bad("-pubs: %d, want 1..100000", c.pubs)
	}
	if c.slowDuration <= 0 || c.slowSample <= 0 {
		bad("-slow-duration, -slow-sample: %v, %v, want more than 0", c.slowDuration, c.slowSample)
	}
	if c.slowRate < 1 || c.slowRate > 100_000 {
		bad("-slow-rate: %d, want 1..100000 (the publisher goes 10 times faster)", c.slowRate)
	}
	if c.slowPending < 1 || c.slowPending > 1<<30 {
		bad("-slow-pending: %d, want 1..1073741824", c.slowPending)
	}
	if c.slowPayload < 0 || c.slowPayload > 1<<20 {
		bad("-slow-payload: %d bytes, want 0..1048576", c.slowPayload)
	}
	if len(c.slowPolicies) == 0 {
		bad("-slow-policies: empty")
	}
	for _, p := range c.slowPolicies {
		if !slices.Contains([]string{"drop-newest", "drop-oldest", "disconnect", policyUnbounded}, p) {
			bad("-slow-policies: unknown policy %q (known: drop-newest, drop-oldest, disconnect, unbounded)", p)
		}
	}
	if c.slowhDelay <= 0 || c.slowhDeadline <= 0 || c.slowhDuration <= 0 || c.flapDown <= 0 || c.flapDeadline <= 0 || c.flapEject < 0 {
		bad("-slowh-delay, -slowh-deadline, -slowh-duration, -flap-down, -flap-deadline: want more than 0; -flap-eject: 0 or more")
	}
	for _, m := range c.slowhModes {
		if m != "off" && m != "on" {
			bad("-slowh-probation: %q, want off, on or both", m)
		}
	}
	if c.slowhCallers < 1 || c.slowhCallers > 1000 {
		bad("-slowh-callers: %d, want 1..1000", c.slowhCallers)
	}
	switch c.progress {
	case "auto", "on", "off":
	default:
		bad("-progress: %q, want auto, on or off", c.progress)
	}
	if c.chartFile != "" && !strings.HasSuffix(strings.ToLower(c.chartFile), ".png") {
		bad("-chart: %q, want a file name ending in .png", c.chartFile)
	}
	return errors.Join(errs...)
}

// scenarios returns the -scenario list.
func (c config) scenarios() []string {
	var out []string
	for _, s := range strings.Split(c.scenario, ",") {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

// runs reports whether scenario s is part of the run. "all" is every
// scenario but the long ones (slow-subscriber, slow-handler,
// flapping-handler), which run when named.
func (c config) runs(s string) bool {
	ss := c.scenarios()
	long := s == scenarioSlowSub || s == scenarioSlowH || s == scenarioFlap
	return slices.Contains(ss, s) || slices.Contains(ss, scenarioAll) && !long
}

// parCycles is the number of cycles of the parallel rows.
func (c config) parCycles() int { return slices.Max(c.cycles) }
