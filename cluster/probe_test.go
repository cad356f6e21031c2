package cluster

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestVerifyProbe: after a connection broke, only a refused (or reset)
// dial confirms the peer dead. A dial that times out, as it can in a
// process that just resumed from a freeze, says nothing: before this rule
// a chaos run saw an authority resumed from SIGSTOP confirm three live
// peers dead and appoint a second leader at once.
func TestVerifyProbe(t *testing.T) {
	timeout := &os.SyscallError{Syscall: "connect", Err: syscall.ETIMEDOUT}
	refusedErr := fmt.Errorf("dial tcp: %w", &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED})
	resetErr := fmt.Errorf("dial tcp: %w", &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET})
	tests := []struct {
		name string
		// dials answers the probe's dials in order; the last one repeats.
		dials     []error
		reachable bool
		// atMost bounds the dials made.
		atMost int
	}{
		{"refused at once", []error{refusedErr}, false, 1},
		{"reset", []error{resetErr}, false, 1},
		{"accepts then refused (listener outlives the link)", []error{nil, nil, nil, refusedErr}, false, 4},
		{"times out", []error{timeout, context.DeadlineExceeded}, true, 1000},
		{"accepts throughout", []error{nil}, true, 1000},
		{"times out then refused", []error{context.DeadlineExceeded, refusedErr}, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			n := &Node{quit: make(chan struct{}), probes: make(chan probeResult, 1)}
			n.cfg.HeartbeatInterval = 50 * time.Millisecond
			n.probeCtx = context.Background()
			n.dialProbe = func(context.Context, string) error {
				i := int(calls.Add(1)) - 1
				return tc.dials[min(i, len(tc.dials)-1)]
			}
			n.wg.Add(1)
			n.probe(probeReq{addr: "peer", verify: true})
			r := <-n.probes
			if r.reachable != tc.reachable {
				t.Errorf("reachable = %v, want %v (after %d dials)", r.reachable, tc.reachable, calls.Load())
			}
			if c := int(calls.Load()); c > tc.atMost {
				t.Errorf("%d dials, want at most %d", c, tc.atMost)
			}
		})
	}
}

// TestPlainProbe: a probe before a heartbeat (not a verify) counts every
// failed dial as unreachable, as before: it only decides whether to send.
func TestPlainProbe(t *testing.T) {
	n := &Node{quit: make(chan struct{}), probes: make(chan probeResult, 1)}
	n.cfg.HeartbeatInterval = 50 * time.Millisecond
	n.probeCtx = context.Background()
	n.dialProbe = func(context.Context, string) error { return context.DeadlineExceeded }
	n.wg.Add(1)
	n.probe(probeReq{addr: "peer"})
	if r := <-n.probes; r.reachable {
		t.Error("a probe whose dial timed out counts as reachable")
	}
}
