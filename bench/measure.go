package main

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds, in nanoseconds: a cycle in process takes about a
// microsecond; anything past a minute has failed its deadline anyway.
const (
	histMin     = 1
	histMax     = int64(time.Minute)
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSigFigs) }

// Latency holds the percentiles of one row, in microseconds.
type Latency struct {
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
	Mean float64 `json:"mean_us"`
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return Latency{
		P50:  us(h.ValueAtQuantile(50)),
		P99:  us(h.ValueAtQuantile(99)),
		P999: us(h.ValueAtQuantile(99.9)),
		Max:  us(h.Max()),
		Mean: h.Mean() / 1e3,
	}
}

// Row is one line of a request-response table.
type Row struct {
	// Path tells what was measured: "bourse" (the exchange),
	// "raw-local" or "raw-remote" (protoactor RequestFuture), "nats".
	Path     string  `json:"path"`
	Nodes    int     `json:"nodes"`
	Callers  int     `json:"callers"` // 1 for a sequential row
	Parallel bool    `json:"parallel"`
	Cycles   int     `json:"cycles"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"cycles_per_sec"`
	Latency  Latency `json:"latency"`
	// CPUSeconds is the user+system CPU of this process during the row;
	// AllCPUSeconds adds the child processes' (equal to CPUSeconds on one
	// node).
	CPUSeconds    float64 `json:"cpu_seconds"`
	AllCPUSeconds float64 `json:"cpu_seconds_all_processes"`
	// FirstError is the first failure's message, if any.
	FirstError string `json:"first_error,omitempty"`
}

// Label is the row's name in charts and ratio tables: "seq 10000", "par 4".
func (r Row) Label() string {
	if r.Parallel {
		return fmt.Sprintf("par %d", r.Callers)
	}
	return fmt.Sprintf("seq %d", r.Cycles)
}

// cpuTime returns the user+system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rowSpec says what to run: cycles calls spread over callers goroutines.
type rowSpec struct {
	path     string
	nodes    int
	callers  int
	parallel bool
	cycles   int
}

// runRow runs spec.cycles calls of call over spec.callers goroutines, each
// taking the next cycle until none is left, and measures each call. call gets
// the caller's index. otherCPU, when not nil, returns the CPU used so far by
// the other processes of the run. tick, when not nil, is called now and then
// with the number of cycles done, for the progress display. The row stops
// early when ctx ends.
func runRow(ctx context.Context, spec rowSpec, call func(ctx context.Context, caller int) error,
	otherCPU func() time.Duration, tick func(done int)) Row {
	hists := make([]*hdrhistogram.Histogram, spec.callers)
	for i := range hists {
		hists[i] = newHist()
	}
	var next, errs atomic.Int64
	var firstErr atomic.Value
	var others0 time.Duration
	if otherCPU != nil {
		others0 = otherCPU()
	}
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range spec.callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hists[w]
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(spec.cycles) {
					return
				}
				t0 := time.Now()
				err := call(ctx, w)
				d := time.Since(t0)
				if err != nil {
					if errs.Add(1) == 1 {
						firstErr.Store(err.Error())
					}
					continue
				}
				_ = h.RecordValue(min(d.Nanoseconds(), histMax)) // never out of range after min
				if tick != nil && i%1024 == 0 {
					tick(int(i))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	all := cpu
	if otherCPU != nil {
		all += otherCPU() - others0
	}
	total := newHist()
	for _, h := range hists {
		total.Merge(h)
	}
	done := min(next.Load(), int64(spec.cycles))
	r := Row{
		Path: spec.path, Nodes: spec.nodes, Callers: spec.callers, Parallel: spec.parallel,
		Cycles: int(done), Errors: errs.Load(), Seconds: elapsed.Seconds(),
		PerSec:  float64(done-errs.Load()) / elapsed.Seconds(),
		Latency: latencyOf(total), CPUSeconds: cpu.Seconds(), AllCPUSeconds: all.Seconds(),
	}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstError = s
	}
	return r
}

// rowSpecs are the rows of a request-response table: the sequential ones,
// then the parallel ones.
func rowSpecs(c config, path string, nodes int) []rowSpec {
	var specs []rowSpec
	for _, n := range c.cycles {
		specs = append(specs, rowSpec{path: path, nodes: nodes, callers: 1, cycles: n})
	}
	for _, p := range c.par {
		specs = append(specs, rowSpec{path: path, nodes: nodes, callers: p, parallel: true, cycles: c.parCycles()})
	}
	return specs
}

// warmUp runs a few cycles unmeasured: the first calls of a run pay for
// connections, JIT-like caches and goroutine stacks.
func warmUp(ctx context.Context, c config, call func(ctx context.Context, caller int) error) error {
	n := min(2000, c.parCycles())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n && ctx.Err() == nil; i += 4 {
				if err := call(ctx, w); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("warm-up: %w", first)
	}
	return ctx.Err()
}
