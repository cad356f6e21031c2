package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
)

func main() {
	if isChild() {
		os.Exit(childMain())
	}
	os.Exit(benchMain(os.Args[1:], os.Stdout, os.Stderr))
}

// benchMain runs the command with args and returns the exit status: 0, 1
// when the run failed, 2 for bad flags.
func benchMain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errFlagsPrinted) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	// Ctrl-C and SIGTERM end the run: rows stop, child nodes are stopped.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	metricsListen, metricsProtoactor = cfg.metrics, cfg.metricsPA
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: -cpuprofile: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: -cpuprofile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	res, err := run(ctx, cfg, args, stdout, stderr)
	if res != nil {
		if cfg.jsonFile != "" {
			if werr := writeJSON(cfg.jsonFile, res); werr != nil {
				err = errors.Join(err, fmt.Errorf("-json: %w", werr))
			}
		}
		if cfg.chartFile != "" && len(res.Rows) > 0 {
			if cerr := drawChart(cfg.chartFile, res); cerr != nil {
				err = errors.Join(err, fmt.Errorf("-chart: %w", cerr))
			}
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "bench: interrupted")
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

// runner runs the scenarios and prints as it goes.
type runner struct {
	cfg      config
	out      io.Writer
	progress *progress
	res      *Results
}

// run runs the scenarios cfg names. It returns what was measured even when
// it fails part way.
func run(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) (*Results, error) {
	r := &runner{cfg: cfg, out: stdout, progress: newProgress(stderr, cfg.progress), res: &Results{
		Machine: machine(),
		Config: ConfigReport{Scenario: cfg.scenario, Nodes: cfg.nodes, Strategy: cfg.strategy, Handlers: cfg.handlers,
			Cycles: cfg.cycles, Par: cfg.par, PayloadBytes: cfg.payload, Timeout: cfg.timeout.Seconds(),
			Subscribers: cfg.subscribers, FanoutNodes: cfg.fanoutNodes, Pubs: cfg.pubs, Args: strings.Join(args, " ")},
	}}
	m := r.res.Machine
	fmt.Fprintf(stdout, "bourse bench: %d CPUs (%s), GOMAXPROCS %d, %s %s/%s, revision %.12s\n",
		m.CPUs, m.CPUModel, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.Revision)
	var errs []error
	if cfg.runs(scenarioReqResp) || cfg.runs(scenarioBaseline) {
		var err error
		if cfg.nodes == 1 {
			err = r.runOneNode(ctx)
		} else {
			err = r.runThreeNodes(ctx)
		}
		errs = append(errs, err)
	}
	if cfg.runs(scenarioFanout) && ctx.Err() == nil {
		errs = append(errs, r.runFanout(ctx))
	}
	if cfg.runs(scenarioSlowSub) && ctx.Err() == nil {
		errs = append(errs, r.runSlowSubscriber(ctx))
	}
	if cfg.runs(scenarioSlowH) && ctx.Err() == nil {
		errs = append(errs, r.runSlowHandler(ctx))
	}
	if cfg.runs(scenarioFlap) && ctx.Err() == nil {
		errs = append(errs, r.runFlapping(ctx))
	}
	if slices.Contains(cfg.scenarios(), scenarioLocalFirst) && ctx.Err() == nil {
		errs = append(errs, r.runLocalFirst(ctx))
	}
	r.res.Ratios = append(ratios(r.res.Rows, r.res.Rows, "raw-local", 1), ratios(r.res.Rows, r.res.Rows, "raw-remote", 3)...)
	printRatios(stdout, "bourse / protoactor RequestFuture (the reference)", r.res.Ratios)
	if cfg.compare && ctx.Err() == nil {
		peers, err := runPeers(ctx, cfg, stderr)
		errs = append(errs, err)
		if peers != nil {
			r.res.Peers = peers
			fmt.Fprintf(stdout, "\n== NATS (bench/peers)\n")
			for _, row := range peers.Rows {
				fmt.Fprintln(stdout, rowLine(row))
			}
			if peers.Fanout != nil {
				fmt.Fprintln(stdout, fanoutLine(*peers.Fanout))
			}
			r.res.PeersRatios = ratios(r.res.Rows, peers.Rows, "nats", cfg.nodes)
			printRatios(stdout, "bourse / NATS", r.res.PeersRatios)
			if f, p := r.res.Fanout, peers.Fanout; f != nil && p != nil && p.DeliveriesPerSec > 0 {
				fmt.Fprintf(stdout, "fan-out deliveries/s: bourse %d, NATS %d: %.2fx\n",
					int(f.DeliveriesPerSec), int(p.DeliveriesPerSec), f.DeliveriesPerSec/p.DeliveriesPerSec)
			}
		}
	}
	var failed int64
	for _, row := range r.res.Rows {
		failed += row.Errors
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d request(s) failed (see ERRORS above)", failed))
	}
	return r.res, errors.Join(errs...)
}

func (r *runner) section(title string) { fmt.Fprintf(r.out, "\n== %s\n", title) }

func (r *runner) printRow(row Row) { fmt.Fprintln(r.out, rowLine(row)) }

func (r *runner) printFanout(f FanoutResult) { fmt.Fprintln(r.out, fanoutLine(f)) }

// status shows what the run is doing on the progress display.
func (r *runner) status(s string) { r.progress.status(s) }
