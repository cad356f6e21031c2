package dispatch

import (
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestPoolRunsEverythingAndStops(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := New(2, 10)
	if p.Throughput() != 10 {
		t.Fatalf("throughput %d", p.Throughput())
	}
	var ran atomic.Int64
	var wg sync.WaitGroup
	const n = 10000
	wg.Add(n)
	for range n {
		// More work than workers: Schedule must overflow to new goroutines
		// rather than block.
		p.Schedule(func() { ran.Add(1); wg.Done() })
	}
	wg.Wait()
	if ran.Load() != n {
		t.Fatalf("ran %d of %d", ran.Load(), n)
	}
	p.Close()
	p.Close() // idempotent
	// After Close nothing is lost: work runs on its own goroutine.
	done := make(chan struct{})
	p.Schedule(func() { close(done) })
	<-done
}

func TestDefaults(t *testing.T) {
	p := New(0, 0)
	defer p.Close()
	if p.Throughput() != 300 {
		t.Fatalf("default throughput %d", p.Throughput())
	}
}
