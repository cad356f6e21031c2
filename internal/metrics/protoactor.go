package metrics

import (
	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// ActorSystemOptions returns the options that switch protoactor's own
// instruments on, reporting to mp, for the actor system about to be made
// (actor.NewActorSystem).
//
// The pinned protoactor (v0.0.0-20240822202345-3c0e61ca19c9) makes its
// instruments only when the system's Config.MetricsProvider is set, but
// with otel.Meter: on the process's global meter provider, not on that
// one. So ActorSystemOptions also makes mp the global provider
// (otel.SetMeterProvider). With several systems in one process, the
// instruments protoactor makes later (a mailbox gauge per actor spawned)
// report to the last mp set.
func ActorSystemOptions(mp metric.MeterProvider) []actor.ConfigOption {
	otel.SetMeterProvider(mp)
	return []actor.ConfigOption{actor.WithMetricProviders(mp)}
}
