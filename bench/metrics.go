package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/internal/metrics"
)

// metricsListen is -metrics: where this process's node serves its metrics
// (cluster.Config.MetricsListen), "" for none. Child nodes serve theirs on
// a free port when it is set (childMetricsEnv).
var metricsListen string

// metricsProtoactor is -metrics-protoactor: protoactor's instruments too
// (cluster.Config.MetricsProtoactor).
var metricsProtoactor bool

// childMetricsEnv, set, tells a child node to serve its metrics: "1" ours,
// "protoactor" protoactor's too.
const childMetricsEnv = "BOURSE_BENCH_METRICS"

// newLocalBroker starts the broker of the 1-node rows, with metrics when
// -metrics is set, wired as cluster.Start wires a node's (package
// cluster/metrics.go): the endpoint, its Recorder, its observers of the
// broker's counters and protoactor's instruments. stop stops all of it.
func newLocalBroker() (b *actors.Broker, stop func(context.Context) error, err error) {
	logger := quietLogger()
	if metricsListen == "" {
		b, err := actors.New(actors.WithLogger(logger))
		if err != nil {
			return nil, nil, err
		}
		return b, b.Stop, nil
	}
	inst := metrics.New()
	ep, err := metrics.Listen(metricsListen, inst)
	if err != nil {
		return nil, nil, fmt.Errorf("-metrics: %w", err)
	}
	var systemOpts []actor.ConfigOption
	if metricsProtoactor {
		systemOpts = metrics.ActorSystemOptions(ep.Provider())
	}
	sys := actor.NewActorSystem(append(systemOpts, actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With(slog.String("lib", "protoactor"))
	}))...)
	cfg := actors.DefaultConfig()
	cfg.Logger = logger
	cfg.Recorder = inst
	b, err = actors.New(actors.WithActorSystem(sys), actors.WithConfig(cfg))
	if err != nil {
		sys.Shutdown()
		return nil, nil, errors.Join(err, ep.Shutdown(context.Background()))
	}
	unobserve, err := inst.Observe(ep.Provider(), b)
	if err != nil {
		err = errors.Join(err, b.Stop(context.Background()))
		sys.Shutdown()
		return nil, nil, errors.Join(err, ep.Shutdown(context.Background()))
	}
	printMetricsAddress("node1", ep.Addr())
	return b, func(ctx context.Context) error {
		err := errors.Join(unobserve(), b.Stop(ctx))
		sys.Shutdown()
		return errors.Join(err, ep.Shutdown(ctx))
	}, nil
}

// printMetricsAddress says on stderr where a node's metrics are.
func printMetricsAddress(node, addr string) {
	if addr != "" {
		fmt.Fprintf(os.Stderr, "bench: %s's metrics: http://%s/metrics\n", node, addr)
	}
}
