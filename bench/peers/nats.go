package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// startServers starts n NATS servers on loopback with random ports; with
// more than one, the others route to the first and learn of each other from
// it (a full mesh). It returns once each server has routes to all the others.
func startServers(n int) ([]*server.Server, error) {
	var servers []*server.Server
	stop := func() {
		for _, s := range servers {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
	for i := range n {
		opts := &server.Options{ServerName: fmt.Sprintf("nats-%d", i+1), Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
		if n > 1 {
			opts.Cluster = server.ClusterOpts{Name: "bench", Host: "127.0.0.1", Port: -1}
			if i > 0 {
				opts.Routes = server.RoutesFromStr(fmt.Sprintf("nats://127.0.0.1:%d", servers[0].ClusterAddr().Port))
			}
		}
		s, err := server.NewServer(opts)
		if err != nil {
			stop()
			return nil, err
		}
		s.Start()
		servers = append(servers, s)
		if !s.ReadyForConnections(10 * time.Second) {
			stop()
			return nil, fmt.Errorf("nats server %d not ready in 10 s", i+1)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range servers {
		for n > 1 && peersOf(s) < n-1 {
			if time.Now().After(deadline) {
				stop()
				return nil, fmt.Errorf("nats server %s has routes to %d servers, want %d", s.Name(), peersOf(s), n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return servers, nil
}

// peersOf counts the distinct servers s has routes to (a pair of servers has
// a pool of several route connections).
func peersOf(s *server.Server) int {
	rz, err := s.Routez(nil)
	if err != nil {
		return 0
	}
	ids := map[string]bool{}
	for _, r := range rz.Routes {
		ids[r.RemoteID] = true
	}
	return len(ids)
}

// routeOutMsgs counts the messages s has sent over its routes.
func routeOutMsgs(s *server.Server) uint64 {
	rz, err := s.Routez(nil)
	if err != nil {
		return 0
	}
	var n int64
	for _, r := range rz.Routes {
		n += r.OutMsgs
	}
	return uint64(n)
}

func stopServers(servers []*server.Server) {
	for _, s := range servers {
		s.Shutdown()
	}
	for _, s := range servers {
		s.WaitForShutdown()
	}
}

const echoSubject = "bench.echo"

// runReqResp runs the request-reply table: requester on the first server,
// responder on the last.
func runReqResp(ctx context.Context, c config, out io.Writer, res *Results) error {
	servers, err := startServers(c.nodes)
	if err != nil {
		return err
	}
	defer stopServers(servers)
	resp, err := nats.Connect(servers[len(servers)-1].ClientURL())
	if err != nil {
		return err
	}
	defer resp.Close()
	if _, err := resp.Subscribe(echoSubject, func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		return err
	}
	if err := resp.Flush(); err != nil {
		return err
	}
	req, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		return err
	}
	defer req.Close()
	payload := make([]byte, c.payload)
	for i := range payload {
		payload[i] = 'x'
	}
	// The responder's interest reaches the first server over a route a
	// moment after it subscribed: until then requests find no responders.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := req.Request(echoSubject, payload, time.Second); err == nil {
			break
		} else if time.Now().After(deadline) {
			return fmt.Errorf("no reply through the servers in 10 s: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	call := func() error {
		_, err := req.Request(echoSubject, payload, c.timeout)
		return err
	}
	where := "1 server"
	if c.nodes == 3 {
		where = "3 servers clustered by routes: requester on server 1, responder on server 3"
	}
	section(out, fmt.Sprintf("NATS request-reply, %s (%d-byte payload)", where, c.payload))
	parCycles := 0
	for _, n := range c.cycles {
		parCycles = max(parCycles, n)
	}
	warm := min(2000, parCycles)
	for range warm {
		if err := call(); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	type spec struct{ callers, cycles int }
	var specs []spec
	for _, n := range c.cycles {
		specs = append(specs, spec{1, n})
	}
	for _, p := range c.par {
		specs = append(specs, spec{p, parCycles})
	}
	for i, s := range specs {
		row := runRow(ctx, s.callers, s.cycles, call)
		row.Parallel = i >= len(c.cycles)
		row.Nodes = c.nodes
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintln(out, rowLine(row))
		res.Rows = append(res.Rows, row)
	}
	return nil
}

// runRow runs cycles calls over callers goroutines and measures each.
func runRow(ctx context.Context, callers, cycles int, call func() error) Row {
	all := newHist()
	var mu sync.Mutex // guards all
	var next, errs atomic.Int64
	var first atomic.Value
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := newHist()
			defer func() {
				mu.Lock()
				all.Merge(h)
				mu.Unlock()
			}()
			for ctx.Err() == nil && next.Add(1) <= int64(cycles) {
				t0 := time.Now()
				if err := call(); err != nil {
					if errs.Add(1) == 1 {
						first.Store(err.Error())
					}
					continue
				}
				_ = h.RecordValue(min(time.Since(t0).Nanoseconds(), int64(time.Minute)))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	done := min(next.Load(), int64(cycles))
	r := Row{Path: "nats", Callers: callers, Cycles: int(done), Errors: errs.Load(), Seconds: elapsed.Seconds(),
		PerSec: float64(done-errs.Load()) / elapsed.Seconds(), Latency: latencyOf(all),
		CPUSeconds: cpu.Seconds(), AllCPUSeconds: cpu.Seconds()}
	if s, ok := first.Load().(string); ok {
		r.FirstError = s
	}
	return r
}

// Fan-out: subscriptions on the pattern, publications on the key; payloads
// carry the sequence number and the publication's wall-clock time.
const (
	fanoutKey     = "prices.nyse.AAPL"
	fanoutPattern = "prices.*.AAPL"
	stampSize     = 16
)

type doneEvent struct {
	seq int
	ts  int64
}

// runFanout runs the fan-out scenario: subscriptions spread over
// fanout-nodes servers, one connection per server, the publisher on the
// first server.
func runFanout(ctx context.Context, c config, out io.Writer, res *Results) error {
	setup := time.Now()
	m := c.fanoutNodes
	section(out, fmt.Sprintf("NATS fan-out: %d subscriptions on %d server(s), publisher on server 1 (%d-byte payload)", c.subscribers, m, max(c.payload, stampSize)))
	servers, err := startServers(m)
	if err != nil {
		return err
	}
	defer stopServers(servers)
	capacity := 1 + 2*c.pubs
	events := make(chan doneEvent, m*(capacity+1))
	f := FanoutResult{Nodes: m, Subscribers: c.subscribers, PayloadBytes: max(c.payload, stampSize), LatencyPublications: c.pubs, Publications: c.pubs}
	withSubs := 0
	for i := range m {
		share := c.subscribers / m
		if i < c.subscribers%m {
			share++
		}
		f.SubscribersPerNode = append(f.SubscribersPerNode, share)
		if share > 0 {
			withSubs++
			if i > 0 {
				f.WantPerPub++
			}
		}
	}
	var conns []*nats.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for i, share := range f.SubscribersPerNode {
		if share == 0 {
			continue
		}
		nc, err := nats.Connect(servers[i].ClientURL())
		if err != nil {
			return err
		}
		conns = append(conns, nc)
		counts := make([]atomic.Int64, capacity)
		for range share {
			_, err := nc.Subscribe(fanoutPattern, func(msg *nats.Msg) {
				if len(msg.Data) < stampSize {
					return
				}
				seq := int(binary.LittleEndian.Uint64(msg.Data))
				if seq < capacity && counts[seq].Add(1) == int64(share) {
					events <- doneEvent{seq, time.Now().UnixNano()}
				}
			})
			if err != nil {
				return err
			}
		}
		if err := nc.Flush(); err != nil {
			return err
		}
	}
	pub, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		return err
	}
	defer pub.Close()
	count := make([]int, capacity)
	last := make([]int64, capacity)
	wait := func(seq int, timeout time.Duration) (int64, error) {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		for count[seq] < withSubs {
			select {
			case e := <-events:
				count[e.seq]++
				last[e.seq] = max(last[e.seq], e.ts)
			case <-timer.C:
				return 0, fmt.Errorf("fan-out: publication %d reached %d of %d servers in %v", seq, count[seq], withSubs, timeout)
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		return last[seq], nil
	}
	publish := func(seq int) error {
		b := make([]byte, max(c.payload, stampSize))
		binary.LittleEndian.PutUint64(b, uint64(seq))
		binary.LittleEndian.PutUint64(b[8:], uint64(time.Now().UnixNano()))
		if err := pub.Publish(fanoutKey, b); err != nil {
			return err
		}
		return pub.Flush()
	}
	// Interest travels over routes a moment after subscribing: publish
	// sequence 0 until every server's subscribers have it. A server whose
	// count passes its share reports once only.
	warmDeadline := time.Now().Add(30 * time.Second)
	for {
		if err := publish(0); err != nil {
			return err
		}
		if _, err := wait(0, 200*time.Millisecond); err == nil {
			break
		} else if ctx.Err() != nil || time.Now().After(warmDeadline) {
			return err
		}
	}
	f.SetupSeconds = time.Since(setup).Seconds()
	routed0 := routeOutMsgs(servers[0])
	hist := newHist()
	for seq := 1; seq <= c.pubs; seq++ {
		sent := time.Now().UnixNano()
		if err := publish(seq); err != nil {
			return err
		}
		t, err := wait(seq, 2*time.Minute)
		if err != nil {
			return err
		}
		_ = hist.RecordValue(min(max(t-sent, 1), int64(time.Minute)))
	}
	f.Latency = latencyOf(hist)
	cpu0 := cpuTime()
	start := time.Now()
	for seq := c.pubs + 1; seq <= 2*c.pubs; seq++ {
		b := make([]byte, max(c.payload, stampSize))
		binary.LittleEndian.PutUint64(b, uint64(seq))
		binary.LittleEndian.PutUint64(b[8:], uint64(time.Now().UnixNano()))
		if err := pub.Publish(fanoutKey, b); err != nil {
			return err
		}
	}
	if err := pub.Flush(); err != nil {
		return err
	}
	var end int64
	for seq := c.pubs + 1; seq <= 2*c.pubs; seq++ {
		t, err := wait(seq, 2*time.Minute)
		if err != nil {
			return err
		}
		end = max(end, t)
	}
	f.CPUSeconds = (cpuTime() - cpu0).Seconds()
	f.AllCPUSeconds = f.CPUSeconds
	f.Seconds = time.Duration(end - start.UnixNano()).Seconds()
	f.DeliveriesPerSec = float64(c.pubs*c.subscribers) / f.Seconds
	f.NetworkMessages = routeOutMsgs(servers[0]) - routed0
	f.NetworkMessagesPerPub = float64(f.NetworkMessages) / float64(2*c.pubs)
	res.Fanout = &f
	fmt.Fprintln(out, fanoutLine(f))
	return nil
}
