package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/bourse-go/bourse/cluster/deploy"
	boursepb "github.com/bourse-go/bourse/proto"
)

// Deploy deploys spec in the cluster and returns once it runs as it says:
// every instance the placement assigns (deploy.Place over the live members; for
// a cluster singleton, one instance on the candidate that leads it) has
// started (its kind's constructor returned without error), is connected
// to spec.Exchange, and every node that declares that exchange routes to
// it; and no other instance of it runs (one that a hand-over moves away is
// gone). The spec then lives in the cluster, not in the caller: every node
// keeps it, and the instances are started again elsewhere when their node
// dies, and on nodes that join, even after the node that called Deploy is
// gone.
//
// Errors: spec.Validate's *errs.FieldError; an *UnknownKindError when this
// node has no constructor for spec.Kind; a *deploy.PlaceError when no live
// member matches the selector or the instances cannot fit (an error now,
// not a silent zero); an error wrapping deploy.ErrConflict when the name
// is deployed with another spec (the same spec again is a no-op that
// waits for it to run). When an instance fails on some node, or ctx ends
// first, Deploy returns a *deploy.Error listing each node's failure, after
// it stopped what started and removed the spec (unless spec.KeepPartial:
// then what runs stays, and the failed instances are tried again with
// back-off).
func (n *Node) Deploy(ctx context.Context, spec deploy.Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if _, err := deploy.Place(spec, candidatesOf(n.Members())); err != nil {
		return err
	}
	if err := n.Apply(ctx, spec); err != nil {
		return err
	}
	err := n.deployer.await(ctx, spec)
	if err == nil {
		return nil
	}
	var de *deploy.Error
	if !errors.As(err, &de) {
		return err
	}
	if !spec.KeepPartial {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if uerr := n.Undeploy(rctx, spec.Name); uerr != nil {
			n.log.Warn("deploy: rollback incomplete", slog.String("service", spec.Name), slog.Any("error", uerr))
		} else {
			de.RolledBack = true
		}
	}
	return de
}

// Apply records spec in the cluster and returns without waiting for it to
// run, as a declarative configuration does (a node started from a YAML
// file applies its services section): the nodes start its instances as
// soon as the membership allows (a selector matching no node yet, or
// replicas that cannot fit yet, wait for the nodes that will come, with a
// warning in the log). Await waits for it to run. Errors are those of
// Deploy that need no placement: spec.Validate's, an *UnknownKindError,
// and deploy.ErrConflict; applying the same spec again is a no-op.
func (n *Node) Apply(ctx context.Context, spec deploy.Spec) error {
	d := n.deployer
	if err := spec.Validate(); err != nil {
		return err
	}
	if err := d.kinds.Check(spec.Kind); err != nil {
		return err
	}
	if e := d.live(spec.Name); e != nil {
		if cur := specFromWire(e.GetSpec()); !cur.Equal(spec) {
			return fmt.Errorf("%w: %q runs as %s; undeploy it first", deploy.ErrConflict, spec.Name, cur)
		}
	} else {
		d.push(ctx, d.write(spec, false))
	}
	d.kickNow()
	return nil
}

// Await waits until the deployed service name runs as Deploy promises
// (every instance started, connected, and routed to on every node), and
// returns nil; or until an instance fails, and returns a *deploy.Error
// listing the failures (without rolling back: what runs stays, and failed
// instances are tried again); or until ctx ends (a *deploy.Error wrapping
// ctx.Err()). It returns an error wrapping deploy.ErrNotDeployed when the
// service is not deployed.
func (n *Node) Await(ctx context.Context, name string) error {
	e := n.deployer.live(name)
	if e == nil {
		return fmt.Errorf("%w: %q", deploy.ErrNotDeployed, name)
	}
	return n.deployer.await(ctx, specFromWire(e.GetSpec()))
}

// Undeploy removes the service name from the cluster and returns once no
// node runs an instance of it (or ctx ends: the removal goes on, and
// Undeploy returns an error wrapping ctx.Err()). It returns an error
// wrapping deploy.ErrNotDeployed when no service of that name is deployed.
func (n *Node) Undeploy(ctx context.Context, name string) error {
	d := n.deployer
	e := d.live(name)
	if e == nil {
		return fmt.Errorf("%w: %q", deploy.ErrNotDeployed, name)
	}
	d.push(ctx, d.write(specFromWire(e.GetSpec()), true))
	d.kickNow()
	t := time.NewTicker(deployPoll)
	defer t.Stop()
	for {
		left := 0
		for _, st := range d.statusAll(ctx, name) {
			left += len(st.GetInstances())
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bourse: undeploy %q: %d instance(s) still stopping: %w", name, left, ctx.Err())
		case <-t.C:
		}
	}
}

// Deployments returns the specs deployed in the cluster, as this node
// knows them, ordered by name.
func (n *Node) Deployments() []deploy.Spec {
	out := n.deployer.liveSpecs()
	slices.SortFunc(out, func(a, b deploy.Spec) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Placements asks every live node what it runs of service ("" for every
// service) and returns the instances, ordered by service, node and key. A
// node that does not answer within ctx is missing from the list.
func (n *Node) Placements(ctx context.Context, service string) []deploy.Running {
	var out []deploy.Running
	for _, st := range n.deployer.statusAll(ctx, service) {
		for _, in := range st.GetInstances() {
			out = append(out, deploy.Running{
				Service: in.GetService(), Node: st.GetNode(), Key: in.GetKey(), Slot: int(in.GetSlot()),
				State: deploy.State(in.GetState()), Err: failureFromWire(in.GetFailure()), ConnID: in.GetConnId(),
			})
		}
	}
	slices.SortFunc(out, func(a, b deploy.Running) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Node, b.Node), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// WatchDeploy returns a channel of the changes of this node's instances
// (placed, removed, failed), and a function that ends the watch and
// closes the channel. The channel holds DeployEventBuffer events; a
// watcher that falls behind misses events (Placements tells the state).
// It is closed when the node stops.
func (n *Node) WatchDeploy() (<-chan deploy.Event, func()) {
	return n.deployer.events.subscribe(DeployEventBuffer)
}

// DeployEventBuffer is the capacity of the channel WatchDeploy returns.
const DeployEventBuffer = 256

// push sends e to every live peer; a peer that misses it gets it when it
// next pulls (every few seconds, and when it sees a node come up).
func (d *deployer) push(ctx context.Context, e *boursepb.DeployEntry) {
	req := &boursepb.DeployControl{Op: &boursepb.DeployControl_Apply{Apply: &boursepb.DeployEntries{Entries: []*boursepb.DeployEntry{e}}}}
	var wg sync.WaitGroup
	for _, p := range d.peers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.call(ctx, p, req); err != nil {
				d.log.Debug("pushing a spec failed; the peer will pull it", slog.String("peer", p), slog.Any("error", err))
			}
		}()
	}
	wg.Wait()
}

// statusAll asks every live node, this one included, for its status of
// service.
func (d *deployer) statusAll(ctx context.Context, service string) []*boursepb.DeployStatus {
	req := &boursepb.DeployControl{Op: &boursepb.DeployControl_Status{Status: &boursepb.DeployStatusRequest{Service: service}}}
	peers := d.peers()
	out := make([]*boursepb.DeployStatus, len(peers)+1)
	out[0] = d.status(service)
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := d.call(ctx, p, req); err == nil {
				out[i+1] = st
			}
		}()
	}
	wg.Wait()
	return slices.DeleteFunc(out, func(s *boursepb.DeployStatus) bool { return s == nil })
}

// await polls the nodes until spec runs as Deploy promises, or every
// instance of it has either started or failed and one failed, or ctx ends.
func (d *deployer) await(ctx context.Context, spec deploy.Spec) error {
	t := time.NewTicker(deployPoll)
	defer t.Stop()
	for {
		p, err := d.check(ctx, spec)
		switch {
		case err != nil:
			return err
		case len(p.failures) > 0 && p.settled:
			return &deploy.Error{Service: spec.Name, Failures: p.failures}
		case p.done:
			return nil
		}
		select {
		case <-ctx.Done():
			return &deploy.Error{Service: spec.Name, Failures: p.failures, Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// progress is where a deployment stands.
type progress struct {
	done     bool // every instance runs and every node routes to it
	settled  bool // every instance runs or failed
	failures []*deploy.NodeError
}

// check reads every node's status of spec.
func (d *deployer) check(ctx context.Context, spec deploy.Spec) (progress, error) {
	var p progress
	sts := d.statusAll(ctx, spec.Name)
	state := map[string]*boursepb.DeployInstance{} // node/key → instance
	var single *boursepb.DeployInstance            // a cluster singleton's, running or failed
	for _, st := range sts {
		for _, e := range st.GetEntries() {
			if cur := specFromWire(e.GetSpec()); !cur.Equal(spec) {
				return p, fmt.Errorf("%w: node %s has %q as %s", deploy.ErrConflict, st.GetNode(), spec.Name, cur)
			}
		}
		for _, in := range st.GetInstances() {
			state[st.GetNode()+"/"+in.GetKey()] = in
			switch deploy.State(in.GetState()) {
			case deploy.StateFailed:
				p.failures = append(p.failures, &deploy.NodeError{Node: st.GetNode(), Service: spec.Name, Key: in.GetKey(),
					Err: failureFromWire(in.GetFailure())})
				if single == nil {
					single = in
				}
			case deploy.StateRunning:
				single = in
			}
		}
	}
	slices.SortFunc(p.failures, func(a, b *deploy.NodeError) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Key, b.Key))
	})
	var want []string
	if spec.Mode == deploy.ModeClusterSingleton {
		if single == nil {
			return p, nil
		}
		p.settled = true
		if deploy.State(single.GetState()) != deploy.StateRunning {
			return p, nil
		}
		for _, in := range state {
			if in != single && deploy.State(in.GetState()) != deploy.StateFailed {
				return p, nil // the last leader's instance is still stopping
			}
		}
		// One runs: a failed attempt of an earlier leader elsewhere is
		// history, not a failure of this deployment.
		p.failures = nil
		want = []string{single.GetConnId()}
	} else {
		a, err := deploy.Place(spec, candidatesOf(d.n.Members()))
		if err != nil {
			return p, err
		}
		p.settled = true
		running := true
		placed := map[string]bool{}
		for _, pl := range a.Placements {
			placed[pl.Node+"/"+keyOf(spec, pl)] = true
		}
		// An instance that runs where the placement no longer puts it (a
		// hand-over not finished: it stops once its successor is routed
		// to) means not yet: the service runs as the spec says only once
		// it is gone.
		for nk, in := range state {
			if !placed[nk] && deploy.State(in.GetState()) != deploy.StateFailed {
				running = false
			}
		}
		for _, pl := range a.Placements {
			in := state[pl.Node+"/"+keyOf(spec, pl)]
			switch {
			case in == nil:
				p.settled, running = false, false
			case deploy.State(in.GetState()) == deploy.StateFailed:
				running = false
			case deploy.State(in.GetState()) == deploy.StateRunning:
				want = append(want, in.GetConnId())
			default:
				p.settled, running = false, false
			}
		}
		if !running {
			return p, nil
		}
	}
	for _, st := range sts {
		for _, v := range st.GetVisible() {
			if !v.GetDeclared() {
				continue
			}
			for _, id := range want {
				if !slices.Contains(v.GetConnIds(), id) {
					return p, nil
				}
			}
		}
	}
	p.done = true
	return p, nil
}

func (d *deployer) emit(ev deploy.Event) {
	ev.Node = d.n.Name()
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	d.events.publish(ev, nil)
}
