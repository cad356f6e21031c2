package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
)

// The local-first scenario (issue 14): 3 nodes (this process and two
// children), one handler of each exchange on every node, callers on node 1.
// The share each node served is counted by the handlers themselves (the
// "served" command reads a child's counter), not inferred from replies.
//
//   - idle: one caller in turn, so node 1's handler always has room: all
//     must be served on node 1.
//   - saturated: -lf-callers callers on node 1, each handler doing -lf-work
//     of work per request (concurrency 1): node 1's handler cannot keep up,
//     and local-first spills; the same load on round-robin for comparison.
//   - overloaded: a handler with no queue, busy with one request; every
//     other request must fail with ErrOverloaded at once. Time to fail,
//     with the handler on node 1 and on node 2.

// LocalFirstResult is what the scenario measured.
type LocalFirstResult struct {
	Idle       LoadRow      `json:"idle"`
	Saturated  []LoadRow    `json:"saturated"`
	Overloaded []FailTiming `json:"overloaded"`
}

// LoadRow is one strategy under one load.
type LoadRow struct {
	Strategy string `json:"strategy"`
	Callers  int    `json:"callers"`
	Requests int    `json:"requests"`
	// Served is what each node's handler counted, node 1 first.
	Served     []int64 `json:"served"`
	LocalShare float64 `json:"local_share"`
	Latency    Latency `json:"latency"`
	Errors     int     `json:"errors"`
}

// FailTiming is how long requests to a full handler took to fail.
type FailTiming struct {
	HandlerNode int     `json:"handler_node"`
	Requests    int     `json:"requests"`
	Overloaded  int     `json:"overloaded"` // failed with ErrOverloaded
	Latency     Latency `json:"time_to_fail"`
}

// served counts the requests the counted handlers of each exchange served
// in this process.
var served sync.Map // exchange name -> *atomic.Int64

func servedCounter(name string) *atomic.Int64 {
	c, _ := served.LoadOrStore(name, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// serveCounted connects one handler to name that works for work per
// request (sleeping: the handler's goroutine is busy, as with I/O), counts
// it, and answers with the payload. queue < 0 keeps the node's default
// queue.
func serveCounted(ctx context.Context, b *actors.Broker, name string, work time.Duration, queue int) error {
	n := servedCounter(name)
	var opts []actors.ServeOption
	if queue >= 0 {
		opts = append(opts, actors.WithConnectOptions(actors.QueueLimit(queue)))
	}
	_, err := b.Serve(ctx, name, actors.HandlerFunc(func(_ context.Context, r *actors.Request) (proto.Message, error) {
		if work > 0 {
			time.Sleep(work)
		}
		n.Add(1)
		return r.Payload, nil
	}), opts...)
	return err
}

// runLocalFirst runs the scenario on a cluster of its own.
func (r *runner) runLocalFirst(ctx context.Context) (err error) {
	c := r.cfg
	r.status("starting 3 nodes")
	bc, err := startCluster(ctx, 3, 16)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bc.stop()) }()
	b := bc.node.Broker()
	res := &LocalFirstResult{}
	r.res.LocalFirst = res
	r.section(fmt.Sprintf("local-first, 3 nodes, one handler per node, callers on node 1 (%d-byte payload)", c.payload))

	// setup declares an exchange whose authority is on node 1 (it stops
	// last), and serves a counted handler on the given nodes.
	setup := func(prefix, strategy string, params map[string]any, work time.Duration, queue int, nodes ...int) (string, error) {
		name, err := bc.pickName(prefix, bc.addr(1))
		if err != nil {
			return "", err
		}
		if err := b.Declare(ctx, actors.Spec{Name: name, Kind: actors.ReqResp, Strategy: strategy, Params: params}); err != nil {
			return "", err
		}
		if err := bc.each(ctx, "declare", "req-resp", name, strategy); err != nil {
			return "", err
		}
		for _, n := range nodes {
			if n == 1 {
				err = serveCounted(ctx, b, name, work, queue)
			} else {
				_, err = bc.procs[n-2].call(ctx, "serve-counted", name, work.String(), strconv.Itoa(queue))
			}
			if err != nil {
				return "", err
			}
		}
		return name, awaitHandlers(ctx, b, name, len(nodes))
	}
	servedBy := func(name string) ([]int64, error) {
		out := []int64{servedCounter(name).Load()}
		for _, p := range bc.procs {
			s, err := p.call(ctx, "served", name)
			if err != nil {
				return nil, err
			}
			n, _ := strconv.ParseInt(s, 10, 64)
			out = append(out, n)
		}
		return out, nil
	}
	load := func(strategy, name string, callers, requests int) (LoadRow, error) {
		row := LoadRow{Strategy: strategy, Callers: callers, Requests: requests}
		lat, errs := drive(ctx, b, name, c, callers, requests)
		row.Latency, row.Errors = durationsLatency(lat), errs
		var err error
		if row.Served, err = servedBy(name); err != nil {
			return row, err
		}
		var total int64
		for _, s := range row.Served {
			total += s
		}
		if total > 0 {
			row.LocalShare = float64(row.Served[0]) / float64(total)
		}
		return row, nil
	}

	// Idle: one caller in turn.
	r.status("local-first: idle")
	name, err := setup("lf-idle", "local-first", nil, 0, -1, 1, 2, 3)
	if err != nil {
		return err
	}
	if res.Idle, err = load("local-first", name, 1, c.lfRequests); err != nil {
		return err
	}
	fmt.Fprintln(r.out, loadLine("idle local handlers", res.Idle))

	// Saturated: many callers, handlers that work.
	for _, s := range []string{"local-first", "round-robin"} {
		r.status("saturated: " + s)
		name, err := setup("sat-"+s, s, nil, c.lfWork, -1, 1, 2, 3)
		if err != nil {
			return err
		}
		row, err := load(s, name, c.lfCallers, c.lfRequests)
		if err != nil {
			return err
		}
		res.Saturated = append(res.Saturated, row)
		fmt.Fprintln(r.out, loadLine(fmt.Sprintf("saturated (%v of work per request)", c.lfWork), row))
	}

	// Overloaded: a handler with no queue, kept busy by one request.
	for _, node := range []int{1, 2} {
		r.status(fmt.Sprintf("overloaded handler on node %d", node))
		// Longer than the measurement, even at a millisecond a request.
		hold := time.Second + time.Duration(c.lfRequests)*time.Millisecond
		name, err := setup(fmt.Sprintf("ov-%d", node), "round-robin", nil, hold, 0, node)
		if err != nil {
			return err
		}
		ft, err := timeToFail(ctx, b, name, c, node, hold)
		if err != nil {
			return err
		}
		res.Overloaded = append(res.Overloaded, ft)
		fmt.Fprintln(r.out, failLine(ft))
	}
	return nil
}

// drive sends requests to name from callers goroutines and returns each
// request's latency and the number that failed.
func drive(ctx context.Context, b *actors.Broker, name string, c config, callers, requests int) ([]time.Duration, int) {
	payload := newPayload(c.payload)
	lat := make([]time.Duration, requests)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= requests || ctx.Err() != nil {
					return
				}
				start := time.Now()
				if _, err := b.Request(ctx, name, payload, actors.WithTimeout(c.timeout)); err != nil {
					failed.Add(1)
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	return lat, int(failed.Load())
}

// timeToFail keeps the handler of name (on node) busy with one request,
// then measures how long each of -lf-requests requests takes to fail.
func timeToFail(ctx context.Context, b *actors.Broker, name string, c config, node int, hold time.Duration) (FailTiming, error) {
	ft := FailTiming{HandlerNode: node, Requests: c.lfRequests}
	payload := newPayload(c.payload)
	done := make(chan error, 1)
	go func() {
		// Until it gets in: a request of the loop below may have got in
		// first, and keeps the handler busy meanwhile.
		for {
			_, err := b.Request(ctx, name, payload, actors.WithTimeout(hold+c.timeout))
			if !errors.Is(err, actors.ErrOverloaded) || ctx.Err() != nil {
				done <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	// The busy request is on its way; the first ErrOverloaded says it
	// arrived.
	time.Sleep(50 * time.Millisecond)
	deadline := time.Now().Add(c.timeout + 2*hold)
	for {
		_, err := b.Request(ctx, name, payload, actors.WithTimeout(c.timeout))
		if errors.Is(err, actors.ErrOverloaded) {
			break
		}
		if time.Now().After(deadline) {
			return ft, fmt.Errorf("%s: the handler on node %d never became full (last: %v)", name, node, err)
		}
		time.Sleep(time.Millisecond)
	}
	lat := make([]time.Duration, 0, c.lfRequests)
	for range c.lfRequests {
		start := time.Now()
		_, err := b.Request(ctx, name, payload, actors.WithTimeout(c.timeout))
		lat = append(lat, time.Since(start))
		if errors.Is(err, actors.ErrOverloaded) {
			ft.Overloaded++
		}
	}
	ft.Latency = durationsLatency(lat)
	if err := <-done; err != nil {
		return ft, fmt.Errorf("%s: the busy request: %w", name, err)
	}
	return ft, nil
}

// durationsLatency summarises durations in microseconds.
func durationsLatency(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	us := func(x time.Duration) float64 { return float64(x.Nanoseconds()) / 1e3 }
	at := func(q float64) float64 { return us(s[min(len(s)-1, int(q*float64(len(s))))]) }
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	return Latency{P50: at(0.5), P99: at(0.99), P999: at(0.999), Max: us(s[len(s)-1]), Mean: us(sum / time.Duration(len(s)))}
}

func loadLine(what string, r LoadRow) string {
	return fmt.Sprintf("%s, %s, %d caller(s), %d requests: served node1 %d node2 %d node3 %d: %.1f%% local, %.1f%% spilled  p50 %s p99 %s  errors %d",
		what, r.Strategy, r.Callers, r.Requests, r.Served[0], r.Served[1], r.Served[2],
		100*r.LocalShare, 100*(1-r.LocalShare), fmtUS(r.Latency.P50), fmtUS(r.Latency.P99), r.Errors)
}

func failLine(f FailTiming) string {
	return fmt.Sprintf("overloaded handler on node %d: %d of %d requests failed with ErrOverloaded, time to fail p50 %s p99 %s max %s",
		f.HandlerNode, f.Overloaded, f.Requests, fmtUS(f.Latency.P50), fmtUS(f.Latency.P99), fmtUS(f.Latency.Max))
}

// fmtUS prints microseconds readably.
func fmtUS(us float64) string {
	if us >= 1000 {
		return strconv.FormatFloat(us/1000, 'f', 2, 64) + "ms"
	}
	if us < 10 {
		return strconv.FormatFloat(us, 'f', 1, 64) + "µs"
	}
	return strconv.FormatFloat(us, 'f', 0, 64) + "µs"
}
