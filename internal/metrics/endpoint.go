package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Path is where an Endpoint serves its metrics.
const Path = "/metrics"

// Endpoint is a meter provider and the HTTP server that serves what it
// measures in Prometheus' text format at Path. It has a registry of its
// own, so several endpoints (several nodes) live in one process.
type Endpoint struct {
	provider *sdkmetric.MeterProvider
	srv      *http.Server
	addr     string
	served   chan struct{} // closed when the server's goroutine has returned
	once     sync.Once
	err      error
}

// Listen starts an endpoint listening on addr ("host:port"; port 0 picks a
// free one), which also serves what producers produce (Instruments' duration
// histograms). Its errors are the listener's.
func Listen(addr string, producers ...sdkmetric.Producer) (*Endpoint, error) {
	reg := prometheus.NewRegistry()
	opts := []otelprom.Option{otelprom.WithRegisterer(reg)}
	for _, p := range producers {
		opts = append(opts, otelprom.WithProducer(p))
	}
	exp, err := otelprom.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("bourse: metrics: prometheus exporter: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	e := &Endpoint{
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)),
		srv:      &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		addr:     ln.Addr().String(),
		served:   make(chan struct{}),
	}
	go func() {
		defer close(e.served)
		_ = e.srv.Serve(ln) // ErrServerClosed after Shutdown
	}()
	return e, nil
}

// Addr returns the address the endpoint listens on.
func (e *Endpoint) Addr() string { return e.addr }

// Provider returns the endpoint's meter provider, to observe counters on
// (Instruments.Observe) and to hand protoactor (ActorSystemOptions).
func (e *Endpoint) Provider() metric.MeterProvider { return e.provider }

// Shutdown stops serving, waits for the server's goroutine and shuts the
// meter provider down. ctx bounds the wait for scrapes in progress. It is
// idempotent: later calls return the first call's result. It is safe for
// concurrent use (a second caller waits for the first).
func (e *Endpoint) Shutdown(ctx context.Context) error {
	e.once.Do(func() {
		err := e.srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, e.srv.Close())
		}
		<-e.served
		e.err = errors.Join(err, e.provider.Shutdown(ctx))
	})
	return e.err
}
