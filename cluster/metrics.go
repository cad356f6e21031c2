package cluster

import (
	"context"
	"fmt"
	"net"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/internal/metrics"
)

// nodeMetrics is a node's metrics (Config.MetricsListen): the Prometheus
// endpoint, bourse's instruments, and the registration of the observable
// ones.
type nodeMetrics struct {
	endpoint  *metrics.Endpoint
	inst      *metrics.Instruments
	unobserve func() error
}

// checkMetricsListen is Validate's rule for Config.MetricsListen.
func checkMetricsListen(addr string) error {
	if addr == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return errs.Field("cluster.Config.MetricsListen", "%q is not host:port (e.g. 127.0.0.1:9464; port 0 picks a free one)", addr)
	}
	return nil
}

// startMetrics starts the endpoint of cfg.MetricsListen and the
// instruments on it; nil when metrics are off. It returns the actor system
// options that switch protoactor's own instruments on when
// cfg.MetricsProtoactor says so (see metrics.ActorSystemOptions: they set
// the global meter provider).
func startMetrics(cfg Config) (*nodeMetrics, []actor.ConfigOption, error) {
	if cfg.MetricsListen == "" {
		return nil, nil, nil
	}
	inst := metrics.New()
	ep, err := metrics.Listen(cfg.MetricsListen, inst)
	if err != nil {
		return nil, nil, &errs.FieldError{Field: "cluster.Config.MetricsListen",
			Problem: fmt.Sprintf("cannot serve metrics on %q: %v", cfg.MetricsListen, err), Err: err}
	}
	var opts []actor.ConfigOption
	if cfg.MetricsProtoactor {
		opts = metrics.ActorSystemOptions(ep.Provider())
	}
	return &nodeMetrics{endpoint: ep, inst: inst}, opts, nil
}

// observe registers the observable instruments on src.
func (m *nodeMetrics) observe(src metrics.Source) error {
	stop, err := m.inst.Observe(m.endpoint.Provider(), src)
	if err != nil {
		return fmt.Errorf("bourse: cluster: metrics: %w", err)
	}
	m.unobserve = stop
	return nil
}

// stop unregisters the observable instruments and stops the endpoint.
// Safe on a nil *nodeMetrics (metrics off).
func (m *nodeMetrics) stop(ctx context.Context) error {
	if m == nil {
		return nil
	}
	var err error
	if m.unobserve != nil {
		err = m.unobserve()
		m.unobserve = nil
	}
	if serr := m.endpoint.Shutdown(ctx); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("bourse: cluster: stop metrics: %w", err)
	}
	return nil
}

// MetricsAddress returns the address the node's metrics endpoint listens
// on (Config.MetricsListen, with the port it picked for port 0), or ""
// when metrics are off. Its metrics are at http://ADDRESS/metrics.
func (n *Node) MetricsAddress() string {
	if n.metrics == nil {
		return ""
	}
	return n.metrics.endpoint.Addr()
}
