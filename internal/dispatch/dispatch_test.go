package dispatch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
		// More work than workers: Schedule queues it, never blocks.
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

// TestBlockedWorkersDoNotStarveTheQueue blocks every worker on work that
// only queued work can release: the pool must start more goroutines.
func TestBlockedWorkersDoNotStarveTheQueue(t *testing.T) {
	defer goleak.VerifyNone(t)
	const workers = 2
	p := New(workers, 0)
	defer p.Close()
	release := make(chan struct{})
	for range workers + 3 { // more blocked than workers: helpers block too
		p.Schedule(func() { <-release })
	}
	done := make(chan struct{})
	p.Schedule(func() { close(release); close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("queued work never ran while every worker was blocked")
	}
}

// TestConcurrentSchedulers schedules from many goroutines at once while
// workers run, then closes: everything scheduled before Close runs.
// (Order between mailbox runs is not the pool's to keep: a mailbox is never
// scheduled twice at once.)
func TestConcurrentSchedulers(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := New(1, 0)
	var ran atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				p.Schedule(func() { ran.Add(1) })
			}
		}()
	}
	wg.Wait()
	p.Close() // runs what is queued first
	if ran.Load() != 8*2000 {
		t.Fatalf("ran %d of %d", ran.Load(), 8*2000)
	}
}

func TestDefaults(t *testing.T) {
	p := New(0, 0)
	defer p.Close()
	if p.Throughput() != 300 {
		t.Fatalf("default throughput %d", p.Throughput())
	}
	if p.Workers() != 1 {
		t.Fatalf("workers %d for New(0, 0), want 1", p.Workers())
	}
}

// TestWorkers: a pool of n workers parks n goroutines waiting for work,
// and Workers reports n.
func TestWorkers(t *testing.T) {
	for _, n := range []int{1, 3, 17} {
		p := New(n, 0)
		if p.Workers() != n {
			t.Errorf("New(%d, 0).Workers() = %d", n, p.Workers())
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			p.mu.Lock()
			idle := p.idle
			p.mu.Unlock()
			if idle > n {
				t.Fatalf("New(%d, 0): %d workers waiting", n, idle)
			}
			if idle == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("New(%d, 0): %d workers waiting after 10s, want %d", n, idle, n)
			}
			time.Sleep(time.Millisecond)
		}
		p.Close()
	}
}

// TestStopHonoursContext stops a pool whose worker runs work that does not
// return: Stop gives up when its context ends, and the worker ends by itself
// once the work returns.
func TestStopHonoursContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := New(1, 0)
	release, running := make(chan struct{}), make(chan struct{})
	p.Schedule(func() { close(running); <-release })
	<-running
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want DeadlineExceeded", err)
	}
	close(release)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop = %v", err)
	}
}
