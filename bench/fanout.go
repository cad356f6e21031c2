package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/bourse-go/bourse/actors"
)

// Fan-out exchange, routing key and subscription pattern.
const (
	fanoutExchange = "bench-fanout"
	fanoutKey      = "prices.nyse.AAPL"
	fanoutPattern  = "prices.*.AAPL"
)

// FanoutResult is the figures of the fan-out scenario.
type FanoutResult struct {
	Nodes              int   `json:"nodes"`
	Subscribers        int   `json:"subscribers"`
	SubscribersPerNode []int `json:"subscribers_per_node"`
	PayloadBytes       int   `json:"payload_bytes"`
	// Latency phase: publications one at a time, each waited for.
	LatencyPublications int     `json:"latency_publications"`
	Latency             Latency `json:"publication_to_last_delivery"`
	// Throughput phase: publications back to back, from the first
	// publication to the last delivery.
	Publications     int     `json:"publications"`
	Seconds          float64 `json:"seconds"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	// Network messages the publisher's node sent for all publications of the
	// run (Broker.Stats RemoteSent), per publication, and what R18 says it must
	// be: the number of other nodes with subscribers.
	NetworkMessages       uint64  `json:"network_messages"`
	NetworkMessagesPerPub float64 `json:"network_messages_per_publication"`
	WantPerPub            int     `json:"want_network_messages_per_publication"`
	CPUSeconds            float64 `json:"cpu_seconds"`
	AllCPUSeconds         float64 `json:"cpu_seconds_all_processes"`
	SetupSeconds          float64 `json:"setup_seconds"`
}

// fanoutWait collects the nodes' "done" events: one per node with
// subscribers per publication, with the time its last subscriber got it.
type fanoutWait struct {
	events <-chan message
	nodes  int     // nodes with subscribers
	count  []int   // by sequence number: nodes done
	last   []int64 // by sequence number: latest done time
}

// wait returns when every node with subscribers has delivered publication
// seq, with the time of the last delivery.
func (w *fanoutWait) wait(ctx context.Context, seq int) (int64, error) {
	timer := time.NewTimer(2 * time.Minute)
	defer timer.Stop()
	for w.count[seq] < w.nodes {
		select {
		case m := <-w.events:
			if m.Seq >= 0 && m.Seq < len(w.count) {
				w.count[m.Seq]++
				w.last[m.Seq] = max(w.last[m.Seq], m.TS)
			}
		case <-timer.C:
			return 0, fmt.Errorf("fan-out: publication %d reached %d of %d nodes in 2 minutes", seq, w.count[seq], w.nodes)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return w.last[seq], nil
}

// runFanout runs the fan-out scenario: cfg.subscribers subscribers spread
// over cfg.fanoutNodes nodes, one publisher on node 1.
func (r *runner) runFanout(ctx context.Context) (err error) {
	c := r.cfg
	title := fmt.Sprintf("pub-sub fan-out: %d subscribers on %d node(s), publisher on node 1 (%d-byte payload)", c.subscribers, c.fanoutNodes, max(c.payload, stampSize))
	r.section(title)
	setup := time.Now()
	capacity := 1 + 2*c.pubs // sequence 0 warms up
	r.status(fmt.Sprintf("starting %d node(s)", c.fanoutNodes))
	bc, err := startCluster(ctx, c.fanoutNodes, c.fanoutNodes*(capacity+1))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bc.stop()) }()
	b := bc.node.Broker()
	spec := actors.Spec{Name: fanoutExchange, Kind: actors.PubSub}
	if err := b.Declare(ctx, spec); err != nil {
		return err
	}
	if err := bc.each(ctx, "declare", "pub-sub", fanoutExchange); err != nil {
		return err
	}

	res := FanoutResult{Nodes: c.fanoutNodes, Subscribers: c.subscribers, PayloadBytes: max(c.payload, stampSize),
		LatencyPublications: c.pubs, Publications: c.pubs}
	withSubs := 0
	for i := range c.fanoutNodes {
		share := c.subscribers / c.fanoutNodes
		if i < c.subscribers%c.fanoutNodes {
			share++
		}
		res.SubscribersPerNode = append(res.SubscribersPerNode, share)
		if share > 0 {
			withSubs++
			if i > 0 {
				res.WantPerPub++
			}
		}
	}
	r.status(fmt.Sprintf("subscribing %d subscribers", c.subscribers))
	if err := r.subscribeAll(ctx, bc, res.SubscribersPerNode, capacity); err != nil {
		return err
	}
	if err := awaitRemoteSubscriptions(ctx, b, res.WantPerPub); err != nil {
		return err
	}
	res.SetupSeconds = time.Since(setup).Seconds()

	w := &fanoutWait{events: bc.events, nodes: withSubs, count: make([]int, capacity), last: make([]int64, capacity)}
	stats0, err := b.Stats(fanoutExchange)
	if err != nil {
		return err
	}
	publish := func(seq int) error {
		return b.Publish(ctx, fanoutExchange, fanoutKey, stampedPayload(seq, c.payload))
	}
	if err := publish(0); err != nil {
		return err
	}
	if _, err := w.wait(ctx, 0); err != nil {
		return err
	}
	r.status("latency phase")
	hist := newHist()
	for seq := 1; seq <= c.pubs; seq++ {
		sent := time.Now().UnixNano()
		if err := publish(seq); err != nil {
			return err
		}
		last, err := w.wait(ctx, seq)
		if err != nil {
			return err
		}
		_ = hist.RecordValue(min(max(last-sent, histMin), histMax)) // clamped into range
	}
	res.Latency = latencyOf(hist)

	r.status("throughput phase")
	others0 := bc.childCPU(ctx)
	cpu0 := cpuTime()
	start := time.Now()
	for seq := c.pubs + 1; seq <= 2*c.pubs; seq++ {
		if err := publish(seq); err != nil {
			return err
		}
	}
	var end int64
	for seq := c.pubs + 1; seq <= 2*c.pubs; seq++ {
		last, err := w.wait(ctx, seq)
		if err != nil {
			return err
		}
		end = max(end, last)
	}
	cpu := cpuTime() - cpu0
	res.CPUSeconds = cpu.Seconds()
	res.AllCPUSeconds = (cpu + bc.childCPU(ctx) - others0).Seconds()
	res.Seconds = time.Duration(end - start.UnixNano()).Seconds()
	res.DeliveriesPerSec = float64(c.pubs*c.subscribers) / res.Seconds

	stats1, err := b.Stats(fanoutExchange)
	if err != nil {
		return err
	}
	res.NetworkMessages = stats1.RemoteSent - stats0.RemoteSent
	res.NetworkMessagesPerPub = float64(res.NetworkMessages) / float64(capacity)
	r.res.Fanout = &res
	r.printFanout(res)
	if want := uint64(res.WantPerPub) * uint64(capacity); res.NetworkMessages != want {
		return fmt.Errorf("fan-out: node 1 sent %d network messages for %d publications, want %d (%d per publication: one per other node with subscribers)",
			res.NetworkMessages, capacity, want, res.WantPerPub)
	}
	return nil
}

// subscribeAll subscribes perNode[i] subscribers on node i+1, all nodes at
// once.
func (r *runner) subscribeAll(ctx context.Context, bc *benchCluster, perNode []int, capacity int) error {
	errs := make([]error, len(perNode))
	var wg sync.WaitGroup
	for i, n := range perNode {
		if n == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				t := newTracker(n, capacity, func(seq int, ts int64) {
					select {
					case bc.events <- message{Event: "done", Seq: seq, TS: ts}:
					case <-bc.quit:
					}
				})
				errs[i] = subscribeMany(ctx, bc.node.Broker(), fanoutExchange, fanoutPattern, n, t)
				return
			}
			_, errs[i] = bc.procs[i-1].call(ctx, "subscribe", fanoutExchange, fanoutPattern, strconv.Itoa(n), strconv.Itoa(capacity))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// awaitRemoteSubscriptions waits until node 1's routing table lists the
// subscriptions of n other nodes: publications go out only to nodes it
// lists.
func awaitRemoteSubscriptions(ctx context.Context, b *actors.Broker, n int) error {
	if err := awaitRemoteSubscriptionsOf(ctx, b, fanoutExchange, n); err != nil {
		return fmt.Errorf("fan-out: %w", err)
	}
	return nil
}
