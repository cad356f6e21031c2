package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster/deploy"
)

// The kinds this example's services are made of, as trading.yaml names
// them.
const (
	kindEngine = "matching-engine"
	kindFeed   = "market-data"
	kindBook   = "order-book"
	kindDesk   = "order-desk"
)

// kinds registers the constructors this node can run. The lesson: a kind
// is code, registered by name on every node; the YAML names the kind, and
// the cluster calls the constructor on the node it places an instance on,
// with the instance's slot. What the node has of its own (its broker, its
// name, its venue) the closures capture.
//
// A constructor is the instance's start-up: an error fails the instance,
// and Node.Await reports it, naming the node. What it returns is what
// Broker.Serve takes: a handler and its options. A handler with a
// Stop(ctx) method is stopped when the cluster removes the instance.
//
// The cluster may call a constructor before config.Start has returned the
// node: those that need the node's broker wait for it (afterStart).
func (nd *node) kinds() (*deploy.Kinds, error) {
	k := deploy.NewKinds()
	return k, errors.Join(
		k.Register(kindEngine, nd.newEngine),
		k.Register(kindFeed, nd.newFeed),
		k.Register(kindBook, nd.newBook),
		k.Register(kindDesk, func(context.Context, deploy.Spec, int) (deploy.Instance, error) {
			return deploy.Instance{Handler: orderDesk()}, nil
		}),
	)
}

// newEngine builds the cluster singleton: the cluster calls it on the node
// whose candidate leads bourse.singleton.engine, when that leadership
// starts. The engine keeps its own account of when it leads "matching"
// (OnLeader), so the report can check that two engines never matched at
// once.
func (nd *node) newEngine(context.Context, deploy.Spec, int) (deploy.Instance, error) {
	e := newEngine(nd.name)
	nd.mu.Lock()
	nd.engines = append(nd.engines, e)
	nd.mu.Unlock()
	return deploy.Instance{Handler: e, Options: []actors.ServeOption{actors.OnLeader(e.onLeader)}}, nil
}

// newFeed builds this node's market-data feed, a node singleton: it
// publishes its venue's prices while the market is open, and answers on
// "quotes" what it published.
func (nd *node) newFeed(ctx context.Context, _ deploy.Spec, _ int) (deploy.Instance, error) {
	if nd.venue == "" {
		// The selector keeps the feed off nodes without a venue label: a
		// constructor that fails anyway says so to the deployer.
		return deploy.Instance{}, errors.New("this node has no venue")
	}
	if err := nd.afterStart(ctx); err != nil {
		return deploy.Instance{}, err
	}
	f := newFeed(nd.b, nd.name, nd.venue, nd.f.rate, nd.f.seed, nd.market)
	nd.mu.Lock()
	nd.feed = f
	nd.mu.Unlock()
	return deploy.Instance{Handler: f}, nil
}

// newBook builds the order book of one slot of the replicas. The slot
// names it: when its node dies, the slot runs again elsewhere.
func (nd *node) newBook(ctx context.Context, _ deploy.Spec, slot int) (deploy.Instance, error) {
	if err := nd.afterStart(ctx); err != nil {
		return deploy.Instance{}, err
	}
	return deploy.Instance{Handler: orderBook(nd.b, fmt.Sprintf("book-%d@%s", slot, nd.name))}, nil
}
