// Command peers runs bourse's benchmark rows against embedded NATS
// (nats-server and nats.go), so that bourse's figures have a well-known
// neighbour: request-reply cycles, sequential and parallel, on one server
// and across three servers clustered by routes, and pub-sub fan-out over
// several servers. It prints the same lines as `go run ./bench` and writes
// the same JSON, which `go run ./bench -compare` reads.
//
// It is a module of its own so that bourse does not depend on NATS.
//
//	cd bench/peers && go run . -nodes 3
//
// All servers run in this process, each with its own listeners; the
// servers of a multi-node run talk over routes on loopback TCP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() { os.Exit(peersMain(os.Args[1:], os.Stdout, os.Stderr)) }

type config struct {
	scenario    string
	nodes       int
	cycles      []int
	par         []int
	payload     int
	timeout     time.Duration
	subscribers int
	fanoutNodes int
	pubs        int
	jsonFile    string
}

func (c config) runs(s string) bool {
	ss := strings.Split(c.scenario, ",")
	return slices.Contains(ss, s) || slices.Contains(ss, "all")
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.scenario, "scenario", "reqresp", "what to run, comma-separated: reqresp, fanout or all")
	fs.IntVar(&c.nodes, "nodes", 1, "servers of the request-reply rows: 1, or 3 (requester on the first, responder on the third)")
	cycles := fs.String("cycles", "10000,20000,100000", "comma-separated cycles of the sequential rows; the parallel rows run the largest")
	par := fs.String("par", "2,4,10,100", `comma-separated callers of the parallel rows ("" for none)`)
	fs.IntVar(&c.payload, "payload", 4, "request payload in bytes (the reply echoes it)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "deadline of one request")
	fs.IntVar(&c.subscribers, "subscribers", 50000, "fan-out: subscriptions, spread evenly over the servers")
	fs.IntVar(&c.fanoutNodes, "fanout-nodes", 5, "fan-out: servers")
	fs.IntVar(&c.pubs, "pubs", 20, "fan-out: publications of the latency phase and of the throughput phase")
	fs.StringVar(&c.jsonFile, "json", "", "write every figure to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	var errs []error
	var err error
	if c.cycles, err = parseInts("cycles", *cycles, false); err != nil {
		errs = append(errs, err)
	}
	if c.par, err = parseInts("par", *par, true); err != nil {
		errs = append(errs, err)
	}
	for _, s := range strings.Split(c.scenario, ",") {
		if s != "reqresp" && s != "fanout" && s != "all" {
			errs = append(errs, fmt.Errorf("-scenario: unknown scenario %q (known: reqresp, fanout, all)", s))
		}
	}
	if c.nodes != 1 && c.nodes != 3 {
		errs = append(errs, fmt.Errorf("-nodes: %d, want 1 or 3", c.nodes))
	}
	if c.payload < 0 || c.payload > 1<<20 {
		errs = append(errs, fmt.Errorf("-payload: %d bytes, want 0..1048576", c.payload))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout: %v, want more than 0", c.timeout))
	}
	if c.fanoutNodes < 1 || c.fanoutNodes > 16 {
		errs = append(errs, fmt.Errorf("-fanout-nodes: %d, want 1..16", c.fanoutNodes))
	}
	if c.subscribers < 1 || c.subscribers > 1_000_000 {
		errs = append(errs, fmt.Errorf("-subscribers: %d, want 1..1000000", c.subscribers))
	}
	if c.pubs < 1 || c.pubs > 100_000 {
		errs = append(errs, fmt.Errorf("-pubs: %d, want 1..100000", c.pubs))
	}
	return c, errors.Join(errs...)
}

func parseInts(name, s string, emptyOK bool) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if emptyOK {
			return nil, nil
		}
		return nil, fmt.Errorf("-%s: empty list", name)
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-%s: %q is not a positive integer", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}

func peersMain(args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "peers: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res := &Results{Machine: machine()}
	fmt.Fprintf(stdout, "NATS (nats-server %s, nats.go %s): %d CPUs, GOMAXPROCS %d, %s\n",
		res.Machine.NATSServer, res.Machine.NATSClient, res.Machine.CPUs, res.Machine.GOMAXPROCS, res.Machine.GoVersion)
	var errs []error
	if c.runs("reqresp") {
		errs = append(errs, runReqResp(ctx, c, stdout, res))
	}
	if c.runs("fanout") && ctx.Err() == nil {
		errs = append(errs, runFanout(ctx, c, stdout, res))
	}
	for _, r := range res.Rows {
		if r.Errors > 0 {
			errs = append(errs, fmt.Errorf("%s: %d request(s) failed", r.Label(), r.Errors))
		}
	}
	if c.jsonFile != "" {
		errs = append(errs, writeJSON(c.jsonFile, res))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "peers: %v\n", err)
		return 1
	}
	return 0
}
