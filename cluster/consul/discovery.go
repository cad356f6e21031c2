package consul

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/consul/api"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/errs"
)

var _ cluster.Discovery = (*Discovery)(nil)

// Discovery is a cluster.Discovery backed by a Consul agent. Create it with
// New, then Start it once and Stop it once (Stop may be repeated). Its methods
// may be called from any goroutine.
type Discovery struct {
	cfg       Config
	client    *api.Client
	transport *http.Transport // closed on Stop so no idle connection outlives it

	mu      sync.Mutex
	state   state
	cancel  context.CancelFunc // ends the goroutines Start began
	id      string             // service instance ID, "<cluster>/<node>"
	dereg   bool               // the instance has been deregistered
	deregEr error              // the deregistration's result
	wg      sync.WaitGroup     // tracks the goroutines Start began

	// gate serialises calls of update with Stop: the watcher holds its one
	// slot while it calls update, and calls it only if the goroutines'
	// context is live; Stop cancels that context, then takes the slot to
	// wait for a call in progress.
	gate chan struct{}

	// refreshPaused stops the node from passing its check while the agent
	// stays reachable: a test hook for a hung node.
	refreshPaused atomic.Bool
}

type state int

const (
	idle state = iota
	running
	stopped
)

// New returns a Discovery for the agent at cfg.Address. It validates cfg (see
// Config.Validate) but does not contact the agent: Start does.
func New(cfg Config) (*Discovery, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// Our own transport and client: api.DefaultConfig's would read TLS and
	// address settings from the environment, and we must be able to close
	// the idle connections. No client timeout: blocking queries last up to
	// WaitTime and are bounded by their context instead.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 4
	client, err := api.NewClient(&api.Config{
		Address:    cfg.Address,
		Scheme:     "http",
		Token:      cfg.Token,
		Transport:  transport,
		HttpClient: &http.Client{Transport: transport},
	})
	if err != nil {
		return nil, fmt.Errorf("bourse: consul: client for %s: %w", cfg.Address, err)
	}
	return &Discovery{
		cfg:       cfg,
		client:    client,
		transport: transport,
		gate:      make(chan struct{}, 1),
	}, nil
}

// Start registers self with the agent as an instance of the service named
// self.Cluster, passes its TTL check, and begins two goroutines: one passes
// the check every RefreshInterval (re-registering if the agent forgot the
// instance, logging while the agent is unreachable), the other watches the
// service's passing instances with blocking queries and calls update with
// them, sorted by address, after the first answer and whenever they change.
// self is among them once its check passes.
//
// update is called from one goroutine at a time, and no call starts once
// Stop has begun; a slow update delays the next answer, not the node's
// check. ctx bounds the
// registration only. Start returns an error wrapping ErrUnavailable when the
// agent cannot be reached or refuses the registration (the Discovery may be
// started again), an *errs.FieldError for an invalid self, ErrStarted when already
// running and ErrStopped after Stop.
func (d *Discovery) Start(ctx context.Context, self cluster.Registration, update func(peers []cluster.Peer)) error {
	if err := validateRegistration(self); err != nil {
		return err
	}
	if update == nil {
		return errs.Field("consul.Discovery.Start", "update is nil")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.state {
	case running:
		return ErrStarted
	case stopped:
		return ErrStopped
	}

	reg := d.registration(self)
	log := d.cfg.Logger.With("service", self.Cluster, "id", reg.ID, "agent", d.cfg.Address)
	if err := d.register(ctx, reg); err != nil {
		d.transport.CloseIdleConnections()
		return err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	d.state, d.cancel, d.id = running, cancel, reg.ID
	d.goFunc(func() { d.refresh(runCtx, reg, log) })
	d.goFunc(func() { d.watch(runCtx, self.Cluster, update, log) })
	return nil
}

// Stop ends the goroutines Start began, waiting for a call of update in
// progress and for the goroutines, or for ctx, then deregisters the node from
// the agent (best effort: an error is returned, and Consul removes the
// instance DeregisterAfter after its check goes critical anyway). No call of
// update starts once Stop has begun; when Stop returns nil, none is running.
//
// Stop is idempotent: once it has deregistered the node, or failed to for a
// reason other than ctx, later calls return the same result whatever their
// ctx. If ctx ends first, Stop returns an error wrapping ctx's error and a
// later Stop finishes the job. Stop before Start only prevents Start.
func (d *Discovery) Stop(ctx context.Context) error {
	d.mu.Lock()
	d.state = stopped
	cancel, finished, result := d.cancel, d.dereg, d.deregEr
	d.mu.Unlock()
	if cancel == nil { // never started
		return nil
	}
	if finished {
		return result
	}
	cancel()

	// Wait for a call of update in progress; deliver starts none now.
	if !acquire(ctx, d.gate) {
		return fmt.Errorf("bourse: consul: stop: waiting for update to return: %w", ctx.Err())
	}
	<-d.gate

	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	if !wait(ctx, done) {
		return fmt.Errorf("bourse: consul: stop: waiting for goroutines: %w", ctx.Err())
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dereg { // a concurrent Stop did it
		return d.deregEr
	}
	err := d.deregister(ctx)
	d.transport.CloseIdleConnections()
	if err != nil && ctx.Err() != nil {
		// Cut short by ctx: not the final result, a later Stop retries.
		return fmt.Errorf("bourse: consul: stop: %w (%v)", ctx.Err(), err)
	}
	d.dereg, d.deregEr = true, err
	return err
}

// acquire puts a token into gate, or gives up when ctx ends; a free gate is
// taken even when ctx has already ended.
func acquire(ctx context.Context, gate chan struct{}) bool {
	select {
	case gate <- struct{}{}:
		return true
	default:
	}
	select {
	case gate <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// wait waits for done to be closed, or gives up when ctx ends; done already
// closed wins over ctx already ended.
func wait(ctx context.Context, done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// goFunc runs f in a goroutine tracked by d.wg.
func (d *Discovery) goFunc(f func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
}

// deliver calls update with peers unless Stop has begun (ctx, the
// goroutines' context, has ended); it reports whether it did.
func (d *Discovery) deliver(ctx context.Context, update func([]cluster.Peer), peers []cluster.Peer) bool {
	d.gate <- struct{}{}
	defer func() { <-d.gate }()
	if ctx.Err() != nil {
		return false
	}
	update(slices.Clone(peers)) // update may keep or change its slice
	return true
}

func (d *Discovery) registration(self cluster.Registration) *api.AgentServiceRegistration {
	id := self.Cluster + "/" + self.Node
	return &api.AgentServiceRegistration{
		ID:      id,
		Name:    self.Cluster,
		Address: self.Host,
		Port:    self.Port,
		Meta:    map[string]string{metaNode: self.Node},
		Check: &api.AgentServiceCheck{
			CheckID: checkID(id),
			Name:    "bourse node TTL",
			TTL:     d.cfg.TTL.String(),
			// Passing from the start, so peers need not wait for the first
			// refresh; the TTL runs from the registration.
			Status:                         api.HealthPassing,
			DeregisterCriticalServiceAfter: d.cfg.DeregisterAfter.String(),
		},
	}
}

// metaNode is the service meta key that carries the node's name.
const metaNode = "node"

func checkID(serviceID string) string { return "service:" + serviceID }

// register registers reg and passes its check, with errors wrapping
// ErrUnavailable.
func (d *Discovery) register(ctx context.Context, reg *api.AgentServiceRegistration) error {
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := d.client.Agent().ServiceRegisterOpts(reg, opts); err != nil {
		return fmt.Errorf("%w: register %q at %s: %v", ErrUnavailable, reg.ID, d.cfg.Address, err)
	}
	if err := d.pass(ctx, reg.ID); err != nil {
		return fmt.Errorf("%w: pass check of %q at %s: %v", ErrUnavailable, reg.ID, d.cfg.Address, err)
	}
	return nil
}

// pass marks the instance's TTL check passing.
func (d *Discovery) pass(ctx context.Context, serviceID string) error {
	q := (&api.QueryOptions{}).WithContext(ctx)
	return d.client.Agent().UpdateTTLOpts(checkID(serviceID), "", api.HealthPassing, q)
}

// deregister removes the instance; one the agent does not know (it restarted
// or already reaped it) counts as removed.
func (d *Discovery) deregister(ctx context.Context) error {
	q := (&api.QueryOptions{}).WithContext(ctx)
	err := d.client.Agent().ServiceDeregisterOpts(d.id, q)
	var se api.StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bourse: consul: deregister %q at %s: %w", d.id, d.cfg.Address, err)
	}
	return nil
}

func validateRegistration(r cluster.Registration) error {
	switch {
	case r.Cluster == "":
		return errs.Field("cluster.Registration.Cluster", "is empty")
	case r.Node == "":
		return errs.Field("cluster.Registration.Node", "is empty")
	case r.Host == "":
		return errs.Field("cluster.Registration.Host", "is empty")
	case r.Port < 1 || r.Port > 65535:
		return errs.Field("cluster.Registration.Port", "is %d, want 1-65535", r.Port)
	}
	return nil
}
