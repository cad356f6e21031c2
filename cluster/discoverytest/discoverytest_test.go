package discoverytest_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/discoverytest"
)

// The suite against an in-memory registry with every feature, so that the
// checks of Deregisters and NodeNames run without a Consul agent.
func TestRunInMemory(t *testing.T) {
	r := &registry{nodes: make(map[string]map[string]cluster.Peer)}
	discoverytest.Run(t, "memory", discoverytest.Harness{
		New: func(*testing.T, cluster.Registration, []cluster.Registration) cluster.Discovery {
			return &memDiscovery{r: r}
		},
		Failing: func(*testing.T) cluster.Discovery { return &memDiscovery{r: r, fail: true} },
	}, discoverytest.Features{Deregisters: true, NodeNames: true})
}

// registry is the shared state of memDiscovery: the registered nodes of each
// cluster, and a channel per running Discovery that is told of changes.
type registry struct {
	mu      sync.Mutex
	nodes   map[string]map[string]cluster.Peer // cluster -> address -> peer
	changed []chan struct{}
}

func (r *registry) set(c string, p cluster.Peer, present bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nodes[c] == nil {
		r.nodes[c] = make(map[string]cluster.Peer)
	}
	if present {
		r.nodes[c][p.Address] = p
	} else {
		delete(r.nodes[c], p.Address)
	}
	for _, ch := range r.changed {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (r *registry) peers(c string) []cluster.Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.SortedFunc(maps.Values(r.nodes[c]), func(a, b cluster.Peer) int {
		return strings.Compare(a.Address, b.Address)
	})
}

// memDiscovery registers its node in the registry and reports the cluster's
// nodes from a goroutine of its own.
type memDiscovery struct {
	r    *registry
	fail bool // Start fails

	mu      sync.Mutex
	used    bool
	self    cluster.Registration
	cancel  context.CancelFunc
	done    chan struct{}
	gate    chan struct{} // held while update runs
	stopped bool          // deregistered
}

func (d *memDiscovery) Start(_ context.Context, self cluster.Registration, update func([]cluster.Peer)) error {
	if d.fail {
		return errors.New("memory: unavailable")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.used {
		return errors.New("memory: already started or stopped")
	}
	d.used, d.self = true, self
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	d.r.mu.Lock()
	d.r.changed = append(d.r.changed, ch)
	d.r.mu.Unlock()
	d.r.set(self.Cluster, cluster.Peer{Node: self.Node, Address: self.Address()}, true)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done, d.gate = cancel, make(chan struct{}), make(chan struct{}, 1)
	go func() {
		defer close(d.done)
		for {
			select {
			case <-ch:
				d.gate <- struct{}{}
				if ctx.Err() == nil { // Stop has not begun
					update(d.r.peers(self.Cluster))
				}
				<-d.gate
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

func (d *memDiscovery) Stop(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.used = true
	if d.cancel == nil || d.stopped {
		return nil
	}
	d.cancel()
	select { // a call of update in progress
	case d.gate <- struct{}{}:
		<-d.gate
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-d.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.r.set(d.self.Cluster, cluster.Peer{Node: d.self.Node, Address: d.self.Address()}, false)
	d.stopped = true
	return nil
}
