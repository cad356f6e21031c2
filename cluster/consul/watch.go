package consul

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/bourse-go/bourse/cluster"
)

// Back-off between failed watch queries.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// watch follows the passing instances of service with blocking queries until
// ctx (cancelled by Stop) ends, calling update after the first answer and
// whenever the peers change. Failed queries are retried with back-off; the
// first failure, every logEvery after it, and the recovery are logged.
func (d *Discovery) watch(ctx context.Context, service string, update func([]cluster.Peer), log *slog.Logger) {
	var (
		index        uint64
		last         []cluster.Peer
		delivered    bool
		backoff      time.Duration
		failingSince time.Time
		lastLog      time.Time
	)
	for {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: d.cfg.WaitTime}).WithContext(ctx)
		entries, meta, err := d.client.Health().Service(service, "", true, q)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		if err != nil {
			switch {
			case failingSince.IsZero():
				failingSince, lastLog = now, now
				log.Warn("consul: cannot watch peers; retrying", slog.Any("err", err))
			case now.Sub(lastLog) >= logEvery:
				lastLog = now
				log.Warn("consul: still cannot watch peers; retrying", slog.Any("err", err),
					slog.Duration("failing_for", now.Sub(failingSince).Round(time.Second)))
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		if !failingSince.IsZero() {
			log.Info("consul: watching peers again",
				slog.Duration("failed_for", now.Sub(failingSince).Round(time.Millisecond)))
			failingSince = time.Time{}
		}
		backoff = 0
		index = nextIndex(index, meta.LastIndex)

		peers := toPeers(entries)
		if delivered && slices.Equal(peers, last) {
			continue
		}
		if !d.deliver(ctx, update, peers) {
			return
		}
		last, delivered = peers, true
	}
}

// nextIndex is the WaitIndex for the next blocking query, following Consul's
// rules for blocking queries: start over when the index goes backwards (the
// agent's state was reset), and never block on index 0, which returns at
// once.
func nextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		return 0
	case got == 0:
		return 1
	}
	return got
}

// toPeers turns Consul's instances into peers sorted by address. An instance
// without its own address listens on its Consul node's.
func toPeers(entries []*api.ServiceEntry) []cluster.Peer {
	peers := make([]cluster.Peer, 0, len(entries))
	for _, e := range entries {
		if e == nil || e.Service == nil {
			continue
		}
		host := e.Service.Address
		if host == "" && e.Node != nil {
			host = e.Node.Address
		}
		peers = append(peers, cluster.Peer{
			Node:    e.Service.Meta[metaNode],
			Address: net.JoinHostPort(host, strconv.Itoa(e.Service.Port)),
		})
	}
	slices.SortFunc(peers, func(a, b cluster.Peer) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), strings.Compare(a.Node, b.Node))
	})
	return peers
}

// sleep waits for d or ctx; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
