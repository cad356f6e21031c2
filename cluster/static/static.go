package static

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/errs"
)

// ErrInvalidPeer means a peer address is not "host:port" with a port in
// 1..65535. Errors of Parse and Start are *errs.FieldError naming the bad
// entry ("static.Peers[2]"), and wrap it and errs.ErrInvalid.
var ErrInvalidPeer = errs.New("bourse: static: invalid peer address")

// ErrStarted means Start was called on a Discovery that was already started
// or stopped: a Discovery serves one node once.
var ErrStarted = errors.New("bourse: static: already started")

var _ cluster.Discovery = (*Discovery)(nil)

// Discovery reports a fixed list of peers. It starts no goroutine.
type Discovery struct {
	peers []string
	err   error // from New: reported by Start

	mu   sync.Mutex
	used bool // Start succeeded or Stop was called: Start fails from now on
}

// New returns a Discovery of peers ("host:port" each). It does not validate
// them: a malformed address makes Start fail. Use Parse to get the error at
// once.
func New(peers ...string) *Discovery {
	d, err := Parse(peers)
	if err != nil {
		return &Discovery{err: err}
	}
	return d
}

// Parse validates peers and returns a Discovery of them. Each must be
// "host:port" with a non-empty host and a numeric port in 1..65535; the error
// names the first bad entry by index. Duplicates are dropped, the order is
// kept. An empty list is valid: a node alone, until others contact it.
func Parse(peers []string) (*Discovery, error) {
	d := &Discovery{peers: make([]string, 0, len(peers))}
	for i, p := range peers {
		if err := validate(p); err != nil {
			return nil, &errs.FieldError{
				Field:   fmt.Sprintf("static.Peers[%d]", i),
				Problem: fmt.Sprintf("%q is not host:port with a port in 1..65535: %v", p, err),
				Err:     ErrInvalidPeer,
			}
		}
		if !slices.Contains(d.peers, p) {
			d.peers = append(d.peers, p)
		}
	}
	return d, nil
}

func validate(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("empty host")
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("port %q is not a number", port)
	}
	if n < 1 || n > 65535 {
		return fmt.Errorf("port %d out of range 1..65535", n)
	}
	return nil
}

// Peers returns the peer addresses, in the order given.
func (d *Discovery) Peers() []string { return slices.Clone(d.peers) }

// Start calls update once, synchronously, before it returns, with the peers
// (self may be among them; the node ignores it). It starts no goroutine and
// never calls update again. It fails with ErrInvalidPeer when New was given a
// malformed address, and with ErrStarted when called a second time or after
// Stop.
func (d *Discovery) Start(_ context.Context, _ cluster.Registration, update func([]cluster.Peer)) error {
	if d.err != nil {
		return d.err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.used {
		return ErrStarted
	}
	d.used = true
	peers := make([]cluster.Peer, len(d.peers))
	for i, a := range d.peers {
		peers[i] = cluster.Peer{Address: a}
	}
	update(peers)
	return nil
}

// Stop only makes a later Start fail: there is nothing to deregister and no
// goroutine to wait for. It returns nil, also when called again or without
// Start.
func (d *Discovery) Stop(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.used = true
	return nil
}
